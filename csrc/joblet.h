/* libjoblet: the kernel-facing half of joblet, called from the daemon through bun:ffi.
 * One .c file per isolation concern; this header is the whole ABI. Bump JOBLET_ABI_VERSION on
 * every change to a signature, a struct layout or a spec tag here: the daemon refuses to start on
 * a mismatch (src/ffi/libjoblet.ts holds the same numbers). */
#ifndef JOBLET_H
#define JOBLET_H

#include <stddef.h>
#include <stdint.h>

#define JOBLET_ABI_VERSION 6

#define JOBLET_API __attribute__((visibility("default")))

/* ---- the spawn spec -------------------------------------------------------------------------
 * A job is described by one flat buffer of records: u16 tag, u32 length, then `length` bytes
 * (strings are NUL-terminated inside their record; integers are little-endian). The parent side
 * parses it before clone, so the child touches no allocator. Records may repeat where noted. */
enum joblet_tag {
    JOBLET_ARG = 1,          /* string, repeated: argv of the job's command (argv[0] is the command) */
    JOBLET_ENV = 2,          /* string "NAME=value", repeated: the whole environment */
    JOBLET_ROOT = 3,         /* string: an empty host directory; the job's tmpfs root is mounted on it */
    JOBLET_BIND_RO = 4,      /* string pair "src\0dst": read-only recursive bind (dst inside the job) */
    JOBLET_BIND_RW = 5,      /* string pair "src\0dst": writable bind (the workspace) */
    JOBLET_SYMLINK = 6,      /* string pair "target\0linkpath" */
    JOBLET_FILE = 7,         /* "path\0content": a small read-only file created in the root (/etc/passwd) */
    JOBLET_CWD = 8,          /* string: working directory inside the job */
    JOBLET_HOSTNAME = 9,     /* string */
    JOBLET_UID = 10,         /* u32 */
    JOBLET_GID = 11,         /* u32 */
    JOBLET_TMP_OPTIONS = 12, /* string: mount options of the /tmp tmpfs ("size=64m,mode=1777") */
    JOBLET_CGROUP_PROCS = 13,/* string, repeated: cgroup.procs files the child joins before anything else */
    JOBLET_NETNS_FD = 14,    /* i32: join this network namespace instead of creating an empty one */
    JOBLET_NAMESPACES = 15,  /* u32: JOBLET_NS_* flags */
    JOBLET_RLIMIT = 16,      /* u32 resource, u64 soft, u64 hard */
    JOBLET_INIT_FD = 17,     /* i32: sealed memfd of joblet-init, exec'd as the job's PID 1 */
    JOBLET_MASK = 18,        /* string, repeated: path inside the job hidden (empty, read-only) */
    JOBLET_READONLY = 19,    /* string, repeated: path inside the job made read-only (e.g. /proc/sys) */
    JOBLET_ROOT_WRITABLE = 20, /* no payload: leave the tmpfs root writable (filesystem.readonly_rootfs: false) */
    JOBLET_CGROUP_FD = 21,   /* i32: a cgroup2 directory the job is born in (clone3 CLONE_INTO_CGROUP) */
    JOBLET_LOG_FD = 22,      /* i32: the job's log file (O_APPEND); joblet-init writes all output there */
    JOBLET_LOG_LIMIT = 23,   /* u64: bytes of output kept; the rest is discarded with a note (0 = no limit) */
    JOBLET_LIFELINE_FD = 24, /* i32: read end of a pipe the daemon never writes: EOF = the daemon died */
};

enum joblet_ns {
    JOBLET_NS_NET = 1 << 0,
    JOBLET_NS_IPC = 1 << 1,
    JOBLET_NS_UTS = 1 << 2,
    JOBLET_NS_CGROUP = 1 << 3,
    /* pid and mount namespaces are not optional */
};

/* What went wrong before the job's command ran, as reported on the report pipe (one record). */
enum joblet_stage {
    JOBLET_STAGE_CGROUP = 1, JOBLET_STAGE_SETNS, JOBLET_STAGE_CGROUPNS, JOBLET_STAGE_MOUNT_PRIVATE,
    JOBLET_STAGE_ROOT, JOBLET_STAGE_MKDIR, JOBLET_STAGE_BIND, JOBLET_STAGE_READONLY, JOBLET_STAGE_SYMLINK,
    JOBLET_STAGE_FILE, JOBLET_STAGE_PROC, JOBLET_STAGE_MASK, JOBLET_STAGE_TMP, JOBLET_STAGE_DEV,
    JOBLET_STAGE_PIVOT, JOBLET_STAGE_ROOT_READONLY, JOBLET_STAGE_HOSTNAME, JOBLET_STAGE_LOOPBACK,
    JOBLET_STAGE_FDS, JOBLET_STAGE_RLIMIT, JOBLET_STAGE_CAPS, JOBLET_STAGE_SETGROUPS, JOBLET_STAGE_SETGID,
    JOBLET_STAGE_SETUID, JOBLET_STAGE_UNUSED_25, JOBLET_STAGE_CHDIR, JOBLET_STAGE_NO_NEW_PRIVS,
    JOBLET_STAGE_SECCOMP, JOBLET_STAGE_EXEC_INIT,
    /* written by joblet-init */
    JOBLET_STAGE_FORK = 40, JOBLET_STAGE_EXEC = 41, JOBLET_STAGE_NOT_FOUND = 42, JOBLET_STAGE_INIT = 43,
    /* events joblet-init reports while the job runs (the report pipe stays open until init exits) */
    JOBLET_EVENT_RUNNING = 50,        /* the command was exec'd */
    JOBLET_EVENT_LOG_TRUNCATED = 51,  /* output passed JOBLET_LOG_LIMIT; the rest is discarded */
    JOBLET_EVENT_LOG_FAILED = 52,     /* writing the log failed (err: errno, e.g. ENOSPC); output is discarded */
    JOBLET_EVENT_ORPHANED = 53,       /* the daemon died: the job was killed and its output drained */
};

