/* joblet-init: PID 1 of every job, exec'd from a sealed memfd by libjoblet once the sandbox is
 * built (already unprivileged, under seccomp). It runs the job's command as its child, forwards
 * signals to it, reaps orphans, writes the job's output to its log file, and exits with the
 * command's status (128 + n for a signal death).
 *
 *   joblet-init <log limit> -- command [args...]      (environment: the job's)
 *
 * Its fds are fixed by libjoblet (enum joblet_init_fd in joblet.h): 0 /dev/null, 1 and 2 the
 * write end of the output pipe (handed to the command), then the report pipe, the output pipe's
 * read end, the log file and the lifeline. The command gets only 0, 1 and 2.
 *
 * The output is copied here, not in the daemon, so it reaches the log even when the daemon dies:
 * on lifeline EOF init kills the job, drains the pipe into the log and exits. When the command
 * exits, whatever it left running is killed and the pipe is drained too, so the log is complete
 * when init exits. Reports (struct joblet_report) go to fd 3: a failure to run the command, or
 * RUNNING once it is exec'd, then events (log truncated, log write failed, orphaned). */
#include "../joblet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report(int fd, int stage, int err) {
    struct joblet_report r = {JOBLET_REPORT_MAGIC, stage, err, -1};
    ssize_t w;
    do w = write(fd, &r, sizeof r); while (w < 0 && errno == EINTR);
}

static const char *path_of(void) {
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) return *e + 5;
    return "/usr/local/bin:/usr/bin:/bin";
}

/* execvp without its fallbacks (no /bin/sh retry): returns only on failure, with the reason
 * written to `fd` (close-on-exec, so a successful exec closes it instead). */
static void run_command(int fd, char **argv) {
    const char *cmd = argv[0];
    if (strchr(cmd, '/')) {
        execve(cmd, argv, environ);
        int e = errno;
        report(fd, e == ENOENT ? JOBLET_STAGE_NOT_FOUND : JOBLET_STAGE_EXEC, e);
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
                report(fd, JOBLET_STAGE_EXEC, e);
                _exit(126);
            }
        }
        dir = end ? end + 1 : NULL;
    }
    report(fd, denied ? JOBLET_STAGE_EXEC : JOBLET_STAGE_NOT_FOUND, denied ? EACCES : ENOENT);
    _exit(denied ? 126 : 127);
}

/* ---- the log ---------------------------------------------------------------------------------- */

static unsigned long long log_limit; /* 0: none */
static unsigned long long log_written;
static int log_truncated, log_failed;

