/* spawn.c: starts a job from the multi-threaded daemon. clone(CLONE_VM|CLONE_VFORK) on a private
 * stack (no copy of the daemon's page tables; the calling thread waits until the child execs),
 * into new pid and mount namespaces (plus uts, ipc, net, cgroup as configured). The child builds
 * the sandbox and execs joblet-init from a sealed memfd as the job's PID 1; init runs the command.
 *
 * Child rules: between clone and execve only raw syscalls and async-signal-safe calls. The
 * daemon's other threads may have held malloc, stdio or dynamic-loader locks at clone time. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#define STACK_SIZE (256 * 1024)

void child_fail(struct plan *pl, int stage, int index) {
    struct joblet_report r = {JOBLET_REPORT_MAGIC, stage, errno, index};
    ssize_t w = write(pl->report_wr, &r, sizeof r);
    (void)w;
    _exit(127);
}

static void reset_signals(void) {
    /* Handlers belong to the daemon's runtime, and SIG_IGN (Bun ignores SIGPIPE) survives execve. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
}

static void join_cgroups(struct plan *pl) {
    for (int i = 0; i < pl->ncgroups; i++) {
        int fd = open(pl->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0\n", 2) != 2) child_fail(pl, JOBLET_STAGE_CGROUP, i);
        close(fd);
    }
}

static void loopback_up(struct plan *pl) {
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) child_fail(pl, JOBLET_STAGE_LOOPBACK, -1);
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) child_fail(pl, JOBLET_STAGE_LOOPBACK, -1);
    close(sk);
}

/* Leaves exactly the fds joblet-init expects (above). Every other fd, some opened by the
 * daemon's other threads without O_CLOEXEC, is closed now: none can be used to reach the host
 * (e.g. a working directory of /proc/self/fd/N). */
static void arrange_fds(struct plan *pl) {
    int want[JOBLET_FD_COUNT] = {
        [0] = pl->devnull, [1] = pl->out_wr, [2] = pl->out_wr,
        [JOBLET_FD_REPORT] = pl->report_wr, [JOBLET_FD_INIT] = pl->init_fd, [JOBLET_FD_OUTPUT] = pl->out_rd,
        [JOBLET_FD_LOG] = pl->log_fd, [JOBLET_FD_LIFELINE] = pl->lifeline_fd,
    };
    int high[JOBLET_FD_COUNT];
    for (int i = 0; i < JOBLET_FD_COUNT; i++) /* copies above every target, so dup2 below clobbers nothing needed */
        if ((high[i] = fcntl(want[i], F_DUPFD, 100)) < 0) child_fail(pl, JOBLET_STAGE_FDS, i);
    for (int i = 0; i < JOBLET_FD_COUNT; i++)
        if (dup2(high[i], i) < 0) child_fail(pl, JOBLET_STAGE_FDS, i);
    pl->report_wr = JOBLET_FD_REPORT;
    if (syscall(SYS_close_range, (unsigned)JOBLET_FD_COUNT, ~0U, 0U) < 0) {
        for (int fd = JOBLET_FD_COUNT; fd < 4096; fd++) close(fd);
    }
    /* only init's memfd is close-on-exec; init passes none of 3-7 to the command */
    if (fcntl(JOBLET_FD_INIT, F_SETFD, FD_CLOEXEC) < 0) child_fail(pl, JOBLET_STAGE_FDS, JOBLET_FD_INIT);
}

