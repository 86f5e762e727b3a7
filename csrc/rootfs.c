/* rootfs.c: the job's filesystem, built in the child's own mount namespace: a tmpfs root,
 * read-only binds of the allowed host paths, the writable workspace, a fresh /proc with sensitive
 * entries masked, a size-limited /tmp, a minimal /dev; then pivot_root with the old root detached.
 * Child side: raw syscalls and async-signal-safe calls only. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define ATTR_RDONLY 0x00000001
#define ATTR_NOSUID 0x00000002
#define ATTR_NODEV 0x00000004
#define ATTR_NOEXEC 0x00000008

struct attr { /* struct mount_attr (linux/mount.h clashes with glibc's sys/mount.h) */
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* mount_setattr(AT_RECURSIVE): unlike a remount, it also covers submounts of a recursive bind. */
static int set_attr(const char *path, uint64_t set) {
    struct attr a = {set, 0, 0, 0};
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a, sizeof a);
}

/* mkdir -p for a path below the root; `skip` is the root's length (never created here). */
static int mkdir_p(char *path, size_t skip) {
    for (char *p = path + skip + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int parent_dirs(char *path, size_t skip) {
    char *slash = strrchr(path, '/');
    if (!slash || slash <= path + skip) return 0;
    *slash = 0;
    int r = mkdir_p(path, skip);
    *slash = '/';
    return r;
}

/* An empty file to bind a file onto. */
static int touch(char *path, size_t skip) {
    if (parent_dirs(path, skip) < 0) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void binds(struct plan *pl) {
    for (int i = 0; i < pl->nbinds; i++) {
        struct bind_plan *b = &pl->binds[i];
        if ((b->is_dir ? mkdir_p(b->dst, pl->root_len) : touch(b->dst, pl->root_len)) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, i);
        if (mount(b->src, b->dst, NULL, MS_BIND | MS_REC, NULL) < 0) child_fail(pl, JOBLET_STAGE_BIND, i);
        uint64_t attrs = ATTR_NOSUID | ATTR_NODEV | (b->writable ? 0 : ATTR_RDONLY);
        if (set_attr(b->dst, attrs) < 0) child_fail(pl, JOBLET_STAGE_READONLY, i);
    }
}

static void files(struct plan *pl) {
    for (int i = 0; i < pl->nfiles; i++) {
        struct file_plan *f = &pl->files[i];
        if (parent_dirs(f->path, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
        int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || write_all(fd, f->content, f->len) < 0) child_fail(pl, JOBLET_STAGE_FILE, i);
        close(fd);
    }
}

static void proc(struct plan *pl) {
    if (mkdir_p(pl->proc, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
    /* a new procfs of the job's pid namespace (we are its pid 1 at this point) */
    if (mount("proc", pl->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) child_fail(pl, JOBLET_STAGE_PROC, -1);
    /* Masked entries: a file is covered by /dev/null, a directory by an empty read-only tmpfs.
     * A path the kernel does not provide is skipped. */
    for (int i = 0; i < pl->nmasks; i++) {
        struct stat st;
        if (lstat(pl->masks[i], &st) < 0) {
            if (errno == ENOENT) continue;
            child_fail(pl, JOBLET_STAGE_MASK, i);
        }
        int r = S_ISDIR(st.st_mode) ? mount("masked", pl->masks[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555")
                                    : mount("/dev/null", pl->masks[i], NULL, MS_BIND, NULL);
        if (r < 0 || (!S_ISDIR(st.st_mode) && set_attr(pl->masks[i], ATTR_RDONLY | ATTR_NOSUID | ATTR_NOEXEC) < 0))
            child_fail(pl, JOBLET_STAGE_MASK, i);
    }
    for (int i = 0; i < pl->nreadonly; i++) {
        if (access(pl->readonly[i], F_OK) < 0) continue;
        if (mount(pl->readonly[i], pl->readonly[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
            set_attr(pl->readonly[i], ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC) < 0)
            child_fail(pl, JOBLET_STAGE_READONLY, -1);
    }
}

static void tmp_and_dev(struct plan *pl) {
    if (mkdir_p(pl->tmp, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
    if (mount("tmpfs", pl->tmp, "tmpfs", MS_NOSUID | MS_NODEV, pl->tmp_options ? pl->tmp_options : "size=64m,mode=1777") < 0)
        child_fail(pl, JOBLET_STAGE_TMP, -1);

    if (mkdir_p(pl->dev, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
    if (mount("tmpfs", pl->dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") < 0) child_fail(pl, JOBLET_STAGE_DEV, -1);
    for (int i = 0; i < DEV_NODES; i++) {
        if (touch(pl->devnode_dst[i], pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_DEV, i);
        if (mount(pl->devnode_src[i], pl->devnode_dst[i], NULL, MS_BIND, NULL) < 0) child_fail(pl, JOBLET_STAGE_DEV, i);
        /* meaningless for a char device, but no mount of the job's is left without them */
        if (set_attr(pl->devnode_dst[i], ATTR_NOSUID | ATTR_NOEXEC) < 0) child_fail(pl, JOBLET_STAGE_DEV, i);
    }
    if (mkdir_p(pl->devshm, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
    if (mount("shm", pl->devshm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16m,mode=1777") < 0) child_fail(pl, JOBLET_STAGE_DEV, -1);
    static const char *const targets[DEV_LINKS] = {"/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"};
    for (int i = 0; i < DEV_LINKS; i++)
        if (symlink(targets[i], pl->devlink[i]) < 0) child_fail(pl, JOBLET_STAGE_DEV, -1);
    /* the /dev tmpfs itself is read-only: no new nodes or files (its submounts keep their own flags) */
    if (mount(NULL, pl->dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0) child_fail(pl, JOBLET_STAGE_DEV, -1);
}

/* Symlinks come last: an absolute target would resolve against the host while we are still
 * below the host root, so nothing may be created through them before pivot_root. */
static void symlinks(struct plan *pl) {
    for (int i = 0; i < pl->nlinks; i++) {
        if (parent_dirs(pl->links[i].path, pl->root_len) < 0) child_fail(pl, JOBLET_STAGE_MKDIR, -1);
        if (symlink(pl->links[i].target, pl->links[i].path) < 0 && errno != EEXIST) child_fail(pl, JOBLET_STAGE_SYMLINK, i);
    }
}

void rootfs_build(struct plan *pl) {
    /* nothing we mount may propagate back to the host, and host mounts must not leak in */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) child_fail(pl, JOBLET_STAGE_MOUNT_PRIVATE, -1);
    if (mount("jobroot", pl->root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0) child_fail(pl, JOBLET_STAGE_ROOT, -1);
    binds(pl);
    files(pl);
    proc(pl);
    tmp_and_dev(pl);
    symlinks(pl);

    /* pivot_root(".", "."): the old root is stacked on the new one and detached lazily, so no
     * path to the host's tree remains in this mount namespace. */
    if (chdir(pl->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        child_fail(pl, JOBLET_STAGE_PIVOT, -1);
    if (!pl->root_writable && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        child_fail(pl, JOBLET_STAGE_ROOT_READONLY, -1);
}
