/*
 * tests/c/test_agg_out.c -- aggregation (agg.h) and the raw and collapsed
 * writers (out.h): interning, counting, exact collapsed text, raw records
 * parsed back, atomic writes.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg.h"
#include "err.h"
#include "out.h"
#include "tap.h"
#include "util.h"

static char tmpdir[256];
static int intern_failures;

static uint32_t
S(struct pp_strtab *t, const char *s)
{
    uint32_t id = 0;
    if (pp_strtab_intern(t, s, strlen(s), &id) != 0)
        intern_failures++;
    return id;
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Temporary files in dir: ".NAME.pyprof-XXXXXXXXXXXX" (and the old "NAME.tmp.PID") */
static int
count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".pyprof-"))
            n++;
    closedir(d);
    return n;
}

static void
test_interning(void)
{
    struct pp_strtab st;
    struct pp_agg a;
    uint32_t f1, f2, f3, f4, f5, f6, s1, s2, s3, s4, s5, s6, t0, t1, t2;
    uint32_t main_id, app, work;

    pp_strtab_init(&st);
    pp_agg_init(&a, &st);
    main_id = S(&st, "main");
    work = S(&st, "work");
    app = S(&st, "app.py");
    CHECK_EQ_INT(S(&st, "main"), main_id); /* strings intern too */

    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_PY, main_id, app, 10, &f1), 0);
    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_PY, main_id, app, 10, &f2), 0);
    CHECK_EQ_INT(f1, f2);
    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_PY, main_id, app, 11, &f3), 0); /* line */
    CHECK(f3 != f1);
    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_PY, work, app, 10, &f4), 0); /* name */
    CHECK(f4 != f1 && f4 != f3);
    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_NATIVE, main_id, app, 10, &f5), 0); /* kind */
    CHECK(f5 != f1 && f5 != f3 && f5 != f4);
    CHECK_EQ_INT(pp_agg_frame(&a, PP_FRAME_PY, main_id, work, 10, &f6), 0); /* file */
    CHECK(f6 != f1);
    CHECK_EQ_INT(a.frames.len, 5);
    /* ids are dense, in first-seen order */
    CHECK_EQ_INT(f1, 0);
    CHECK_EQ_INT(f6, 4);
    {
        const struct pp_agg_frame *fr = pp_vec_at(&a.frames, f3);
        CHECK_EQ_INT(fr->kind, PP_FRAME_PY);
        CHECK_EQ_INT(fr->name_id, main_id);
        CHECK_EQ_INT(fr->file_id, app);
        CHECK_EQ_INT(fr->line, 11);
    }

    {
        uint32_t abc[] = {f1, f3, f4}, abc2[] = {f1, f3, f4}, ab[] = {f1, f3},
                 cba[] = {f4, f3, f1}, abcd[] = {f1, f3, f4, f5};
        uint32_t n;
        const uint32_t *fr;
        CHECK_EQ_INT(pp_agg_stack(&a, abc, 3, &s1), 0);
        CHECK_EQ_INT(pp_agg_stack(&a, abc2, 3, &s2), 0);
        CHECK_EQ_INT(s1, s2);
        CHECK_EQ_INT(pp_agg_stack(&a, ab, 2, &s3), 0); /* prefix */
        CHECK(s3 != s1);
        CHECK_EQ_INT(pp_agg_stack(&a, cba, 3, &s4), 0); /* order matters */
        CHECK(s4 != s1 && s4 != s3);
        CHECK_EQ_INT(pp_agg_stack(&a, abcd, 4, &s5), 0);
        CHECK(s5 != s1 && s5 != s3 && s5 != s4);
        CHECK_EQ_INT(pp_agg_stack(&a, abc, 0, &s6), 0); /* empty stack */
        CHECK_EQ_INT(pp_agg_stack(&a, ab, 0, &s2), 0);
        CHECK_EQ_INT(s6, s2);
        CHECK_EQ_INT(a.stack_off.len, 5);
        fr = pp_agg_stack_frames(&a, s5, &n);
        CHECK_EQ_INT(n, 4);
        CHECK(n == 4 && fr[0] == f1 && fr[1] == f3 && fr[2] == f4 && fr[3] == f5);
        fr = pp_agg_stack_frames(&a, s4, &n);
        CHECK(n == 3 && fr[0] == f4 && fr[2] == f1);
        fr = pp_agg_stack_frames(&a, s6, &n);
        CHECK_EQ_INT(n, 0);
    }

    CHECK_EQ_INT(pp_agg_thread(&a, 1234, "MainThread", &t0), 0);
    CHECK_EQ_INT(pp_agg_thread(&a, 1240, "worker", &t1), 0);
    CHECK(t0 != t1);
    CHECK_EQ_INT(pp_agg_thread(&a, 1234, "renamed", &t2), 0); /* rename keeps the index */
    CHECK_EQ_INT(t2, t0);
    CHECK_EQ_INT(a.threads.len, 2);
    CHECK(strcmp(pp_strtab_get(&st, ((struct pp_agg_thread *)pp_vec_at(&a.threads, t0))->name_id),
                 "renamed") == 0);
    CHECK_EQ_INT(((struct pp_agg_thread *)pp_vec_at(&a.threads, t1))->tid, 1240);

    /* counts per (stack, thread), timestamps kept in order */
    a.keep_timestamps = true;
    CHECK_EQ_INT(pp_agg_add(&a, s1, t0, 100), 0);
    CHECK_EQ_INT(pp_agg_add(&a, s1, t0, 200), 0);
    CHECK_EQ_INT(pp_agg_add(&a, s1, t1, 300), 0);
    CHECK_EQ_INT(pp_agg_add(&a, s3, t0, 400), 0);
    CHECK_EQ_INT(pp_agg_add(&a, s1, t0, 500), 0);
    CHECK_EQ_INT(a.total, 5);
    CHECK_EQ_INT(a.counts.len, 3);
    {
        const struct pp_agg_count *c = a.counts.data;
        CHECK(c[0].stack_id == s1 && c[0].thread_idx == t0 && c[0].count == 3);
        CHECK(c[1].stack_id == s1 && c[1].thread_idx == t1 && c[1].count == 1);
        CHECK(c[2].stack_id == s3 && c[2].thread_idx == t0 && c[2].count == 1);
    }
    CHECK_EQ_INT(a.samples.len, 5);
    {
        const struct pp_agg_sample *sm = a.samples.data;
        CHECK(sm[2].stack_id == s1 && sm[2].thread_idx == t1 && sm[2].t_ns == 300);
        CHECK(sm[4].t_ns == 500 && sm[3].stack_id == s3);
    }
    a.keep_timestamps = false;
    CHECK_EQ_INT(pp_agg_add(&a, s3, t0, 600), 0);
    CHECK_EQ_INT(a.samples.len, 5);
    CHECK_EQ_INT(a.total, 6);

    pp_agg_free(&a);
    pp_strtab_free(&st);
}