static int child_main(void *arg) {
    struct plan *pl = arg;
    reset_signals(); /* every signal stays blocked (the parent blocked them around clone) */
    join_cgroups(pl);
    if (pl->netns_fd >= 0 && setns(pl->netns_fd, CLONE_NEWNET) < 0) child_fail(pl, JOBLET_STAGE_SETNS, -1);
    /* Unshared only now, after joining the job's cgroups, so the job sees its own cgroup as "/". */
    if ((pl->namespaces & JOBLET_NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0) child_fail(pl, JOBLET_STAGE_CGROUPNS, -1);

    rootfs_build(pl);

    if ((pl->namespaces & JOBLET_NS_UTS) && pl->hostname && sethostname(pl->hostname, strlen(pl->hostname)) < 0)
        child_fail(pl, JOBLET_STAGE_HOSTNAME, -1);
    if ((pl->namespaces & JOBLET_NS_NET) && pl->netns_fd < 0) loopback_up(pl); /* a new netns has lo down */

    arrange_fds(pl);
    creds_drop(pl);
    if (chdir(pl->cwd ? pl->cwd : "/") < 0) child_fail(pl, JOBLET_STAGE_CHDIR, -1);
    seccomp_install(pl);

    /* Signals stay blocked: joblet-init waits for them with sigwaitinfo. */
    syscall(SYS_execveat, JOBLET_FD_INIT, "", pl->argv, pl->envp, AT_EMPTY_PATH);
    child_fail(pl, JOBLET_STAGE_EXEC_INIT, -1);
}

struct clone3_args { /* struct clone_args, CLONE_ARGS_SIZE_VER2 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* clone3 that runs fn(arg) on the given stack in the child, like glibc's clone() does for clone:
 * the child returns from the syscall on its new stack, so it must not return into C code. fn
 * and arg ride in callee-saved registers, which the kernel copies into the child. */
static long clone3_run(struct clone3_args *ca, int (*fn)(void *), void *arg) {
    long ret;
    register void *r13 __asm__("r13") = (void *)fn;
    register void *r12 __asm__("r12") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xorl %%ebp, %%ebp\n\t"     /* child: outermost frame */
        "movq %%r12, %%rdi\n\t"
        "callq *%%r13\n\t"
        "movl %%eax, %%edi\n\t"
        "movl $60, %%eax\n\t"       /* exit(fn's result) if it ever returns */
        "syscall\n\t"
        "hlt\n\t"
        "1:\n\t"
        : "=a"(ret)
        : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(r13), "r"(r12)
        : "rcx", "r11", "memory");
    return ret;
}

static int read_cap_last(void) {
    int last = 40;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) {
        if (fscanf(f, "%d", &last) != 1) last = 40;
        fclose(f);
    }
    return last;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

int joblet_spawn(const uint8_t *spec, size_t spec_len, struct joblet_proc *proc, char *err, size_t errlen) {
    int out[2] = {-1, -1}, report[2] = {-1, -1}, devnull = -1, rc = 0;
    memset(proc, 0, sizeof *proc);
    proc->pid = proc->pidfd = proc->report_fd = -1;

    seccomp_prepare();
    struct plan *pl = plan_parse(spec, spec_len, err, errlen);
    if (!pl) return -EINVAL;
    pl->cap_last = read_cap_last();

    /* O_CLOEXEC everywhere: another thread of the daemon may spawn at the same time */
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 ||
        (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "pipes: %s", strerror(errno));
        goto done;
    }
    pl->devnull = devnull;
    pl->out_wr = out[1];
    pl->out_rd = out[0];
    pl->report_wr = report[1];

    uint64_t flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS;
    if (pl->namespaces & JOBLET_NS_UTS) flags |= CLONE_NEWUTS;
    if (pl->namespaces & JOBLET_NS_IPC) flags |= CLONE_NEWIPC;
    if ((pl->namespaces & JOBLET_NS_NET) && pl->netns_fd < 0) flags |= CLONE_NEWNET;

    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        rc = -errno;
        snprintf(err, errlen, "stack: %s", strerror(errno));
        goto done;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* no daemon handler may run in the child */
    int pidfd = -1;
    /* returns once the child exec'd or died (CLONE_VFORK) */
    struct clone3_args ca = {
        .flags = flags | (pl->cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
        .stack = (uint64_t)(uintptr_t)stack,
        .stack_size = STACK_SIZE,
        .cgroup = pl->cgroup_fd >= 0 ? (uint64_t)pl->cgroup_fd : 0,
    };
    long pid = clone3_run(&ca, child_main, pl);
    if (pid == -ENOSYS && pl->cgroup_fd < 0) /* no clone3: glibc's clone does the same without a cgroup */
        pid = clone(child_main, stack + STACK_SIZE, (int)flags | SIGCHLD, pl, &pidfd);
    else if (pid < 0) {
        errno = (int)-pid;
        pid = -1;
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, STACK_SIZE);
    if (pid < 0) {
        rc = -saved;
        snprintf(err, errlen, "clone3: %s%s", strerror(saved), pl->cgroup_fd >= 0 && saved == ENOSYS ? " (CLONE_INTO_CGROUP needs Linux 5.7)" : "");
        goto done;
    }
    proc->pid = (int32_t)pid;
    proc->pidfd = pidfd;
    proc->report_fd = report[0];
    report[0] = -1;

done:
    close_fd(&out[0]); /* both ends of the output pipe belong to the job now */
    close_fd(&out[1]);
    close_fd(&report[0]);
    close_fd(&report[1]);
    close_fd(&devnull);
    plan_free(pl);
    return rc;
}
