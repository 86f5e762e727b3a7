/* Internal to libjoblet: the parsed spawn plan shared by the files of the child's setup.
 * Everything the child needs is computed here, in the parent, before clone: after clone the
 * child may use only async-signal-safe calls and raw syscalls (no malloc, no stdio, no locks). */
#ifndef JOBLET_INTERNAL_H
#define JOBLET_INTERNAL_H

#include "joblet.h"

#include <stdint.h>
#include <sys/types.h>

#define HIDDEN __attribute__((visibility("hidden")))

struct bind_plan {
    const char *src;
    char *dst;        /* host-side path below the root */
    int writable;
    int is_dir;
};

struct link_plan {
    const char *target;
    char *path;       /* host-side path below the root */
};

struct file_plan {
    char *path;       /* host-side path below the root */
    const uint8_t *content;
    size_t len;
};

struct rlimit_plan {
    uint32_t resource;
    uint64_t soft, hard;
};

#define DEV_NODES 6
#define DEV_LINKS 4

struct plan {
    /* from the spec (strings point into the caller's buffer, which outlives the clone) */
    const char **argv;      /* argv for joblet-init: "joblet-init", "<log limit>", "--", command, args..., NULL */
    const char **envp;
    char *root;
    size_t root_len;
    struct bind_plan *binds;
    int nbinds;
    struct link_plan *links;
    int nlinks;
    struct file_plan *files;
    int nfiles;
    char **masks;           /* host-side paths below the root */
    int nmasks;
    char **readonly;        /* host-side paths below the root */
    int nreadonly;
    const char *cwd;
    const char *hostname;
    uint32_t uid, gid;
    const char *tmp_options;
    const char **cgroup_procs;
    int ncgroups;
    int netns_fd;
    uint32_t namespaces;
    struct rlimit_plan *rlimits;
    int nrlimits;
    int init_fd;
    int cgroup_fd;
    int log_fd;
    int lifeline_fd;
    uint64_t log_limit;
    int root_writable;

    /* derived paths */
    char *proc, *tmp, *dev, *devshm;
    char *devnode_src[DEV_NODES], *devnode_dst[DEV_NODES];
    char *devlink[DEV_LINKS];

    /* fds for the child; moved to fixed numbers by the child (see spawn.c) */
    int report_wr, out_wr, out_rd, devnull;
    char log_limit_arg[24];
    int cap_last;
};

/* spec.c */
HIDDEN struct plan *plan_parse(const uint8_t *spec, size_t len, char *err, size_t errlen);
HIDDEN void plan_free(struct plan *pl);

/* spawn.c: report the failed stage on the report pipe and exit; never returns */
HIDDEN void __attribute__((noreturn)) child_fail(struct plan *pl, int stage, int index);

/* rootfs.c: build the job's filesystem and pivot into it (child side) */
HIDDEN void rootfs_build(struct plan *pl);

/* creds.c: rlimits, capabilities, user, no_new_privs (child side) */
HIDDEN void creds_drop(struct plan *pl);

/* seccomp.c */
HIDDEN void seccomp_prepare(void);                 /* parent, once */
HIDDEN void seccomp_install(struct plan *pl);      /* child */

#endif
