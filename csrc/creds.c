/* creds.c: what the job may do: rlimits, no capabilities at all, the unprivileged user,
 * death with the daemon, no_new_privs. Child side: raw syscalls only. */
#include "internal.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void creds_drop(struct plan *pl) {
    for (int i = 0; i < pl->nrlimits; i++) {
        struct rlimit rl = {pl->rlimits[i].soft, pl->rlimits[i].hard};
        if (syscall(SYS_prlimit64, 0, pl->rlimits[i].resource, &rl, NULL) < 0) child_fail(pl, JOBLET_STAGE_RLIMIT, i);
    }

    /* The bounding and ambient sets must go while we still hold CAP_SETPCAP (as root). */
    for (int cap = 0; cap <= pl->cap_last; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) child_fail(pl, JOBLET_STAGE_CAPS, cap);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) child_fail(pl, JOBLET_STAGE_CAPS, -1);

    /* Raw syscalls on purpose: glibc's setgroups/setresgid/setresuid broadcast the change to every
     * thread glibc believes exists (copied from the multi-threaded daemon) and deadlock. */
    if (syscall(SYS_setgroups, 0, NULL) < 0) child_fail(pl, JOBLET_STAGE_SETGROUPS, -1);
    if (syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) < 0) child_fail(pl, JOBLET_STAGE_SETGID, -1);
    /* uid 0 -> non-zero clears the permitted and effective sets; capset clears inheritable */
    if (syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) < 0) child_fail(pl, JOBLET_STAGE_SETUID, -1);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) < 0) child_fail(pl, JOBLET_STAGE_CAPS, -1);

    /* The job dies with the daemon through the lifeline pipe (joblet-init sees EOF), not
     * PDEATHSIG: init first drains the job's output into its log, so nothing is lost. */

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(pl, JOBLET_STAGE_NO_NEW_PRIVS, -1);
}
