/*
 * out.c -- raw and collapsed writers (layer L4).  See out.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "out.h"

void
pp_out_meta(struct pp_out_info *info, const char *key, const char *fmt, ...)
{
    va_list ap;
    if (info->nmeta >= PP_OUT_MAX_KV)
        return;
    info->meta_key[info->nmeta] = key;
    va_start(ap, fmt);
    vsnprintf(info->meta_val[info->nmeta], sizeof(info->meta_val[0]), fmt, ap);
    va_end(ap);
    info->nmeta++;
}

void
pp_out_stat(struct pp_out_info *info, const char *key, uint64_t val)
{
    if (info->nstats >= PP_OUT_MAX_KV)
        return;
    info->stat_key[info->nstats] = key;
    info->stat_val[info->nstats] = val;
    info->nstats++;
}

static uint64_t
pp_out_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ==== output files ====
 *
 * A regular file (or a new name) is written to a temporary file created
 * next to it with an unpredictable name, O_CREAT|O_EXCL|O_NOFOLLOW and
 * mode 0600 (pp_out_set_mode), fsync'ed and renamed over the path: a
 * reader never sees half a file, and a symlink planted at any name
 * (the temporary's or the path's) is never followed.  "-", a FIFO and a
 * character device (/dev/null, a terminal, /dev/stdout -> a pipe) are
 * streamed into directly and never replaced.  A symlink at the path is
 * refused unless it leads to a FIFO or a character device.
 */

static unsigned out_mode = 0600;
static char out_err_path[4096];
static int out_err_errno;
static bool out_err_tmp; /* while creating the temporary file */

void
pp_out_set_mode(unsigned mode)
{
    out_mode = mode & 07777;
}

const char *
pp_out_error(int *errnum, bool *creating_tmp)
{
    if (errnum)
        *errnum = out_err_errno;
    if (creating_tmp)
        *creating_tmp = out_err_tmp;
    return out_err_path;
}

static int
out_fail(const char *path, int e)
{
    snprintf(out_err_path, sizeof(out_err_path), "%s", path);
    out_err_errno = e;
    out_err_tmp = false;
    errno = e;
    return PP_EOUTPUT;
}

struct afile {
    FILE *f;
    int fd;
    bool stream; /* written in place: no temporary, no rename */
    char tmp[4200];
    const char *path;
};

