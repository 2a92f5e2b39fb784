/*
 * pystack.c -- one thread's Python stack (see pystack.h).
 */
#include "pystack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct pp_pystack_cached {
    uint64_t code_addr;
    int64_t instr;
    uint32_t frame_id; /* UINT32_MAX: a frame not reported (shim, incomplete) */
};

/* At most this many cached raw frames (then the cache starts over). */
#define CACHE_MAX (1u << 20)

int
pp_pystack_init(struct pp_pystack_reader *r, struct pp_pywalker *walker,
                struct pp_pycode *codes, struct pp_agg *agg)
{
    r->walker = walker;
    r->codes = codes;
    r->agg = agg;
    pp_vec_init(&r->cache, sizeof(struct pp_pystack_cached));
    pp_hmap_init(&r->cache_ids);
    r->cache_stale = codes->stale;
    r->retries = 0;
    r->nrecent = r->recent_next = 0;
    r->nraw = 0;
    r->locals = NULL; /* dump --locals sets it */
    r->raw = calloc(PP_MAX_DEPTH, sizeof(*r->raw));
    r->runs = calloc(PP_MAX_DEPTH + 1, sizeof(*r->runs));
    return r->raw && r->runs ? 0 : PP_ENOMEM;
}

void
pp_pystack_free(struct pp_pystack_reader *r)
{
    pp_vec_free(&r->cache);
    pp_hmap_free(&r->cache_ids);
    free(r->raw);
    free(r->runs);
    r->raw = NULL;
    r->runs = NULL;
}

/*
 * Raw frame (code address, instruction) -> interned frame id.  In steady
 * state this is one hash lookup per frame instead of a code-cache lookup,
 * a line-table decode and an interning.  Valid while no code object went
 * stale: any stale entry clears it (rare: code objects dying at a reused
 * address).
 */
int
pp_pystack_frame_id(struct pp_pystack_reader *r, const struct pp_pyframe_raw *raw, uint32_t *id,
                    bool *skip)
{
    struct pp_pystack_cached e;
    struct pp_pyframe f;
    uint64_t h, v;
    int err;

    if (r->cache_stale != r->codes->stale || r->cache.len >= CACHE_MAX) {
        pp_hmap_clear(&r->cache_ids);
        r->cache.len = 0;
        r->cache_stale = r->codes->stale;
    }
    h = pp_hash_u64(raw->code_addr ^ pp_hash_u64((uint64_t)raw->instr));
    for (;; h++) {
        const struct pp_pystack_cached *c;
        if (!pp_hmap_get(&r->cache_ids, h, &v))
            break;
        c = pp_vec_at(&r->cache, v - 1);
        if (c->code_addr == raw->code_addr && c->instr == raw->instr) {
            *skip = c->frame_id == UINT32_MAX;
            *id = c->frame_id;
            return 0;
        }
    }
    err = pp_pyframe_name(r->walker, r->codes, raw, &f, skip);
    if (err)
        return err;
    e.code_addr = raw->code_addr;
    e.instr = raw->instr;
    e.frame_id = UINT32_MAX;
    if (!*skip) {
        err = pp_agg_frame(r->agg, PP_FRAME_PY, f.name_id, f.file_id, f.line, &e.frame_id);
        if (err)
            return err;
        *id = e.frame_id;
    }
    if (r->cache_stale != r->codes->stale) /* naming found a stale entry */
        return 0;
    if ((err = pp_vec_append(&r->cache, &e)))
        return err;
    return pp_hmap_put(&r->cache_ids, h, r->cache.len);
}

/* A new entry of r->runs; a run's first entry carries where the run is. */
static void
add_entry(struct pp_pystack_reader *r, size_t *k, uint32_t id, bool start, uint64_t base)
{
    struct pp_merge_py *e = &r->runs[(*k)++];
    e->id = id;
    e->run_start = start;
    e->base_addr = start ? base : 0;
    e->top_addr = 0;
    e->code_lo = 0;
    e->code_hi = 0;
}

