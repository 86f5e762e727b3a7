/* spec.c: parses the flat spawn spec (see joblet.h) into a plan, in the parent, before clone. */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (!p) return NULL;
    memcpy(p, a, la);
    memcpy(p + la, b, lb + 1);
    return p;
}

/* An absolute path inside the job with no "." or ".." components and no empty ones. */
static int clean_path(const char *p) {
    if (p[0] != '/') return 0;
    for (const char *s = p; *s;) {
        while (*s == '/') s++;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        if (!e) break;
        if (e[1] == '/') return 0;
        s = e;
    }
    return 1;
}

/* A record's string, which must be NUL-terminated within the record. */
static const char *str_at(const uint8_t *v, uint32_t len, uint32_t off) {
    if (off >= len || !memchr(v + off, 0, len - off)) return NULL;
    return (const char *)v + off;
}

/* Appends to a NULL-terminated growing array. */
static int push(void ***arr, int *n, void *item) {
    void **a = realloc(*arr, (size_t)(*n + 2) * sizeof(void *));
    if (!a) return -1;
    a[(*n)++] = item;
    a[*n] = NULL;
    *arr = a;
    return 0;
}

/* Any error: describe it and unwind. */
#define ERR(...)                              \
    do {                                      \
        fail(err, errlen, __VA_ARGS__);       \
        goto error;                           \
    } while (0)

/* Makes room for one more element of a plan array. */
#define GROW(arr, n, type)                                                 \
    do {                                                                   \
        type *grown_ = realloc((arr), (size_t)((n) + 1) * sizeof(type));   \
        if (!grown_) ERR("out of memory");                                 \
        (arr) = grown_;                                                    \
        memset(&(arr)[(n)], 0, sizeof(type));                              \
    } while (0)

struct plan *plan_parse(const uint8_t *spec, size_t len, char *err, size_t errlen) {
    struct plan *pl = calloc(1, sizeof *pl);
    if (!pl) return fail(err, errlen, "out of memory"), NULL;
    pl->netns_fd = -1;
    pl->init_fd = -1;
    pl->cgroup_fd = -1;
    pl->log_fd = -1;
    pl->lifeline_fd = -1;
    pl->report_wr = pl->out_wr = pl->out_rd = pl->devnull = -1;
    const char **args = NULL;
    int nargs = 0, nenv = 0;

    for (size_t off = 0; off < len;) {
        if (len - off < 6) ERR("spec truncated at byte %zu", off);
        uint16_t tag;
        uint32_t n;
        memcpy(&tag, spec + off, 2);
        memcpy(&n, spec + off + 2, 4);
        const uint8_t *v = spec + off + 6;
        if (n > len - off - 6) ERR("spec record %u overruns the buffer", tag);
        off += 6 + (size_t)n;

        const char *s = str_at(v, n, 0);
        const char *s2 = s ? str_at(v, n, (uint32_t)strlen(s) + 1) : NULL;
        int32_t i32;
        uint32_t u32;
        switch (tag) {
        case JOBLET_ARG:
            if (!s || push((void ***)&args, &nargs, (void *)s) < 0) goto bad;
            break;
        case JOBLET_ENV:
            if (!s || !strchr(s, '=') || push((void ***)&pl->envp, &nenv, (void *)s) < 0) goto bad;
            break;
        case JOBLET_ROOT:
            if (!s || s[0] != '/') goto bad;
            free(pl->root);
            pl->root = strdup(s);
            if (!pl->root) goto bad;
            pl->root_len = strlen(pl->root);
            while (pl->root_len > 1 && pl->root[pl->root_len - 1] == '/') pl->root[--pl->root_len] = 0;
            break;
        case JOBLET_BIND_RO:
        case JOBLET_BIND_RW: {
            if (!s || !s2 || !pl->root) goto bad;
            if (!clean_path(s2)) ERR("mount destination %s: not a clean absolute path", s2);
            struct stat st;
            if (stat(s, &st) < 0) ERR("mount %s: %s", s2, strerror(errno));
            GROW(pl->binds, pl->nbinds, struct bind_plan);
            struct bind_plan *b = &pl->binds[pl->nbinds++];
            b->src = s;
            b->dst = join(pl->root, s2);
            b->writable = tag == JOBLET_BIND_RW;
            b->is_dir = S_ISDIR(st.st_mode);
            if (!b->dst) goto bad;
            break;
        }
        case JOBLET_SYMLINK:
            if (!s || !s2 || !pl->root || !clean_path(s2)) goto bad;
            GROW(pl->links, pl->nlinks, struct link_plan);
            pl->links[pl->nlinks].target = s;
            pl->links[pl->nlinks].path = join(pl->root, s2);
            if (!pl->links[pl->nlinks++].path) goto bad;
            break;
        case JOBLET_FILE:
            if (!s || !pl->root || !clean_path(s)) goto bad;
            GROW(pl->files, pl->nfiles, struct file_plan);
            pl->files[pl->nfiles].path = join(pl->root, s);
            pl->files[pl->nfiles].content = v + strlen(s) + 1;
            pl->files[pl->nfiles].len = n - strlen(s) - 1;
            if (!pl->files[pl->nfiles++].path) goto bad;
            break;
        case JOBLET_CWD:
            if (!s || !clean_path(s)) goto bad;
            pl->cwd = s;
            break;
        case JOBLET_HOSTNAME:
            if (!s || strlen(s) > 64) goto bad;
            pl->hostname = s;
            break;
        case JOBLET_UID:
        case JOBLET_GID:
            if (n != 4) goto bad;
            memcpy(&u32, v, 4);
            if (tag == JOBLET_UID) pl->uid = u32; else pl->gid = u32;
            break;
        case JOBLET_TMP_OPTIONS:
            if (!s) goto bad;
            pl->tmp_options = s;
            break;
        case JOBLET_CGROUP_PROCS:
            if (!s || push((void ***)&pl->cgroup_procs, &pl->ncgroups, (void *)s) < 0) goto bad;
            break;
        case JOBLET_NETNS_FD:
        case JOBLET_INIT_FD:
        case JOBLET_CGROUP_FD:
        case JOBLET_LOG_FD:
        case JOBLET_LIFELINE_FD:
            if (n != 4) goto bad;
            memcpy(&i32, v, 4);
            if (tag == JOBLET_NETNS_FD) pl->netns_fd = i32;
            else if (tag == JOBLET_INIT_FD) pl->init_fd = i32;
            else if (tag == JOBLET_CGROUP_FD) pl->cgroup_fd = i32;
            else if (tag == JOBLET_LOG_FD) pl->log_fd = i32;
            else pl->lifeline_fd = i32;
            break;
        case JOBLET_LOG_LIMIT:
            if (n != 8) goto bad;
            memcpy(&pl->log_limit, v, 8);
            break;
        case JOBLET_NAMESPACES:
            if (n != 4) goto bad;
            memcpy(&pl->namespaces, v, 4);
            break;
        case JOBLET_RLIMIT:
            if (n != 20) goto bad;
            GROW(pl->rlimits, pl->nrlimits, struct rlimit_plan);
            memcpy(&pl->rlimits[pl->nrlimits].resource, v, 4);
            memcpy(&pl->rlimits[pl->nrlimits].soft, v + 4, 8);
            memcpy(&pl->rlimits[pl->nrlimits].hard, v + 12, 8);
            pl->nrlimits++;
            break;
        case JOBLET_MASK:
        case JOBLET_READONLY: {
            if (!s || !pl->root || !clean_path(s)) goto bad;
            char *p = join(pl->root, s);
            if (!p) goto bad;
            if (push((void ***)(tag == JOBLET_MASK ? &pl->masks : &pl->readonly), tag == JOBLET_MASK ? &pl->nmasks : &pl->nreadonly, p) < 0) { free(p); goto bad; }
            break;
        }
        case JOBLET_ROOT_WRITABLE:
            pl->root_writable = 1;
            break;
        default:
            ERR("unknown spec record %u (libjoblet too old?)", tag);
        }
        continue;
    bad:
        ERR("invalid spec record %u", tag);
    }

