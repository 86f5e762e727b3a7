/* netns.c: a pool of empty network namespaces (loopback up), created ahead of time by a
 * background thread. Creating a network namespace is the most expensive step of a job's start
 * (~1 ms here); taking a ready one moves it off the start path. Each namespace is used once. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define POOL_MAX 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wanted = PTHREAD_COND_INITIALIZER;
static int pool[POOL_MAX];
static int count;
static int target; /* 0: no pool */

/* A new network namespace for this (dedicated) thread, with lo up; returns its fd or -errno. */
static int create_one(void) {
    if (unshare(CLONE_NEWNET) < 0) return -errno;
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int ok = sk >= 0 && ioctl(sk, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags |= IFF_UP, ioctl(sk, SIOCSIFFLAGS, &ifr) == 0);
    int e = errno;
    if (sk >= 0) close(sk);
    if (!ok) {
        close(fd);
        return -e;
    }
    return fd;
}

static void *fill(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count >= target) pthread_cond_wait(&wanted, &lock);
        pthread_mutex_unlock(&lock);
        int fd = create_one();
        if (fd < 0) { /* e.g. out of namespaces: retry later, jobs fall back to creating their own */
            sleep(1);
            continue;
        }
        pthread_mutex_lock(&lock);
        pool[count++] = fd;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int joblet_netns_pool_start(int size) {
    if (size <= 0 || size > POOL_MAX) return -EINVAL;
    pthread_mutex_lock(&lock);
    int running = target > 0;
    target = size;
    pthread_mutex_unlock(&lock);
    if (running) return 0;
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&t, NULL, fill, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) return -r;
    pthread_detach(t);
    return 0;
}

int joblet_netns_take(void) {
    pthread_mutex_lock(&lock);
    int fd = count > 0 ? pool[--count] : -EAGAIN;
    pthread_cond_signal(&wanted);
    pthread_mutex_unlock(&lock);
    return fd;
}