static void log_write(const char *buf, size_t len) {
    while (len > 0 && !log_failed) {
        ssize_t w = write(JOBLET_FD_LOG, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { /* e.g. ENOSPC: the job keeps running, its output is dropped */
            log_failed = 1;
            report(JOBLET_FD_REPORT, JOBLET_EVENT_LOG_FAILED, w < 0 ? errno : EIO);
            return;
        }
        buf += w;
        len -= (size_t)w;
        log_written += (unsigned long long)w;
    }
}

static void log_output(const char *buf, size_t len) {
    if (log_truncated || log_failed) return;
    if (log_limit && log_written + len > log_limit) {
        log_write(buf, (size_t)(log_limit - log_written));
        log_truncated = 1;
        char note[96];
        int n = snprintf(note, sizeof note, "\n[joblet: output exceeded %llu bytes; the rest was discarded]\n", log_limit);
        log_limit = 0; /* the note itself is not counted */
        log_write(note, (size_t)n);
        report(JOBLET_FD_REPORT, JOBLET_EVENT_LOG_TRUNCATED, 0);
        return;
    }
    log_write(buf, len);
}

/* Copies what the output pipe holds now; returns 0 at EOF (every writer is gone). */
static int pump_output(void) {
    static char buf[65536];
    for (;;) {
        ssize_t n = read(JOBLET_FD_OUTPUT, buf, sizeof buf);
        if (n > 0) {
            log_output(buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n == 0 ? 0 : 1; /* EAGAIN: more may come */
    }
}

/* ---- main ------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "--") != 0) return 127;
    log_limit = strtoull(argv[1], NULL, 10);
    /* Not dumpable: the job (same uid) cannot read this process's memory or /proc/1 entries. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    /* Every signal is blocked (libjoblet blocked them around clone) and read from a signalfd,
     * except SIGPIPE, ignored so a dead daemon's report pipe gives EPIPE and not a signal. */
    sigset_t all, pipe;
    sigfillset(&all);
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_SETMASK, &all, NULL);
    sigprocmask(SIG_UNBLOCK, &pipe, NULL);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
    int exec_pipe[2];
    if (sfd < 0 || pipe2(exec_pipe, O_CLOEXEC) < 0 || fcntl(JOBLET_FD_OUTPUT, F_SETFL, O_NONBLOCK) < 0) {
        report(JOBLET_FD_REPORT, JOBLET_STAGE_INIT, errno);
        return 127;
    }

    pid_t child = fork();
    if (child < 0) {
        report(JOBLET_FD_REPORT, JOBLET_STAGE_FORK, errno);
        return 127;
    }
    if (child == 0) {
        /* the command gets 0-2 only, default dispositions (SIG_IGN survives exec) and no mask */
        int keep = exec_pipe[1];
        close(JOBLET_FD_REPORT);
        close(JOBLET_FD_OUTPUT);
        close(JOBLET_FD_LOG);
        close(JOBLET_FD_LIFELINE);
        close(exec_pipe[0]);
        close(sfd);
        signal(SIGPIPE, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        run_command(keep, &argv[3]);
    }
    /* Only the job's processes hold the output pipe's write end now: EOF means they are all gone. */
    close(exec_pipe[1]);
    close(0);
    close(1);
    close(2);

    /* The command ran (EOF) or a failure record arrived: pass either on to the daemon. */
    struct joblet_report failure;
    ssize_t got;
    do got = read(exec_pipe[0], &failure, sizeof failure); while (got < 0 && errno == EINTR);
    close(exec_pipe[0]);
    if (got == (ssize_t)sizeof failure) {
        ssize_t w;
        do w = write(JOBLET_FD_REPORT, &failure, sizeof failure); while (w < 0 && errno == EINTR);
    } else {
        report(JOBLET_FD_REPORT, JOBLET_EVENT_RUNNING, 0);
    }

    int status = -1;   /* the command's, once it exited */
    int draining = 0;  /* the command exited or the daemon died: everything else was killed */
    int output_open = 1, lifeline_open = 1;
    for (;;) {
        struct pollfd fds[3] = {
            {sfd, POLLIN, 0},
            {output_open ? JOBLET_FD_OUTPUT : -1, POLLIN, 0},
            {lifeline_open ? JOBLET_FD_LIFELINE : -1, POLLIN, 0},
        };
        if (poll(fds, 3, -1) < 0 && errno != EINTR) {
            kill(-1, SIGKILL);
            _exit(127);
        }
        if (fds[1].revents && !pump_output()) {
            output_open = 0;
            close(JOBLET_FD_OUTPUT);
        }
        if (fds[2].revents) { /* the daemon never writes: readable means it is gone */
            lifeline_open = 0;
            close(JOBLET_FD_LIFELINE);
            report(JOBLET_FD_REPORT, JOBLET_EVENT_ORPHANED, 0);
            if (!draining) kill(-1, SIGKILL);
            draining = 1;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            int sig = (int)si.ssi_signo;
            if (sig == SIGCHLD) continue; /* reaped below */
            if (sig == SIGTERM) kill(-1, SIGTERM); /* stop: every process of the job gets it (daemons, setsid'd) */
            else if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU && !draining) kill(child, sig);
        }
        for (;;) {
            int st;
            pid_t pid = waitpid(-1, &st, WNOHANG);
            if (pid > 0) {
                if (pid == child) {
                    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                    if (!draining) kill(-1, SIGKILL); /* what it left behind dies with it */
                    draining = 1;
                }
                continue;
            }
            if (pid < 0 && errno == ECHILD && draining) {
                /* Nothing is left in the job: read what the pipe still holds and finish. A writer
                 * outside the job (a descriptor passed out over a socket) cannot hold us up. */
                if (output_open) pump_output();
                _exit(status >= 0 ? status : 128 + SIGKILL);
            }
            break;
        }
    }
}
