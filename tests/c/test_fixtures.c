/*
 * tests/c/test_fixtures.c -- replay the snapshot fixtures of
 * tests/fixtures/ (made by tools/make_fixtures.sh from live interpreters)
 * through the whole decoding pipeline, and fuzz them.
 *
 * For every tests/fixtures/<name>.snap:
 *   - load it (pp_mem_snap_load), read version_hex and runtime_addr from
 *     its meta text;
 *   - build the layout: the target's own _Py_DebugOffsets for 3.13+, the
 *     static table before;
 *   - walk every thread (pp_pyframe_threads / _walk / _resolve), aggregate
 *     as the sampler does, write collapsed, and compare it line-set-equal
 *     with <name>.snap.expected, what the sampler produced live; once
 *     without and once with the page cache;
 *   - corrupt the snapshot's bytes (seeded PRNG, 200 rounds) and run the
 *     same pipeline: errors are fine, crashes are not (ASan/UBSan).
 *
 * The fixture directory is FIXTURE_DIR when defined, else tests/fixtures
 * relative to the current directory (make check runs from the repo root).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "out.h"
#include "py/layout.h"
#include "py/offsets_table.h"
#include "pycode.h"
#include "pyframe.h"
#include "pystack.h"
#include "tap.h"
#include "util.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures"
#endif

#define CORRUPT_ROUNDS 200 /* per fixture; PP_FIXTURE_ROUNDS=N overrides */

static int corrupt_rounds = CORRUPT_ROUNDS;

static char tmpdir[256];

static void
quiet_sink(enum pp_log_level level, const char *msg)
{
    (void)level;
    (void)msg;
}

static char *
slurp(const char *path, size_t *len)
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
    if (len)
        *len = (size_t)n;
    return buf;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits text into sorted lines (in place). */