/* Many distinct frames and stacks through table growth: ids stay stable. */
static void
test_interning_many(void)
{
    struct pp_strtab st;
    struct pp_agg a;
    uint32_t i, id, bad = 0, file;
    char name[32];

    pp_strtab_init(&st);
    pp_agg_init(&a, &st);
    file = S(&st, "f.py");
    for (i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "fn%u", i % 500);
        if (pp_agg_frame(&a, PP_FRAME_PY, S(&st, name), file, (int)(i / 500), &id) || id != i)
            bad++;
    }
    for (i = 0; i < 20000; i += 7) {
        snprintf(name, sizeof name, "fn%u", i % 500);
        if (pp_agg_frame(&a, PP_FRAME_PY, S(&st, name), file, (int)(i / 500), &id) || id != i)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(a.frames.len, 20000);
    for (i = 0; i < 5000; i++) {
        uint32_t fr[3] = {i, i + 1, (i * 7) % 20000};
        if (pp_agg_stack(&a, fr, 1 + i % 3, &id) || id != i)
            bad++;
    }
    for (i = 0; i < 5000; i += 3) {
        uint32_t fr[3] = {i, i + 1, (i * 7) % 20000};
        if (pp_agg_stack(&a, fr, 1 + i % 3, &id) || id != i)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(a.stack_off.len, 5000);
    pp_agg_free(&a);
    pp_strtab_free(&st);
}

/* A small profile: two threads, three stacks, hostile names. */
struct profile {
    struct pp_strtab st;
    struct pp_agg a;
};

static void
build_profile(struct profile *p)
{
    uint32_t m, w, l, weird, nat, mark, s0, s1, s2, t0, t1;
    uint32_t app = 0, lib = 0, empty = 0;

    pp_strtab_init(&p->st);
    pp_agg_init(&p->a, &p->st);
    app = S(&p->st, "app.py");
    lib = S(&p->st, "libz.so.1");
    empty = S(&p->st, "");
    pp_agg_frame(&p->a, PP_FRAME_PY, S(&p->st, "<module>"), app, 30, &m);
    pp_agg_frame(&p->a, PP_FRAME_PY, S(&p->st, "Worker.run"), app, 12, &w);
    pp_agg_frame(&p->a, PP_FRAME_PY, S(&p->st, "leaf"), app, 3, &l);
    pp_agg_frame(&p->a, PP_FRAME_PY, S(&p->st, "we;ird\nname\tx"), S(&p->st, "dir;x/m\\n.py"),
                 7, &weird);
    pp_agg_frame(&p->a, PP_FRAME_NATIVE, S(&p->st, "deflate"), lib, 0, &nat);
    pp_agg_frame(&p->a, PP_FRAME_MARKER, S(&p->st, "<truncated>"), empty, 0, &mark);
    {
        uint32_t a0[] = {m, w, l}, a1[] = {m, w}, a2[] = {mark, m, weird, nat};
        pp_agg_stack(&p->a, a0, 3, &s0);
        pp_agg_stack(&p->a, a1, 2, &s1);
        pp_agg_stack(&p->a, a2, 4, &s2);
    }
    pp_agg_thread(&p->a, 4001, "MainThread", &t0);
    pp_agg_thread(&p->a, 4002, "pool;1\nx", &t1);
    pp_agg_add(&p->a, s0, t0, 1);
    pp_agg_add(&p->a, s0, t0, 2);
    pp_agg_add(&p->a, s1, t1, 3);
    pp_agg_add(&p->a, s0, t1, 4);
    pp_agg_add(&p->a, s2, t1, 5);
    pp_agg_add(&p->a, s0, t0, 6);
}

static void
free_profile(struct profile *p)
{
    pp_agg_free(&p->a);
    pp_strtab_free(&p->st);
}

static void
test_frame_text(void)
{
    struct profile p;
    char buf[256];

    build_profile(&p);
    pp_out_frame_text(&p.a, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "<module> (app.py:30)") == 0);
    pp_out_frame_text(&p.a, 3, buf, sizeof buf);
    CHECK(strcmp(buf, "we:ird name x (dir:x/m\\n.py:7)") == 0);
    pp_out_frame_text(&p.a, 4, buf, sizeof buf);
    CHECK(strcmp(buf, "deflate (libz.so.1)") == 0);
    pp_out_frame_text(&p.a, 5, buf, sizeof buf);
    CHECK(strcmp(buf, "<truncated>") == 0);
    pp_out_frame_text(&p.a, 0, buf, 9); /* truncation stays NUL-terminated */
    CHECK(strcmp(buf, "<module>") == 0);
    free_profile(&p);
}

