/* seccomp.c: the syscall filter every job process runs under. A hand-written BPF deny-list:
 * other architectures are killed, x32 numbers refused, kernel-wide and escape-prone syscalls
 * return EPERM, clone with namespace flags is refused and clone3 (whose flags cannot be inspected)
 * returns ENOSYS so libc falls back to clone. Built once in the parent; installed in the child. */
#include "internal.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if !defined(__x86_64__)
#error "the seccomp filter is written for x86_64"
#endif

#define RET_EPERM (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define RET_ENOSYS (SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))
#define X32_SYSCALL_BIT 0x40000000
#define TIOCSTI_ 0x5412
#define TIOCLINUX_ 0x541C

static const int denied[] = {
    /* file systems and the root */
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
    SYS_open_tree, SYS_move_mount, SYS_mount_setattr, SYS_open_by_handle_at, SYS_name_to_handle_at,
    SYS_quotactl, 443 /* quotactl_fd */, SYS_swapon, SYS_swapoff, SYS_acct,
    /* namespaces */
    SYS_unshare, SYS_setns,
    /* other processes' memory and tracing */
    SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_perf_event_open,
    /* kernel attack surface */
    SYS_bpf, SYS_userfaultfd, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
    SYS_keyctl, SYS_add_key, SYS_request_key, SYS_init_module, SYS_finit_module, SYS_delete_module,
    SYS_kexec_load, SYS_kexec_file_load, SYS_reboot, SYS_syslog, SYS_vhangup, SYS_iopl, SYS_ioperm,
    /* the host's clock */
    SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex,
};
#define NDENIED (int)(sizeof denied / sizeof denied[0])

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

static struct sock_filter filter[24 + 2 * NDENIED];
static struct sock_fprog program;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void) {
    struct sock_filter *f = filter;
    int n = 0;
#define I(x) f[n++] = (struct sock_filter)x
    I(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    I(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)); /* i386 (int 0x80) and anything else */
    I(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    I(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
    I(BPF_STMT(BPF_RET | BPF_K, RET_EPERM));
    for (int i = 0; i < NDENIED; i++) {
        I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[i], 0, 1));
        I(BPF_STMT(BPF_RET | BPF_K, RET_EPERM));
    }
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
    I(BPF_STMT(BPF_RET | BPF_K, RET_ENOSYS));
    /* clone: refuse namespace flags (they are in the low 32 bits of the first argument) */
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
    I(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
    I(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 6)); /* no: on to the final ALLOW */
    I(BPF_STMT(BPF_RET | BPF_K, RET_EPERM));
    /* ioctl: no terminal input injection. The kernel uses the low 32 bits of the command, so only
     * those are compared: (1 << 32) | TIOCSTI is refused too. */
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 4));
    I(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])));
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI_, 1, 0));
    I(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX_, 0, 1));
    I(BPF_STMT(BPF_RET | BPF_K, RET_EPERM));
    I(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef I
    program.len = (unsigned short)n;
    program.filter = filter;
}

void seccomp_prepare(void) {
    pthread_once(&once, build);
}

void seccomp_install(struct plan *pl) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) < 0) child_fail(pl, JOBLET_STAGE_SECCOMP, -1);
}
