/* spawner.c: joblet_spawn on threads of its own. With CLONE_VFORK the calling thread waits while
 * the child builds the sandbox (mounts, pivot_root, cgroup joins that wait for RCU grace
 * periods), and clone itself copies the mount table: milliseconds per job. Called from the
 * daemon's event loop, that wait would hold every other request; on these threads, starts
 * overlap one another and the event loop keeps serving. Results come back as fixed-size records
 * on a pipe the daemon reads as a stream (like the exit watcher's, process.c). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(struct joblet_spawn_result) == 256, "the record layout src/ffi/libjoblet.ts reads");

struct request {
    struct request *next;
    uint32_t token;
    size_t len;
    uint8_t spec[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static struct request *head, *tail;
static int result_wr = -1;

static void *spawn_loop(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!head) pthread_cond_wait(&ready, &mu);
        struct request *r = head;
        head = r->next;
        if (!head) tail = NULL;
        pthread_mutex_unlock(&mu);

        struct joblet_spawn_result res;
        memset(&res, 0, sizeof res);
        struct joblet_proc p;
        res.token = r->token;
        res.rc = joblet_spawn(r->spec, r->len, &p, res.err, sizeof res.err);
        res.pid = p.pid;
        res.pidfd = p.pidfd;
        res.report_fd = p.report_fd;
        free(r);
        /* smaller than PIPE_BUF: each record is written whole, never interleaved with another */
        ssize_t w;
        do w = write(result_wr, &res, sizeof res); while (w < 0 && errno == EINTR);
    }
    return NULL;
}

int joblet_spawner_start(int threads) {
    if (result_wr >= 0) return -EALREADY;
    if (threads < 1 || threads > 64) return -EINVAL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -errno;
    result_wr = p[1];
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the spawners never handle the daemon's signals */
    int started = 0, r = 0;
    for (; started < threads; started++) {
        pthread_t t;
        if ((r = pthread_create(&t, NULL, spawn_loop, NULL)) != 0) break;
        pthread_detach(t);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0) {
        close(p[0]);
        close(p[1]);
        result_wr = -1;
        return -r;
    }
    return p[0];
}

int joblet_spawn_submit(const uint8_t *spec, size_t len, uint32_t token) {
    if (result_wr < 0) return -ENOTCONN;
    struct request *r = malloc(sizeof *r + len); /* a copy: the caller's buffer may go at once */
    if (!r) return -ENOMEM;
    r->next = NULL;
    r->token = token;
    r->len = len;
    memcpy(r->spec, spec, len);
    pthread_mutex_lock(&mu);
    if (tail) tail->next = r;
    else head = r;
    tail = r;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&mu);
    return 0;
}