static void
test_collapsed(void)
{
    struct profile p;
    char path[300];
    char *text;

    build_profile(&p);
    snprintf(path, sizeof path, "%s/out.collapsed", tmpdir);
    CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, path), 0);
    text = slurp(path);
    CHECK(text != NULL);
    if (text) {
        static const char want[] =
            "<module> (app.py:30);Worker.run (app.py:12);leaf (app.py:3) 4\n"
            "<module> (app.py:30);Worker.run (app.py:12) 1\n"
            "<truncated>;<module> (app.py:30);we:ird name x (dir:x/m\\n.py:7);deflate "
            "(libz.so.1) 1\n";
        CHECK(strcmp(text, want) == 0);
        if (strcmp(text, want) != 0)
            fprintf(stderr, "collapsed:\n%s---\nwanted:\n%s---\n", text, want);
    }
    free(text);

    CHECK_EQ_INT(pp_out_write_collapsed(&p.a, true, path), 0);
    text = slurp(path);
    CHECK(text != NULL);
    if (text) {
        static const char want[] =
            "thread 4001 (MainThread);<module> (app.py:30);Worker.run (app.py:12);leaf "
            "(app.py:3) 3\n"
            "thread 4002 (pool:1 x);<module> (app.py:30);Worker.run (app.py:12) 1\n"
            "thread 4002 (pool:1 x);<module> (app.py:30);Worker.run (app.py:12);leaf "
            "(app.py:3) 1\n"
            "thread 4002 (pool:1 x);<truncated>;<module> (app.py:30);we:ird name x "
            "(dir:x/m\\n.py:7);deflate (libz.so.1) 1\n";
        CHECK(strcmp(text, want) == 0);
        if (strcmp(text, want) != 0)
            fprintf(stderr, "collapsed --threads:\n%s---\nwanted:\n%s---\n", text, want);
    }
    free(text);
    CHECK_EQ_INT(count_tmp_files(tmpdir), 0);
    unlink(path);
    free_profile(&p);

    /* an empty profile is an empty file */
    {
        struct pp_strtab st;
        struct pp_agg a;
        pp_strtab_init(&st);
        pp_agg_init(&a, &st);
        CHECK_EQ_INT(pp_out_write_collapsed(&a, true, path), 0);
        text = slurp(path);
        CHECK(text && text[0] == '\0');
        free(text);
        unlink(path);
        pp_agg_free(&a);
        pp_strtab_free(&st);
    }
}