/* 3.11+: each run's code_lo holds its top frame's code object: make it
 * that code's bytecode [lo, hi), where the activation's instruction
 * pointer is (the join evidence, merge.h).  Cached code objects: a
 * lookup each. */
static void
code_ranges(struct pp_pystack_reader *r, size_t k, bool objects)
{
    const struct pp_pylayout *L = r->walker->L;
    size_t i;
    for (i = 0; i < k; i++) {
        struct pp_merge_py *e = &r->runs[i];
        const struct pp_pycode_info *info;
        uint64_t code = e->code_lo;
        e->code_lo = e->code_hi = 0;
        if (objects || !e->run_start || !code || L->o.code_code_adaptive < 0 ||
            pp_pycode_get(r->codes, r->walker->mem, L, code, &info) != 0 || info->code_bytes <= 0)
            continue;
        e->code_lo = code + (uint64_t)L->o.code_code_adaptive;
        e->code_hi = e->code_lo + (uint64_t)info->code_bytes;
    }
}

/* raw[0..n) (innermost first) -> r->runs, root first. */
static int
name_runs(struct pp_pystack_reader *r, size_t n, struct pp_pystack *out)
{
    bool every = r->walker->L->frames == PP_FRAMES_OBJECTS; /* one activation per frame */
    bool pending = false;
    uint64_t shim = 0; /* the pending shim's address */
    size_t i, k = 0, cur = SIZE_MAX; /* cur: the current run's first entry */
    int err;

    for (i = n; i-- > 0;) {
        const struct pp_pyframe_raw *raw = &r->raw[i];
        uint32_t id;
        bool skip, start;
        if (raw->flags & PP_RAWF_SHIM) {
            if (pending) /* an activation with no frame of its own */
                add_entry(r, &k, UINT32_MAX, true, shim);
            pending = true;
            shim = raw->frame_addr;
            continue;
        }
        start = every || pending || (raw->flags & PP_RAWF_ENTRY);
        if ((err = pp_pystack_frame_id(r, raw, &id, &skip)))
            return err;
        pending = false;
        if (start) {
            cur = k;
            add_entry(r, &k, skip ? UINT32_MAX : id, true, every ? raw->frame_addr : shim);
            shim = 0;
        } else if (!skip) {
            add_entry(r, &k, id, false, 0);
        }
        if (cur != SIZE_MAX) { /* the innermost frame so far of the current run */
            r->runs[cur].top_addr = raw->frame_addr;
            r->runs[cur].code_lo = raw->code_addr; /* for code_range() */
        }
    }
    if (pending)
        add_entry(r, &k, UINT32_MAX, true, shim);
    code_ranges(r, k, every);
    out->v = r->runs;
    out->n = k;
    return 0;
}

/* Remembers the innermost run's bytecode range among the recent ones. */
static void
note_recent(struct pp_pystack_reader *r, struct pp_pystack *out)
{
    const struct pp_merge_py *top = NULL;
    size_t i, k;
    for (i = out->n; i-- > 0;)
        if (out->v[i].run_start || i == 0) {
            top = &out->v[i];
            break;
        }
    if (!top || !top->code_lo)
        return;
    for (i = 0; i < r->nrecent; i++)
        if (r->recent[i][0] == top->code_lo && r->recent[i][1] == top->code_hi)
            return;
    r->recent[r->recent_next][0] = top->code_lo;
    r->recent[r->recent_next][1] = top->code_hi;
    r->recent_next = (r->recent_next + 1) % PP_PYSTACK_RECENT;
    if (r->nrecent < PP_PYSTACK_RECENT)
        r->nrecent++;
    for (i = 0; i < r->nrecent; i++) { /* insertion sort by lo */
        for (k = i; k > 0 && r->recent_sorted[2 * (k - 1)] > r->recent[i][0]; k--) {
            r->recent_sorted[2 * k] = r->recent_sorted[2 * (k - 1)];
            r->recent_sorted[2 * k + 1] = r->recent_sorted[2 * (k - 1) + 1];
        }
        r->recent_sorted[2 * k] = r->recent[i][0];
        r->recent_sorted[2 * k + 1] = r->recent[i][1];
    }
}

