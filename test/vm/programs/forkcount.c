/* forkcount [MAX]: forks children until fork fails (or MAX children exist, default 100000),
 * keeps them all alive for about 1 s more (so pids.current can be read), then releases and
 * reaps them and prints
 *   forked=N errno=NAME     (NAME is e.g. EAGAIN, or "none" when MAX was reached)
 * The children wait on a pipe: they exit as soon as the parent closes it or dies. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long max = argc > 1 ? atol(argv[1]) : 100000;
    int fds[2];
    if (max <= 0 || pipe(fds) != 0) {
        fprintf(stderr, "usage: forkcount [MAX]\n");
        return 2;
    }
    fflush(stdout);
    long n = 0;
    int err = 0;
    while (n < max) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            char c;
            close(fds[1]);
            while (read(fds[0], &c, 1) < 0 && errno == EINTR) {}
            _exit(0);
        }
        n++;
    }
    sleep(1);
    close(fds[1]); /* release the children */
    while (wait(NULL) > 0 || errno == EINTR) {}
    const char *name = err ? strerrorname_np(err) : "none";
    printf("forked=%ld errno=%s\n", n, name ? name : "E?");
    return 0;
}