static int
tmp_create(struct afile *af, const char *path)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    int tries;

    for (tries = 0; tries < 100; tries++) {
        unsigned char rnd[12];
        char suffix[13];
        size_t i;
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            uint64_t t = pp_out_clock() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
            for (i = 0; i < sizeof(rnd); i++, t = t * 6364136223846793005ULL + 1442695040888963407ULL)
                rnd[i] = (unsigned char)(t >> 56);
        }
        for (i = 0; i < sizeof(rnd); i++)
            suffix[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
        suffix[sizeof(rnd)] = '\0';
        /* ".NAME.pyprof-XXXXXXXXXXXX" in the output's own directory */
        if (snprintf(af->tmp, sizeof(af->tmp), "%.*s.%.200s.pyprof-%s", dirlen, path, base,
                     suffix) >= (int)sizeof(af->tmp))
            return out_fail(path, ENAMETOOLONG);
        af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (af->fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    out_fail(path, errno);
    out_err_tmp = true;
    return PP_EOUTPUT;
}

static int
afile_open(struct afile *af, const char *path)
{
    struct stat st;

    memset(af, 0, sizeof(*af));
    af->fd = -1;
    af->path = path;
    if (strcmp(path, "-") == 0) {
        af->stream = true;
        af->fd = dup(1);
        if (af->fd < 0)
            return out_fail("standard output", errno);
    } else if (lstat(path, &st) == 0 &&
               (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISLNK(st.st_mode))) {
        if (S_ISLNK(st.st_mode) &&
            (stat(path, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))))
            return out_fail(path, ELOOP); /* a symlink to a file: refused */
        af->stream = true;
        af->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (af->fd < 0)
            return out_fail(path, errno);
        if (fstat(af->fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
            close(af->fd); /* swapped for something else meanwhile */
            return out_fail(path, EEXIST);
        }
    } else {
        int err;
        if ((err = tmp_create(af, path)))
            return err;
        if (out_mode != 0600 && fchmod(af->fd, out_mode) != 0) {
            int e = errno;
            close(af->fd);
            unlink(af->tmp);
            return out_fail(path, e);
        }
    }
    af->f = fdopen(af->fd, "w");
    if (!af->f) {
        int e = errno;
        close(af->fd);
        if (!af->stream)
            unlink(af->tmp);
        return out_fail(path, e);
    }
    setvbuf(af->f, NULL, _IOFBF, 1 << 16);
    return 0;
}

static void
afile_abort(struct afile *af)
{
    fclose(af->f);
    if (!af->stream)
        unlink(af->tmp);
}

static int
afile_commit(struct afile *af)
{
    int e = 0;
    /* a failed write left its data in the buffer: the flush says why */
    if (fflush(af->f) != 0)
        e = errno ? errno : EIO;
    else if (ferror(af->f))
        e = EIO;
    if (!e && !af->stream && fsync(af->fd) != 0)
        e = errno;
    if (fclose(af->f) != 0 && !e)
        e = errno ? errno : EIO;
    if (af->stream)
        return e ? out_fail(strcmp(af->path, "-") == 0 ? "standard output" : af->path, e)
                 : 0;
    if (!e && rename(af->tmp, af->path) != 0)
        e = errno;
    if (e) {
        unlink(af->tmp);
        return out_fail(af->path, e);
    }
    { /* the rename itself survives a crash too */
        char dir[4200];
        const char *slash = strrchr(af->path, '/');
        int dfd;
        if (slash)
            snprintf(dir, sizeof(dir), "%.*s", (int)(slash - af->path) + 1, af->path);
        else
            snprintf(dir, sizeof(dir), ".");
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

/* ==== raw ==== */

static void
put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\':
            fputs("\\\\", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *
kind_name(uint32_t kind)
{
    switch (kind) {
    case PP_FRAME_PY:
        return "py";
    case PP_FRAME_NATIVE:
        return "native";
    case PP_FRAME_PROCESS:
        return "process";
    default:
        return "marker";
    }
}

int
pp_out_write_raw(const struct pp_agg *a, const struct pp_out_info *info, const char *path)
{
    struct afile af;
    size_t i;
    int err = afile_open(&af, path);

    if (err)
        return err;
    fputs("pyprof-raw\t1\n", af.f);
    for (i = 0; i < info->nmeta; i++) {
        fprintf(af.f, "M\t%s\t", info->meta_key[i]);
        put_escaped(af.f, info->meta_val[i]);
        fputc('\n', af.f);
    }
    for (i = 0; i < info->nstats; i++)
        fprintf(af.f, "S\t%s\t%llu\n", info->stat_key[i], (unsigned long long)info->stat_val[i]);
    for (i = 0; i < a->threads.len; i++) {
        const struct pp_agg_thread *t = pp_vec_at(&a->threads, i);
        fprintf(af.f, "T\t%zu\t%d\t", i, t->tid);
        put_escaped(af.f, pp_strtab_get(a->strs, t->name_id));
        fputc('\n', af.f);
    }
    for (i = 0; i < pp_strtab_count(a->strs); i++) {
        fprintf(af.f, "s\t%zu\t", i);
        put_escaped(af.f, pp_strtab_get(a->strs, (uint32_t)i));
        fputc('\n', af.f);
    }
    for (i = 0; i < a->frames.len; i++) {
        const struct pp_agg_frame *fr = pp_vec_at(&a->frames, i);
        fprintf(af.f, "F\t%zu\t%s\t%u\t%u\t%d\n", i, kind_name(fr->kind), fr->name_id,
                fr->file_id, fr->line);
    }
    for (i = 0; i < a->stack_off.len; i++) {
        uint32_t n, j;
        const uint32_t *fr = pp_agg_stack_frames(a, (uint32_t)i, &n);
        fprintf(af.f, "K\t%zu\t", i);
        for (j = 0; j < n; j++)
            fprintf(af.f, j ? " %u" : "%u", fr[j]);
        fputc('\n', af.f);
    }
    for (i = 0; i < a->counts.len; i++) {
        const struct pp_agg_count *c = pp_vec_at(&a->counts, i);
        fprintf(af.f, "C\t%u\t%u\t%llu\n", c->stack_id, c->thread_idx,
                (unsigned long long)c->count);
    }
    for (i = 0; i < a->samples.len; i++) {
        const struct pp_agg_sample *s = pp_vec_at(&a->samples, i);
        fprintf(af.f, "P\t%u\t%u\t%llu\n", s->stack_id, s->thread_idx,
                (unsigned long long)s->t_ns);
    }
    fputs("E\n", af.f);
    return afile_commit(&af);
}

/* ==== collapsed ==== */

static void
sanitize(char *s)
{
    for (; *s; s++) {
        if (*s == ';')
            *s = ':';
        else if (*s == '\n' || *s == '\t' || *s == '\r')
            *s = ' ';
    }
}

void
pp_out_frame_text(const struct pp_agg *a, uint32_t frame_id, char *buf, size_t len)
{
    const struct pp_agg_frame *fr = pp_vec_at(&a->frames, frame_id);
    const char *name = pp_strtab_get(a->strs, fr->name_id);

    if (fr->kind == PP_FRAME_PY)
        snprintf(buf, len, "%s (%s:%d)", name, pp_strtab_get(a->strs, fr->file_id), fr->line);
    else if (fr->kind == PP_FRAME_NATIVE && *pp_strtab_get(a->strs, fr->file_id))
        snprintf(buf, len, "%s (%s)", name, pp_strtab_get(a->strs, fr->file_id));
    else
        snprintf(buf, len, "%s", name);
    sanitize(buf);
}

int
pp_out_write_collapsed(const struct pp_agg *a, bool threads, const char *path)
{
    struct afile af;
    struct pp_hmap merged; /* stack (and thread) -> total */
    struct pp_vec order;   /* keys in first-seen order */
    char text[8192];
    size_t i;
    int err = afile_open(&af, path);

    if (err)
        return err;
    pp_hmap_init(&merged);
    pp_vec_init(&order, sizeof(uint64_t));
    for (i = 0; i < a->counts.len && !err; i++) {
        const struct pp_agg_count *c = pp_vec_at(&a->counts, i);
        uint64_t key = threads ? ((uint64_t)c->stack_id << 24) ^ c->thread_idx : c->stack_id;
        uint64_t v = 0;
        if (!pp_hmap_get(&merged, key, &v))
            err = pp_vec_append(&order, &key);
        if (!err)
            err = pp_hmap_put(&merged, key, v + c->count);
    }
    for (i = 0; i < order.len && !err; i++) {
        uint64_t key = *(uint64_t *)pp_vec_at(&order, i), count = 0;
        uint32_t stack = threads ? (uint32_t)(key >> 24) : (uint32_t)key, n, j;
        const uint32_t *fr = pp_agg_stack_frames(a, stack, &n);
        pp_hmap_get(&merged, key, &count);
        for (j = 0; j <= n; j++) {
            /* the thread root goes first, or under a process root */
            bool proc_first = n && ((const struct pp_agg_frame *)pp_vec_at(&a->frames, fr[0]))
                                           ->kind == PP_FRAME_PROCESS;
            if (threads && j == (proc_first ? 1u : 0u)) {
                const struct pp_agg_thread *t = pp_vec_at(&a->threads, key & 0xffffff);
                snprintf(text, sizeof(text), "thread %d (%s)", t->tid,
                         pp_strtab_get(a->strs, t->name_id));
                sanitize(text);
                if (j)
                    fputc(';', af.f);
                fputs(text, af.f);
                if (j < n)
                    fputc(';', af.f);
            } else if (j && j < n) {
                fputc(';', af.f);
            }
            if (j < n) {
                pp_out_frame_text(a, fr[j], text, sizeof(text));
                fputs(text, af.f);
            }
        }
        fprintf(af.f, " %llu\n", (unsigned long long)count);
    }
    pp_hmap_free(&merged);
    pp_vec_free(&order);
    if (err) {
        afile_abort(&af);
        return err;
    }
    return afile_commit(&af);
}