/* joblet-init's descriptors, set up by libjoblet before it execs init (init/joblet-init.c):
 * 0 /dev/null, 1 and 2 the output pipe's write end (handed to the command), then these. */
enum joblet_init_fd {
    JOBLET_FD_REPORT = 3,   /* struct joblet_report records to the daemon */
    JOBLET_FD_INIT = 4,     /* init's own memfd (close-on-exec) */
    JOBLET_FD_OUTPUT = 5,   /* the output pipe's read end: init copies it to the log */
    JOBLET_FD_LOG = 6,      /* the job's log file (O_APPEND) */
    JOBLET_FD_LIFELINE = 7, /* EOF: the daemon died */
    JOBLET_FD_COUNT = 8,
};

struct joblet_report {
    uint32_t magic;  /* JOBLET_REPORT_MAGIC */
    int32_t stage;   /* enum joblet_stage */
    int32_t err;     /* errno */
    int32_t index;   /* which record of its kind failed (e.g. the 3rd bind, RO and RW counted together), or -1 */
};
#define JOBLET_REPORT_MAGIC 0x4a424c54u /* "JBLT" */

/* A running job as the daemon sees it. All fds are O_CLOEXEC in the daemon. The job's output
 * (stdout and stderr, one pipe, in order) goes to the log file through joblet-init, not through
 * the daemon, so nothing written before a crash of the daemon is lost. */
struct joblet_proc {
    int32_t pid;       /* in the daemon's pid namespace */
    int32_t pidfd;     /* for signals and waiting, immune to pid reuse */
    int32_t report_fd; /* struct joblet_report records: a setup failure, or RUNNING then events; EOF when init exits */
};

/* The ABI version this library was built with (JOBLET_ABI_VERSION). */
JOBLET_API int joblet_abi_version(void);

/* Starts a job. Returns 0, or -errno with `err` describing a failure before clone. Setup failures
 * inside the job arrive on proc->report_fd. Call only from one thread at a time (the JS thread). */
JOBLET_API int joblet_spawn(const uint8_t *spec, size_t spec_len, struct joblet_proc *proc, char *err, size_t errlen);

/* joblet_spawn on `threads` background threads (spawner.c). Returns the read end of a pipe
 * (O_CLOEXEC) of struct joblet_spawn_result records, one per submitted spec, or -errno. Once. */
JOBLET_API int joblet_spawner_start(int threads);
/* Queues a spawn (the spec is copied); its result carries `token`. 0 or -errno. */
JOBLET_API int joblet_spawn_submit(const uint8_t *spec, size_t spec_len, uint32_t token);

struct joblet_spawn_result { /* 256 bytes */
    uint32_t token;
    int32_t rc;        /* joblet_spawn's: 0 or -errno */
    int32_t pid;
    int32_t pidfd;
    int32_t report_fd;
    char err[236];     /* joblet_spawn's message when rc < 0 */
};

/* A sealed memfd (MFD_CLOEXEC) holding `len` bytes of an executable, or -errno. */
JOBLET_API int joblet_sealed_memfd(const char *name, const uint8_t *bytes, size_t len);

/* Sends `sig` through the pidfd (never hits a recycled pid). 0 or -errno. */
JOBLET_API int joblet_signal(int pidfd, int sig);

/* Collects the exit of the process behind `pidfd` without blocking: 1 and *status set (exit code,
 * or 128 + signal), 0 if it is still running, -errno on error. */
JOBLET_API int joblet_reap(int pidfd, int32_t *status);

/* Exit notification: one background thread waits on every watched pidfd with epoll and writes the
 * pidfd number (int32) to the returned pipe when that process exits. Returns the read end or -errno. */
JOBLET_API int joblet_watch_start(void);
JOBLET_API int joblet_watch_add(int pidfd);

/* The read end of the daemon's lifeline (created once; the write end stays open, never written,
 * until the process dies), for JOBLET_LIFELINE_FD: every job's init sees EOF when the daemon is
 * gone, however it died. O_CLOEXEC, or -errno. */
JOBLET_API int joblet_lifeline(void);

/* A pool of `size` ready network namespaces (loopback up), refilled by a background thread.
 * joblet_netns_take() hands one out (an O_CLOEXEC fd, for JOBLET_NETNS_FD) or -EAGAIN when the
 * pool is empty; the caller closes it after the spawn. */
JOBLET_API int joblet_netns_pool_start(int size);
JOBLET_API int joblet_netns_take(void);

#endif