/* Undo the raw format's escaping in place. */
static void
unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static void
test_raw(void)
{
    struct profile p;
    struct pp_out_info info;
    char path[300];
    char *text, *line, *save = NULL;
    int nlines = 0, nM = 0, nS = 0, nT = 0, ns = 0, nF = 0, nK = 0, nC = 0, nP = 0, nE = 0;
    int magic_ok = 0, e_last = 0, meta_ok = 0, stat_ok = 0, str_ok = 0, k_ok = 0, c_ok = 0;
    int t_ok = 0, f_ok = 0;
    uint64_t csum = 0;

    build_profile(&p);
    p.a.keep_timestamps = true;
    pp_agg_add(&p.a, 0, 0, 777);
    memset(&info, 0, sizeof info);
    pp_out_meta(&info, "pid", "%d", 4001);
    pp_out_meta(&info, "cmdline", "%s", "python3 a\\b.py --x\t1\nnext");
    pp_out_stat(&info, "samples", 7);
    pp_out_stat(&info, "errors_baddata", 0);
    snprintf(path, sizeof path, "%s/out.raw", tmpdir);
    CHECK_EQ_INT(pp_out_write_raw(&p.a, &info, path), 0);
    CHECK_EQ_INT(count_tmp_files(tmpdir), 0);
    text = slurp(path);
    CHECK(text != NULL);
    if (!text) {
        free_profile(&p);
        return;
    }
    CHECK(text[strlen(text) - 1] == '\n');
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8] = {0};
        int nf = 0;
        char *q = line, *tab;
        nlines++;
        e_last = 0;
        /* no raw tab or newline can hide inside a field: split on tabs */
        while (nf < 8) {
            f[nf++] = q;
            tab = strchr(q, '\t');
            if (!tab)
                break;
            *tab = '\0';
            q = tab + 1;
        }
        if (nlines == 1) {
            magic_ok = nf == 2 && strcmp(f[0], "pyprof-raw") == 0 && strcmp(f[1], "1") == 0;
            continue;
        }
        switch (f[0][0]) {
        case 'M':
            nM++;
            if (nf == 3) {
                unescape(f[2]);
                if (strcmp(f[1], "cmdline") == 0 &&
                    strcmp(f[2], "python3 a\\b.py --x\t1\nnext") == 0)
                    meta_ok++;
                if (strcmp(f[1], "pid") == 0 && strcmp(f[2], "4001") == 0)
                    meta_ok++;
            }
            break;
        case 'S':
            nS++;
            if (nf == 3 && strcmp(f[1], "samples") == 0 && strcmp(f[2], "7") == 0)
                stat_ok++;
            break;
        case 'T':
            nT++;
            if (nf == 4) {
                unescape(f[3]);
                if (strcmp(f[1], "1") == 0 && strcmp(f[2], "4002") == 0 &&
                    strcmp(f[3], "pool;1\nx") == 0)
                    t_ok++;
            }
            break;
        case 's':
            ns++;
            if (nf == 3) {
                unsigned id = (unsigned)atoi(f[1]);
                unescape(f[2]);
                if (strcmp(f[2], pp_strtab_get(&p.st, id)) == 0)
                    str_ok++;
            }
            break;
        case 'F':
            nF++;
            if (nf == 6) {
                const struct pp_agg_frame *fr = pp_vec_at(&p.a.frames, (size_t)atoi(f[1]));
                const char *kind = fr->kind == PP_FRAME_PY       ? "py"
                                   : fr->kind == PP_FRAME_NATIVE ? "native"
                                                                 : "marker";
                if (strcmp(f[2], kind) == 0 && (uint32_t)atoi(f[3]) == fr->name_id &&
                    (uint32_t)atoi(f[4]) == fr->file_id && atoi(f[5]) == fr->line)
                    f_ok++;
            }
            break;
        case 'K':
            nK++;
            if (nf == 3 && ((strcmp(f[1], "0") == 0 && strcmp(f[2], "0 1 2") == 0) ||
                            (strcmp(f[1], "2") == 0 && strcmp(f[2], "5 0 3 4") == 0)))
                k_ok++;
            break;
        case 'C':
            nC++;
            if (nf == 4) {
                csum += strtoull(f[3], NULL, 10);
                if (strcmp(f[1], "0") == 0 && strcmp(f[2], "0") == 0 && strcmp(f[3], "4") == 0)
                    c_ok++;
            }
            break;
        case 'P':
            nP++;
            break;
        case 'E':
            nE++;
            e_last = nf == 1 && strcmp(f[0], "E") == 0;
            break;
        }
    }
    CHECK(magic_ok);
    CHECK(e_last); /* E is the very last line */
    CHECK_EQ_INT(nE, 1);
    CHECK_EQ_INT(nM, 2);
    CHECK_EQ_INT(meta_ok, 2);
    CHECK_EQ_INT(nS, 2);
    CHECK_EQ_INT(stat_ok, 1);
    CHECK_EQ_INT(nT, 2);
    CHECK_EQ_INT(t_ok, 1);
    CHECK_EQ_INT(ns, (int)pp_strtab_count(&p.st));
    CHECK_EQ_INT(str_ok, ns);
    CHECK_EQ_INT(nF, 6);
    CHECK_EQ_INT(f_ok, 6);
    CHECK_EQ_INT(nK, 3);
    CHECK_EQ_INT(k_ok, 2);
    CHECK_EQ_INT(nC, 4);
    CHECK_EQ_INT(c_ok, 1);
    CHECK_EQ_INT(csum, 7);
    CHECK_EQ_INT(nP, 1);
    free(text);
    unlink(path);
    free_profile(&p);
}

