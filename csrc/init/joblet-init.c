/* joblet-init: PID 1 of every job, exec'd from a sealed memfd by libjoblet once the sandbox is
 * built (already unprivileged, under seccomp). It runs the job's command as its child, forwards
 * signals to it, reaps orphans, and exits with the command's status (128 + n for a signal death);
 * the kernel then kills whatever is left in the job's pid namespace.
 *
 *   joblet-init <report-fd> -- command [args...]      (environment: the job's)
 *
 * The command is looked up in the job's PATH like execvp does. If it cannot be executed, a
 * struct joblet_report goes to <report-fd> and init exits 127 (126 when it is not executable).
 * On success the report fd is closed by the exec, which the daemon reads as "running". */
#include "../joblet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report(int fd, int stage, int err) {
    struct joblet_report r = {JOBLET_REPORT_MAGIC, stage, err, -1};
    ssize_t w = write(fd, &r, sizeof r);
    (void)w;
}

static const char *path_of(void) {
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) return *e + 5;
    return "/usr/local/bin:/usr/bin:/bin";
}

/* execvp without its fallbacks (no /bin/sh retry): returns only on failure, with the reason. */
static void run_command(int report_fd, char **argv) {
    const char *cmd = argv[0];
    if (strchr(cmd, '/')) {
        execve(cmd, argv, environ);
        int e = errno;
        report(report_fd, e == ENOENT ? JOBLET_STAGE_NOT_FOUND : JOBLET_STAGE_EXEC, e);
        _exit(e == EACCES ? 126 : 127);
    }
    int denied = 0;
    char full[PATH_MAX];
    for (const char *dir = path_of(); dir;) {
        const char *end = strchr(dir, ':');
        size_t n = end ? (size_t)(end - dir) : strlen(dir);
        if (n == 0) { /* an empty PATH entry means the current directory */
            dir = ".";
            n = 1;
        }
        if (n + 1 + strlen(cmd) + 1 <= sizeof full) {
            memcpy(full, dir, n);
            full[n] = '/';
            strcpy(full + n + 1, cmd);
            execve(full, argv, environ);
            if (errno == EACCES) denied = 1;
            else if (errno != ENOENT && errno != ENOTDIR) {
                int e = errno;
                report(report_fd, JOBLET_STAGE_EXEC, e);
                _exit(126);
            }
        }
        dir = end ? end + 1 : NULL;
    }
    report(report_fd, denied ? JOBLET_STAGE_EXEC : JOBLET_STAGE_NOT_FOUND, denied ? EACCES : ENOENT);
    _exit(denied ? 126 : 127);
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) return 127;
    int report_fd = atoi(argv[1]);
    /* Not dumpable: the job (same uid) cannot read this process's memory or /proc/1 entries. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL); /* already blocked by libjoblet; waited for below */

    pid_t child = fork();
    if (child < 0) {
        report(report_fd, JOBLET_STAGE_FORK, errno);
        return 127;
    }
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fcntl(report_fd, F_SETFD, FD_CLOEXEC) < 0) _exit(127);
        run_command(report_fd, &argv[3]);
    }
    close(report_fd);

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) continue;
        if (sig == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid == child) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            }
        } else if (sig == SIGTERM) {
            /* stop: every process of the job gets it (daemons, double-forked, setsid'd) */
            kill(-1, SIGTERM);
        } else if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) {
            kill(child, sig);
        }
    }
}