    if (!pl->root) ERR("spec has no root directory");
    if (nargs == 0) ERR("spec has no command");
    if (pl->init_fd < 0) ERR("spec has no init");
    if (pl->log_fd < 0) ERR("spec has no log file");
    if (pl->lifeline_fd < 0) ERR("spec has no lifeline");
    if (!pl->envp && !(pl->envp = calloc(1, sizeof(char *)))) ERR("out of memory");

    /* joblet-init <log limit> -- command args... (its fds are fixed: see spawn.c) */
    pl->argv = calloc((size_t)nargs + 4, sizeof(char *));
    if (!pl->argv) ERR("out of memory");
    snprintf(pl->log_limit_arg, sizeof pl->log_limit_arg, "%llu", (unsigned long long)pl->log_limit);
    pl->argv[0] = "joblet-init";
    pl->argv[1] = pl->log_limit_arg;
    pl->argv[2] = "--";
    memcpy(&pl->argv[3], args, (size_t)nargs * sizeof(char *));
    free(args);
    args = NULL;

    static const char *const dev_nodes[DEV_NODES] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
    static const char *const dev_links[DEV_LINKS] = {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"};
    pl->proc = join(pl->root, "/proc");
    pl->tmp = join(pl->root, "/tmp");
    pl->dev = join(pl->root, "/dev");
    pl->devshm = join(pl->root, "/dev/shm");
    if (!pl->proc || !pl->tmp || !pl->dev || !pl->devshm) ERR("out of memory");
    for (int i = 0; i < DEV_NODES; i++) {
        pl->devnode_src[i] = strdup(dev_nodes[i]);
        pl->devnode_dst[i] = join(pl->root, dev_nodes[i]);
        if (!pl->devnode_src[i] || !pl->devnode_dst[i]) ERR("out of memory");
    }
    for (int i = 0; i < DEV_LINKS; i++)
        if (!(pl->devlink[i] = join(pl->root, dev_links[i]))) ERR("out of memory");
    return pl;

error:
    free(args);
    plan_free(pl);
    return NULL;
}

void plan_free(struct plan *pl) {
    if (!pl) return;
    for (int i = 0; i < pl->nbinds; i++) free(pl->binds[i].dst);
    for (int i = 0; i < pl->nlinks; i++) free(pl->links[i].path);
    for (int i = 0; i < pl->nfiles; i++) free(pl->files[i].path);
    for (int i = 0; i < pl->nmasks; i++) free(pl->masks[i]);
    for (int i = 0; i < pl->nreadonly; i++) free(pl->readonly[i]);
    free(pl->binds);
    free(pl->links);
    free(pl->files);
    free(pl->masks);
    free(pl->readonly);
    free(pl->rlimits);
    free(pl->cgroup_procs);
    free(pl->envp);
    free(pl->argv);
    free(pl->root);
    free(pl->proc);
    free(pl->tmp);
    free(pl->dev);
    free(pl->devshm);
    for (int i = 0; i < DEV_NODES; i++) {
        free(pl->devnode_src[i]);
        free(pl->devnode_dst[i]);
    }
    for (int i = 0; i < DEV_LINKS; i++) free(pl->devlink[i]);
    free(pl);
}