static int
read_once(struct pp_pystack_reader *r, struct pp_pythread *t, size_t max,
          struct pp_pystack *out)
{
    size_t n;
    int err = pp_pyframe_walk(r->walker, t, r->raw, max, &n, &out->truncated);
    r->nraw = err ? 0 : n;
    if (!err)
        err = pp_pyframe_validate(r->walker, r->codes, r->raw, n);
    if (!err)
        err = name_runs(r, n, out);
    return err;
}

int
pp_pystack_name(struct pp_pystack_reader *r, const struct pp_pyframe_raw *raw, size_t n,
                bool truncated, struct pp_pystack *out)
{
    int err;

    out->v = r->runs;
    out->n = 0;
    out->truncated = truncated;
    if (n > PP_MAX_DEPTH)
        return PP_EINTERNAL;
    if (raw != r->raw)
        memcpy(r->raw, raw, n * sizeof *raw);
    r->walker->cur = NULL; /* nothing read ahead for these frames */
    err = pp_pyframe_validate(r->walker, r->codes, r->raw, n);
    if (!err)
        err = name_runs(r, n, out);
    if (err)
        out->n = 0;
    return err;
}

/* dump --locals: the locals of every named frame of the read just made,
 * root first, kept under the thread's TID.  Rendering errors are counted
 * in r->locals->errors and shown in the text, never fail the read. */
static int
read_locals(struct pp_pystack_reader *r, const struct pp_pythread *t)
{
    char **frames = calloc(r->nraw ? r->nraw : 1, sizeof *frames);
    size_t i, k = 0;
    int err = 0;

    if (!frames)
        return PP_ENOMEM;
    for (i = r->nraw; i-- > 0;) {
        const struct pp_pyframe_raw *raw = &r->raw[i];
        uint32_t id;
        bool skip;
        if (raw->flags & PP_RAWF_SHIM)
            continue;
        if (pp_pystack_frame_id(r, raw, &id, &skip) || skip)
            continue;
        if ((err = pp_pylocals_frame(r->walker->mem, r->walker->L, raw->frame_addr, raw->code_addr,
                                     &frames[k], &r->locals->errors)))
            break;
        k++;
    }
    if (!err)
        err = pp_pylocals_set(r->locals, t->native_tid, frames, k);
    if (err) {
        for (i = 0; i < k; i++)
            free(frames[i]);
        free(frames);
    }
    return err;
}

int
pp_pystack_read(struct pp_pystack_reader *r, struct pp_pythread *t, size_t max,
                struct pp_pystack *out)
{
    int attempt, err;

    out->v = r->runs;
    out->n = 0;
    out->truncated = false;
    out->cframe_addr = 0;
    if (max > PP_MAX_DEPTH)
        max = PP_MAX_DEPTH;
    err = read_once(r, t, max, out);
    for (attempt = 1; err && pp_err_class(err) != PP_FATAL && attempt < PP_PYSTACK_ATTEMPTS;
         attempt++) {
        /* The target kept running while we read: a frame was freed and
         * reused, a generator yielded, a C frame returned.  Read this
         * thread again at once. */
        r->retries++;
        if (pp_pyframe_reread(r->walker, t) == 0)
            err = read_once(r, t, max, out);
    }
    if (err) {
        out->n = 0;
    } else {
        out->cframe_addr = t->cframe_addr;
        note_recent(r, out);
        if (r->locals && (err = read_locals(r, t)))
            out->n = 0;
    }
    out->recent_code = r->recent_sorted;
    out->nrecent = r->nrecent;
    return err;
}
