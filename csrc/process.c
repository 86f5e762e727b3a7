/* process.c: the daemon's handles on running jobs: pidfd signals, non-blocking reaping, an exit
 * watcher thread, and the sealed memfd joblet-init is exec'd from. Parent side. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

int joblet_sealed_memfd(const char *name, const uint8_t *bytes, size_t len) {
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, bytes + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            return -e;
        }
        off += (size_t)w;
    }
    /* Sealed: not even root in the daemon can change it now, and a job cannot rewrite its own
     * init through /proc/1/exe (CVE-2019-5736). */
    if (fchmod(fd, 0555) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int joblet_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int joblet_reap(int pidfd, int32_t *status) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0) return -errno;
    if (si.si_pid == 0) return 0; /* still running */
    *status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    return 1;
}

static int epfd = -1;
static int notify_wr = -1;

static void *watch_loop(void *unused) {
    (void)unused;
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(epfd, events, 64, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return NULL;
        for (int i = 0; i < n; i++) {
            int32_t fd = (int32_t)events[i].data.fd;
            ssize_t w;
            do w = write(notify_wr, &fd, sizeof fd); while (w < 0 && errno == EINTR);
        }
    }
}

int joblet_watch_start(void) {
    if (epfd >= 0) return -EALREADY;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -errno;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    notify_wr = p[1];
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the watcher never handles the daemon's signals */
    int r = pthread_create(&t, NULL, watch_loop, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        close(p[0]);
        close(p[1]);
        close(epfd);
        epfd = notify_wr = -1;
        return -r;
    }
    pthread_detach(t);
    return p[0];
}

int joblet_watch_add(int pidfd) {
    /* one-shot: a pidfd becomes readable once, when its process exits; the daemon closes it after */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = pidfd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0 ? -errno : 0;
}

int joblet_lifeline(void) {
    static int read_end = -1;
    if (read_end >= 0) return read_end;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -errno;
    read_end = p[0]; /* p[1] is deliberately leaked: it closes only when the daemon exits */
    return read_end;
}