static size_t
sorted_lines(char *text, char ***out)
{
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v), *save = NULL, *line;
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = line;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static int
meta_u64(const char *meta, const char *key, uint64_t *out)
{
    const char *p = meta;
    size_t klen = strlen(key);
    while (p && *p) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char *end;
            *out = strtoull(p + klen + 1, &end, 0);
            return end != p + klen + 1 ? 0 : -1;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* What one replay produced. */
struct replay {
    int layout_err, threads_err;
    size_t threads, stacks, walk_errors;
};

/* The sampler's pipeline (sample.c: sample_thread, through pystack.c) on
 * one memory image.
 * Writes collapsed to out_path when it is not NULL. */
static int
replay(struct pp_mem *mem, uint32_t version_hex, uint64_t runtime_addr, bool force_static,
       const char *out_path, struct replay *r)
{
    struct pp_pylayout L;
    struct pp_pywalker w;
    struct pp_strtab strs;
    struct pp_pycode codes;
    struct pp_agg agg;
    struct pp_vec threads;
    struct pp_pystack_reader reader;
    struct pp_pylocals locals = {0}; /* dump --locals on the same frames (corrupted too) */
    uint32_t *stack = calloc(PP_MAX_DEPTH + 2, sizeof *stack);
    uint32_t trunc_frame = 0, name, file;
    size_t i;
    int err = 0;

    memset(r, 0, sizeof *r);
    if (force_static)
        r->layout_err = pp_pylayout_static(version_hex, &L);
    else
        r->layout_err = pp_pylayout_pick(mem, runtime_addr, version_hex, &L);
    if (r->layout_err) {
        free(stack);
        return r->layout_err;
    }
    pp_strtab_init(&strs);
    pp_pycode_init(&codes, &strs);
    pp_agg_init(&agg, &strs);
    pp_vec_init(&threads, sizeof(struct pp_pythread));
    pp_pywalker_init(&w, mem, &L, &codes, runtime_addr);
    pp_mem_cache_reset(mem);
    if (pp_pystack_init(&reader, &w, &codes, &agg) ||
        pp_strtab_intern(&strs, "<truncated>", 11, &name) ||
        pp_strtab_intern(&strs, "", 0, &file) ||
        pp_agg_frame(&agg, PP_FRAME_MARKER, name, file, 0, &trunc_frame))
        err = PP_ENOMEM;
    reader.locals = &locals;
    if (!err)
        r->threads_err = pp_pyframe_threads(&w, &threads);
    r->threads = threads.len;
    for (i = 0; !err && !r->threads_err && i < threads.len; i++) {
        struct pp_pythread *t = pp_vec_at(&threads, i);
        struct pp_pystack ps;
        size_t k, depth = 0;
        uint32_t sid, tidx;
        /* the reader the sampler uses (retries included) */
        int e = pp_pystack_read(&reader, t, PP_MAX_DEPTH, &ps);
        if (e) {
            r->walk_errors++;
            continue;
        }
        if (ps.truncated)
            stack[depth++] = trunc_frame;
        for (k = 0; k < ps.n; k++)
            if (ps.v[k].id != UINT32_MAX)
                stack[depth++] = ps.v[k].id;
        if (depth == (ps.truncated ? 1u : 0u))
            continue;
        if (err || (err = pp_agg_stack(&agg, stack, depth, &sid)) ||
            (err = pp_agg_thread(&agg, t->native_tid > 0 ? (int)t->native_tid : 0, "t",
                                 &tidx)) ||
            (err = pp_agg_add(&agg, sid, tidx, 0)))
            break;
    }
    r->stacks = agg.stack_off.len;
    if (!err && out_path)
        err = pp_out_write_collapsed(&agg, false, out_path);
    pp_pystack_free(&reader);
    pp_pylocals_free(&locals);
    pp_pywalker_free(&w);
    pp_vec_free(&threads);
    pp_agg_free(&agg);
    pp_pycode_free(&codes);
    pp_strtab_free(&strs);
    free(stack);
    return err;
}

/* Line-set comparison of two collapsed files; prints the difference. */
static int
same_lines(const char *got_path, const char *want_path, const char *name)
{
    char *got = slurp(got_path, NULL), *want = slurp(want_path, NULL);
    char **g = NULL, **wv = NULL;
    size_t ng, nw, i;
    int same;

    if (!got || !want) {
        fprintf(stderr, "  %s: cannot read %s\n", name, got ? want_path : got_path);
        free(got);
        free(want);
        return 0;
    }
    ng = sorted_lines(got, &g);
    nw = sorted_lines(want, &wv);
    same = ng == nw && ng > 0;
    for (i = 0; same && i < ng; i++)
        same = strcmp(g[i], wv[i]) == 0;
    if (!same) {
        fprintf(stderr, "  %s: replay differs from the live sample\n  replay:\n", name);
        for (i = 0; i < ng; i++)
            fprintf(stderr, "    %s\n", g[i]);
        fprintf(stderr, "  expected:\n");
        for (i = 0; i < nw; i++)
            fprintf(stderr, "    %s\n", wv[i]);
    }
    free(g);
    free(wv);
    free(got);
    free(want);
    return same;
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Offsets of region payload bytes in a snapshot file, so corruption hits
 * memory contents rather than the framing (which the parser tests cover). */
struct span {
    size_t off, len;
    uint64_t addr;
};

static size_t
payload_spans(const uint8_t *buf, size_t len, struct span *out, size_t max)
{
    size_t p = 12, n = 0;
    uint32_t ml;
    if (len < 12)
        return 0;
    memcpy(&ml, buf + 8, 4);
    p += ml;
    while (p + 16 <= len && n < max) {
        uint64_t a, l;
        memcpy(&a, buf + p, 8);
        memcpy(&l, buf + p + 8, 8);
        p += 16;
        if ((a == 0 && l == 0) || l > len - p)
            break;
        out[n].off = p;
        out[n].len = (size_t)l;
        out[n].addr = a;
        n++;
        p += (size_t)l;
    }
    return n;
}

static void
corrupt_once(uint8_t *buf, const struct span *sp, size_t nsp)
{
    const struct span *s = &sp[rng() % nsp];
    size_t k, nmut = 1 + rng() % 6;

    for (k = 0; k < nmut; k++) {
        size_t at = s->off + (size_t)(rng() % s->len);
        switch (rng() % 4) {
        case 0: /* flip one bit */
            buf[at] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1: /* random byte */
            buf[at] = (uint8_t)rng();
            break;
        case 2: { /* an aligned word set to something nasty */
            static const uint64_t nasty[] = {0,
                                             1,
                                             8,
                                             0x7fffffffffffffffULL,
                                             0xffffffffffffffffULL,
                                             0x00007ffffffff000ULL,
                                             0x80000000ULL,
                                             0x10000,
                                             (uint64_t)-8};
            size_t word = (s->off + ((at - s->off) & ~(size_t)7));
            uint64_t v = nasty[rng() % (sizeof nasty / sizeof nasty[0])];
            if (word + 8 <= s->off + s->len)
                memcpy(buf + word, &v, 8);
            break;
        }
        default: { /* a pointer into some captured region (maybe itself) */
            const struct span *t = &sp[rng() % nsp];
            size_t word = (s->off + ((at - s->off) & ~(size_t)7));
            uint64_t v = t->addr + (rng() % (t->len + 1) & ~(uint64_t)7);
            if (word + 8 <= s->off + s->len)
                memcpy(buf + word, &v, 8);
            break;
        }
        }
    }
}

/*
 * 3.15+: a chain is complete only where it reaches the thread's base frame
 * (thread_state.base_frame).  Take the fixture's chains, check they end on
 * an entry frame linked to the base frame, then cut one of them there
 * (the entry frame's `previous` set to NULL, which 3.12 - 3.14 would take
 * as a normal end): the walk must call it torn.
 */
static int
walk_thread0(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t runtime_addr,
             struct pp_pyframe_raw *raw, size_t *n, struct pp_pythread *t0, uint64_t only)
{
    struct pp_strtab strs;
    struct pp_pycode codes;
    struct pp_pywalker w;
    struct pp_vec threads;
    bool truncated;
    size_t i;
    int err;

    pp_strtab_init(&strs);
    pp_pycode_init(&codes, &strs);
    pp_vec_init(&threads, sizeof(struct pp_pythread));
    pp_pywalker_init(&w, mem, L, &codes, runtime_addr);
    err = pp_pyframe_threads(&w, &threads);
    *n = 0;
    for (i = 0; !err && i < threads.len; i++) { /* the thread with the deepest chain */
        const struct pp_pythread *t = pp_vec_at(&threads, i);
        size_t m = 0;
        if (only && t->tstate_addr != only)
            continue;
        err = pp_pyframe_walk(&w, t, raw, PP_MAX_DEPTH, &m, &truncated);
        if (!err && m > *n) {
            *n = m;
            *t0 = *t;
        }
    }
    if (!err && *n)
        err = pp_pyframe_walk(&w, t0, raw, PP_MAX_DEPTH, n, &truncated);
    pp_pywalker_free(&w);
    pp_vec_free(&threads);
    pp_pycode_free(&codes);
    pp_strtab_free(&strs);
    return err;
}

static void
test_base_frame_ends_chains(const char *path, uint32_t version_hex, uint64_t runtime_addr)
{
    struct pp_pyframe_raw *raw = calloc(PP_MAX_DEPTH, sizeof *raw);
    struct span spans[4096];
    struct pp_pylayout L;
    struct pp_pythread t0;
    struct pp_mem *mem = NULL;
    uint8_t *file;
    size_t flen, n = 0, nsp, i;
    uint64_t prev_addr, base;
    bool patched = false;

    file = (uint8_t *)slurp(path, &flen);
    CHECK(file != NULL && raw != NULL);
    if (!file || !raw)
        goto out;
    CHECK_EQ_INT(pp_mem_snap_from_buffer(file, flen, &mem), 0);
    CHECK_EQ_INT(pp_pylayout_from_debug_offsets(mem, runtime_addr, &L), 0);
    CHECK(L.tstate_base_frame >= 0);
    CHECK_EQ_INT(walk_thread0(mem, &L, runtime_addr, raw, &n, &t0, 0), 0);
    pp_mem_free(mem);
    mem = NULL;
    CHECK(n >= 2 && t0.base_frame != 0);
    if (n < 2)
        goto out;
    /* the last frame walked is an entry frame whose caller is the base frame */
    CHECK(raw[n - 1].flags & PP_RAWF_SHIM);
    prev_addr = raw[n - 1].frame_addr + (uint64_t)L.o.iframe_previous;
    nsp = payload_spans(file, flen, spans, sizeof spans / sizeof spans[0]);
    for (i = 0; i < nsp && !patched; i++) {
        if (prev_addr >= spans[i].addr && prev_addr + 8 <= spans[i].addr + spans[i].len) {
            size_t off = spans[i].off + (size_t)(prev_addr - spans[i].addr);
            memcpy(&base, file + off, 8);
            CHECK(base == t0.base_frame);
            memset(file + off, 0, 8);
            patched = true;
        }
    }
    CHECK(patched);
    CHECK_EQ_INT(pp_mem_snap_from_buffer(file, flen, &mem), 0);
    if (mem) {
        uint64_t ts = t0.tstate_addr;
        CHECK_EQ_INT(walk_thread0(mem, &L, runtime_addr, raw, &n, &t0, ts), PP_EBADDATA);
        /* the 3.14 rule alone (no base frame) would have taken the cut chain */
        L.tstate_base_frame = PP_OFF_NONE;
        CHECK_EQ_INT(walk_thread0(mem, &L, runtime_addr, raw, &n, &t0, ts), 0);
    }
    (void)version_hex;
out:
    pp_mem_free(mem);
    free(file);
    free(raw);
}

static void
test_fixture(const char *dir, const char *name, int index)
{
    char path[1024], expected[1100], out[600];
    struct pp_mem *mem = NULL;
    const char *meta;
    uint64_t version_hex = 0, runtime_addr = 0;
    struct replay r;
    uint8_t *file;
    size_t flen, nsp;
    struct span spans[4096];
    int round, ok_runs = 0, crashes_would_be_here = 0;
    int n_layout = 0, n_threads = 0, n_walk = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(expected, sizeof expected, "%s.expected", path);
    snprintf(out, sizeof out, "%s/%s.collapsed", tmpdir, name);
    fprintf(stderr, "# fixture %s\n", name);

    CHECK_EQ_INT(pp_mem_snap_load(path, &mem), 0);
    if (!mem)
        return;
    meta = pp_mem_snap_meta(mem);
    CHECK(meta != NULL);
    CHECK_EQ_INT(meta_u64(meta ? meta : "", "version_hex", &version_hex), 0);
    CHECK_EQ_INT(meta_u64(meta ? meta : "", "runtime_addr", &runtime_addr), 0);
    CHECK((version_hex >> 24) == 3 && runtime_addr != 0);

    /* the live sample's own expectations: the workload's chain is there */
    {
        char *exp = slurp(expected, NULL);
        CHECK(exp != NULL);
        if (exp) {
            CHECK(strstr(exp, "main (") && strstr(exp, ";outer (") && strstr(exp, "method (") &&
                  strstr(exp, ";leaf (") && strstr(exp, ";nap ("));
            free(exp);
        }
    }

    /* replay without, then with, the page cache */
    CHECK_EQ_INT(replay(mem, (uint32_t)version_hex, runtime_addr, false, out, &r), 0);
    CHECK_EQ_INT(r.layout_err, 0);
    CHECK_EQ_INT(r.threads_err, 0);
    CHECK_EQ_INT(r.threads, 2);
    CHECK_EQ_INT(r.walk_errors, 0);
    CHECK(same_lines(out, expected, name));
    CHECK_EQ_INT(pp_mem_cache_enable(mem), 0);
    CHECK_EQ_INT(replay(mem, (uint32_t)version_hex, runtime_addr, false, out, &r), 0);
    CHECK_EQ_INT(r.walk_errors, 0);
    CHECK(same_lines(out, expected, name));
    /* 3.13: the debug table and the static table agree on this build */
    if (((version_hex >> 16) & 0xff) == 13) {
        struct pp_pylayout D, S;
        CHECK_EQ_INT(pp_pylayout_from_debug_offsets(mem, runtime_addr, &D), 0);
        CHECK_EQ_INT(pp_pylayout_static((uint32_t)version_hex, &S), 0);
        CHECK_EQ_INT(D.o.tstate_current_frame, S.o.tstate_current_frame);
        CHECK_EQ_INT(D.o.iframe_owner, S.o.iframe_owner);
        CHECK_EQ_INT(D.o.interp_threads_head, S.o.interp_threads_head);
    }
    /* 3.14+: no static layout; the debug table agrees with the table
     * generated from the same build's headers, and the derived fields
     * (_co_firsttraceable, the compact unicode header) come out right */
    if (((version_hex >> 16) & 0xff) >= 14) {
        struct pp_pylayout D, S;
        const struct pp_pyoffsets *g = pp_pyoffsets_for(3, (version_hex >> 16) & 0xff, false);
        CHECK_EQ_INT(pp_pylayout_from_debug_offsets(mem, runtime_addr, &D), 0);
        CHECK_EQ_INT(pp_pylayout_static((uint32_t)version_hex, &S), PP_EVERSION);
        CHECK(g != NULL);
        if (g) {
            CHECK_EQ_INT(D.o.tstate_current_frame, g->tstate_current_frame);
            CHECK_EQ_INT(D.o.iframe_owner, g->iframe_owner);
            CHECK_EQ_INT(D.o.interp_threads_head, g->interp_threads_head);
            CHECK_EQ_INT(D.o.code_firsttraceable, g->code_firsttraceable);
            CHECK_EQ_INT(D.o.unicode_compact_size, g->unicode_compact_size);
        }
    }
    unlink(out);
    pp_mem_free(mem);
    if (((version_hex >> 16) & 0xff) >= 15)
        test_base_frame_ends_chains(path, (uint32_t)version_hex, runtime_addr);

    /* corruption */
    file = (uint8_t *)slurp(path, &flen);
    CHECK(file != NULL);
    if (!file)
        return;
    nsp = payload_spans(file, flen, spans, sizeof spans / sizeof spans[0]);
    CHECK(nsp > 10);
    rng_state = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)index * 0x100000001b3ULL);
    for (round = 0; nsp && round < corrupt_rounds; round++) {
        uint8_t *c = malloc(flen);
        struct pp_mem *cm = NULL;
        memcpy(c, file, flen);
        corrupt_once(c, spans, nsp);
        if (pp_mem_snap_from_buffer(c, flen, &cm) == 0) {
            if (round & 1)
                pp_mem_cache_enable(cm);
            /* the real layout path, and (so 3.13's walk is fuzzed even when
             * the corrupted debug table is refused) the static one */
            if (replay(cm, (uint32_t)version_hex, runtime_addr, false,
                       round % 10 == 0 ? out : NULL, &r) == 0)
                ok_runs++;
            n_layout += r.layout_err != 0;
            n_threads += r.threads_err != 0;
            n_walk += r.walk_errors != 0;
            (void)replay(cm, (uint32_t)version_hex, runtime_addr, true, NULL, &r);
            pp_mem_free(cm);
        } else {
            crashes_would_be_here++; /* payload-only changes never break framing */
        }
        free(c);
    }
    unlink(out);
    fprintf(stderr, "#   %d corrupted replays: %d layouts refused, %d thread lists and %d "
                    "frame walks failed, no crash\n",
            corrupt_rounds, n_layout, n_threads, n_walk);
    CHECK_EQ_INT(crashes_would_be_here, 0);
    CHECK(ok_runs > 0);
    free(file);
}

int
main(void)
{
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, i;

    pp_log_set_sink(quiet_sink);
    if (getenv("PP_FIXTURE_ROUNDS") && atoi(getenv("PP_FIXTURE_ROUNDS")) > 0)
        corrupt_rounds = atoi(getenv("PP_FIXTURE_ROUNDS"));
    snprintf(tmpdir, sizeof tmpdir, "%s/pyprof-test-fix-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    d = opendir(FIXTURE_DIR);
    if (!d) {
        fprintf(stderr, "test_fixtures: no fixture directory %s (run from the repository "
                        "root, or make them with tools/make_fixtures.sh)\n",
                FIXTURE_DIR);
        CHECK(d != NULL);
        rmdir(tmpdir);
        TEST_DONE();
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".snap") == 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    /* at least 3.8 - 3.13 */
    CHECK(n >= 6);
    for (i = 0; i < n; i++) {
        test_fixture(FIXTURE_DIR, names[i], (int)i);
        free(names[i]);
    }
    free(names);
    CHECK_EQ_INT(rmdir(tmpdir), 0);
    TEST_DONE();
}