static void
test_atomic(void)
{
    struct profile p;
    struct pp_out_info info;
    char path[300], sub[300];
    char *text;

    build_profile(&p);
    memset(&info, 0, sizeof info);
    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/no-such-dir/out.txt", tmpdir);
    CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, path), PP_EOUTPUT);
    CHECK_EQ_INT(pp_out_write_raw(&p.a, &info, path), PP_EOUTPUT);
    CHECK_EQ_INT(count_tmp_files(tmpdir), 0);

    /* the final rename fails (the target is a non-empty directory): the
     * temporary file must be gone and the directory untouched */
    snprintf(sub, sizeof sub, "%s/isdir", tmpdir);
    CHECK_EQ_INT(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/isdir/keep", tmpdir);
    {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f)
            fclose(f);
    }
    CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, sub), PP_EOUTPUT);
    CHECK_EQ_INT(pp_out_write_raw(&p.a, &info, sub), PP_EOUTPUT);
    CHECK_EQ_INT(count_tmp_files(tmpdir), 0);
    CHECK(access(path, F_OK) == 0);
    unlink(path);
    rmdir(sub);

    /* overwriting replaces the whole old content */
    snprintf(path, sizeof path, "%s/over.txt", tmpdir);
    {
        FILE *f = fopen(path, "w");
        if (f) {
            int i;
            for (i = 0; i < 1000; i++)
                fputs("old old old old old old old old\n", f);
            fclose(f);
        }
    }
    CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, path), 0);
    text = slurp(path);
    CHECK(text && strstr(text, "old") == NULL && strncmp(text, "<module>", 8) == 0);
    free(text);
    {   /* a new file is 0600 whatever the umask; the old one's mode does not leak */
        struct stat st;
        mode_t old = umask(0);
        CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, path), 0);
        umask(old);
        CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    }
    unlink(path);
    CHECK_EQ_INT(count_tmp_files(tmpdir), 0);

    /* a symlink at the path (to a file): refused, the file untouched */
    {
        char victim[300];
        int e = 0;
        bool tmp = true;
        snprintf(victim, sizeof victim, "%s/victim", tmpdir);
        snprintf(path, sizeof path, "%s/link.txt", tmpdir);
        {
            FILE *f = fopen(victim, "w");
            CHECK(f != NULL);
            if (f) {
                fputs("precious\n", f);
                fclose(f);
            }
        }
        CHECK_EQ_INT(symlink(victim, path), 0);
        CHECK_EQ_INT(pp_out_write_collapsed(&p.a, false, path), PP_EOUTPUT);
        CHECK(strcmp(pp_out_error(&e, &tmp), path) == 0 && e == ELOOP && !tmp);
        text = slurp(victim);
        CHECK(text && strcmp(text, "precious\n") == 0);
        free(text);
        /* a symlink to a character device is written through, never replaced */
        unlink(path);
        CHECK_EQ_INT(symlink("/dev/null", path), 0);
        CHECK_EQ_INT(pp_out_write_raw(&p.a, &info, path), 0);
        {
            struct stat st;
            CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
        }
        unlink(path);
        unlink(victim);
        CHECK_EQ_INT(count_tmp_files(tmpdir), 0);
    }
    free_profile(&p);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/pyprof-test-out-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_interning();
    test_interning_many();
    test_frame_text();
    test_collapsed();
    test_raw();
    test_atomic();
    CHECK_EQ_INT(intern_failures, 0);
    CHECK_EQ_INT(rmdir(tmpdir), 0); /* nothing left behind */
    TEST_DONE();
}
