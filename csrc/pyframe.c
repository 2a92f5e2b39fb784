/*
 * pyframe.c -- walk thread states and frame chains (layer L3).
 *
 * Everything read here races with the running target.  Every loop has a
 * hard bound, a cycle in a chain ends the walk with PP_EBADDATA, and a
 * pointer is sanity-checked (non-NULL, 8-aligned, user-space) before it is
 * followed.
 *
 * 3.11+ reads go through a local copy of the thread's current data-stack
 * chunk (one process_vm_readv for a whole run of frames); frames outside
 * it (generators, older chunks) are read one by one through the page
 * cache.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "pyframe.h"

#define CHUNK_COPY_MAX (256u << 10)
#define PTHREAD_SCAN 2048
#define TSTATE_MAX 1024

static bool
ptr_ok(uint64_t p)
{
    return p >= 4096 && (p & 7) == 0 && p < 0x0000800000000000ULL;
}

static uint64_t
u64_at(const uint8_t *buf, int32_t off)
{
    uint64_t v;
    memcpy(&v, buf + off, 8);
    return v;
}

void
pp_pywalker_init(struct pp_pywalker *w, struct pp_mem *mem, const struct pp_pylayout *L,
                 uint64_t runtime_addr)
{
    memset(w, 0, sizeof(*w));
    w->mem = mem;
    w->L = L;
    w->runtime_addr = runtime_addr;
    w->tid_offset = -1;
    pp_hmap_init(&w->tid_cache);
}

void
pp_pywalker_free(struct pp_pywalker *w)
{
    pp_hmap_free(&w->tid_cache);
    free(w->chunk);
    w->chunk = NULL;
}

/* ==== thread states ==== */

static int
read_thread(struct pp_pywalker *w, uint64_t ts, uint64_t interp, struct pp_pythread *t,
            uint64_t *next)
{
    const struct pp_pyoffsets *o = &w->L->o;
    uint8_t buf[TSTATE_MAX];
    int err;

    if ((size_t)o->tstate_size > sizeof(buf))
        return PP_EINTERNAL;
    err = pp_mem_read(w->mem, ts, buf, (size_t)o->tstate_size);
    if (err)
        return err;
    memset(t, 0, sizeof(*t));
    t->tstate_addr = ts;
    t->interp_addr = interp;
    t->thread_id = u64_at(buf, o->tstate_thread_id);
    t->native_tid = o->tstate_native_thread_id >= 0
                        ? (int64_t)u64_at(buf, o->tstate_native_thread_id)
                        : -1;
    if (o->tstate_datastack_chunk >= 0)
        t->datastack_chunk = u64_at(buf, o->tstate_datastack_chunk);
    switch (w->L->frames) {
    case PP_FRAMES_OBJECTS:
        t->top_frame = u64_at(buf, o->tstate_frame);
        break;
    case PP_FRAMES_CFRAME: {
        uint64_t cframe = u64_at(buf, o->tstate_cframe);
        t->top_frame = 0;
        if (ptr_ok(cframe))
            err = pp_mem_read(w->mem, cframe + (uint64_t)o->cframe_current_frame,
                              &t->top_frame, 8);
        if (err)
            return err;
        break;
    }
    case PP_FRAMES_CURRENT:
        t->top_frame = u64_at(buf, o->tstate_current_frame);
        break;
    }
    *next = u64_at(buf, o->tstate_next);
    return 0;
}

int
pp_pyframe_threads(struct pp_pywalker *w, struct pp_vec *out)
{
    const struct pp_pyoffsets *o = &w->L->o;
    uint64_t interp;
    int ninterp = 0, err;

    out->len = 0;
    err = pp_mem_read(w->mem, w->runtime_addr + (uint64_t)o->runtime_interpreters_head,
                      &interp, 8);
    if (err)
        return err;
    while (interp) {
        uint64_t ts, next_interp;
        size_t nthreads = 0;
        if (!ptr_ok(interp) || ++ninterp > PP_MAX_INTERPS)
            return PP_EBADDATA;
        err = pp_mem_read(w->mem, interp + (uint64_t)o->interp_threads_head, &ts, 8);
        if (!err)
            err = pp_mem_read(w->mem, interp + (uint64_t)o->interp_next, &next_interp, 8);
        if (err)
            return err;
        while (ts) {
            struct pp_pythread t;
            uint64_t next;
            if (!ptr_ok(ts) || ++nthreads > PP_MAX_THREADS)
                return PP_EBADDATA;
            err = read_thread(w, ts, interp, &t, &next);
            if (err)
                return err;
            if (next == ts)
                return PP_EBADDATA;
            err = pp_vec_append(out, &t);
            if (err)
                return err;
            ts = next;
        }
        interp = next_interp;
    }
    return 0;
}

bool
pp_pyframe_runtime_ready(struct pp_pywalker *w)
{
    struct pp_vec v;
    bool ready;
    pp_vec_init(&v, sizeof(struct pp_pythread));
    ready = pp_pyframe_threads(w, &v) == 0 && v.len > 0;
    pp_vec_free(&v);
    return ready;
}

/* ==== TIDs on 3.8-3.10 ==== */

static bool
task_has(struct pp_tasks *tasks, int tid)
{
    return pp_proc_tasks_find_ns(tasks, tid) != NULL;
}

static int
discover_tid_offset(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks)
{
    static uint8_t desc[PP_MAX_THREADS > 64 ? 64 : PP_MAX_THREADS][PTHREAD_SCAN];
    int votes[PTHREAD_SCAN / 4] = {0};
    size_t i, n = 0;
    int off, best = -1, best_votes = 0;

    for (i = 0; i < threads->len && n < 64; i++) {
        struct pp_pythread *t = pp_vec_at(threads, i);
        if (ptr_ok(t->thread_id) && pp_mem_read(w->mem, t->thread_id, desc[n], PTHREAD_SCAN) == 0)
            n++;
    }
    if (n == 0)
        return PP_ENOTFOUND;
    for (off = 0; off < PTHREAD_SCAN; off += 4) {
        for (i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, desc[i] + off, 4);
            if (v > 0 && task_has(tasks, v))
                votes[off / 4]++;
        }
        if (votes[off / 4] > best_votes) {
            best_votes = votes[off / 4];
            best = off;
        }
    }
    /* every thread must agree: a partial match is a coincidence */
    if (best < 0 || (size_t)best_votes < n)
        return PP_ENOTFOUND;
    w->tid_offset = best;
    pp_log_debug("pyframe: glibc tid offset in struct pthread is %d", best);
    return 0;
}

int
pp_pyframe_map_tids(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks)
{
    size_t i;

    if (w->L->o.tstate_native_thread_id >= 0)
        return 0;
    if (w->tid_offset < 0 && discover_tid_offset(w, threads, tasks) != 0)
        return PP_ENOTFOUND;
    for (i = 0; i < threads->len; i++) {
        struct pp_pythread *t = pp_vec_at(threads, i);
        uint64_t tid;
        int32_t v;
        if (pp_hmap_get(&w->tid_cache, t->thread_id, &tid) && task_has(tasks, (int)tid)) {
            t->native_tid = (int64_t)tid;
            continue;
        }
        if (!ptr_ok(t->thread_id) ||
            pp_mem_read(w->mem, t->thread_id + (uint64_t)w->tid_offset, &v, 4) != 0 || v <= 0)
            continue;
        t->native_tid = v;
        pp_hmap_put(&w->tid_cache, t->thread_id, (uint64_t)v);
    }
    return 0;
}

/* ==== frames ==== */

/* 3.11+: copy the used part of the thread's current data-stack chunk, from
 * its start up to the end of the top frame, in one read.  Older frames of
 * the same activation chain sit below the top frame in the chunk. */
static void
load_chunk(struct pp_pywalker *w, uint64_t chunk_addr, uint64_t top_frame)
{
    size_t want;

    w->chunk_len = 0;
    w->chunk_addr = 0;
    if (!ptr_ok(chunk_addr) || top_frame < chunk_addr ||
        top_frame - chunk_addr > CHUNK_COPY_MAX - (uint64_t)w->L->o.iframe_size)
        return;
    if (!w->chunk) {
        /* page-aligned like the remote chunk, so the kernel's copy keeps
         * 8-byte fields aligned on both sides */
        void *p;
        if (posix_memalign(&p, 4096, CHUNK_COPY_MAX) != 0)
            return;
        w->chunk = p;
    }
    want = (size_t)(top_frame - chunk_addr) + (size_t)w->L->o.iframe_size;
    if (pp_mem_read(w->mem, chunk_addr, w->chunk, want) == 0) {
        w->chunk_len = want;
        w->chunk_addr = chunk_addr;
    }
}

static int
read_frame(struct pp_pywalker *w, uint64_t addr, void *buf, size_t len)
{
    if (w->chunk_len && addr >= w->chunk_addr && addr + len <= w->chunk_addr + w->chunk_len) {
        memcpy(buf, w->chunk + (addr - w->chunk_addr), len);
        return 0;
    }
    return pp_mem_read_cached(w->mem, addr, buf, len);
}

/*
 * Cycle detection for a chain read while the target runs: a frame freed
 * and reused mid-walk can link the chain into a loop.  Brent's algorithm:
 * O(1) memory, finds any cycle within twice its length.
 */
struct cycle {
    uint64_t saved;
    size_t power, steps;
};

static bool
cycle_step(struct cycle *c, uint64_t addr)
{
    if (addr == c->saved)
        return true;
    if (++c->steps == c->power) {
        c->saved = addr;
        c->power *= 2;
        c->steps = 0;
    }
    return false;
}

static int
walk_objects(struct pp_pywalker *w, uint64_t f, struct pp_pyframe_raw *raw, size_t max,
             size_t *n, bool *truncated)
{
    const struct pp_pyoffsets *o = &w->L->o;
    uint8_t buf[256];
    size_t need = (size_t)o->frameobj_f_lasti + 4;

    struct cycle cyc = {0, 1, 0};

    if (need > sizeof(buf))
        return PP_EINTERNAL;
    while (f) {
        int32_t lasti;
        int err;
        if (*n >= max) {
            *truncated = true;
            return 0;
        }
        if (!ptr_ok(f) || cycle_step(&cyc, f))
            return PP_EBADDATA;
        err = pp_mem_read_cached(w->mem, f, buf, need);
        if (err)
            return err;
        memcpy(&lasti, buf + o->frameobj_f_lasti, 4);
        raw[*n].frame_addr = f;
        raw[*n].code_addr = u64_at(buf, o->frameobj_f_code);
        raw[*n].instr = lasti;
        raw[*n].flags = 0;
        (*n)++;
        f = u64_at(buf, o->frameobj_f_back);
    }
    return 0;
}

static int
walk_iframes(struct pp_pywalker *w, const struct pp_pythread *t, struct pp_pyframe_raw *raw,
             size_t max, size_t *n, bool *truncated)
{
    const struct pp_pylayout *L = w->L;
    const struct pp_pyoffsets *o = &L->o;
    uint8_t buf[256];
    uint64_t f = t->top_frame;
    size_t len = (size_t)o->iframe_size;
    struct cycle cyc = {0, 1, 0};

    if (len > sizeof(buf))
        return PP_EINTERNAL;
    load_chunk(w, t->datastack_chunk, t->top_frame);
    while (f) {
        int err;
        int owner;
        if (*n >= max) {
            *truncated = true;
            return 0;
        }
        if (!ptr_ok(f) || cycle_step(&cyc, f))
            return PP_EBADDATA;
        err = read_frame(w, f, buf, len);
        if (err)
            return err;
        owner = (int8_t)buf[o->iframe_owner];
        raw[*n].frame_addr = f;
        raw[*n].code_addr = u64_at(buf, o->iframe_code);
        raw[*n].instr = (int64_t)u64_at(buf, o->iframe_instr);
        raw[*n].flags = 0;
        if (L->entry == PP_ENTRY_FLAG && buf[o->iframe_is_entry])
            raw[*n].flags |= PP_RAWF_ENTRY;
        if (L->entry == PP_ENTRY_SHIM && owner == L->shim_owner)
            raw[*n].flags |= PP_RAWF_SHIM;
        if (owner == L->gen_owner)
            raw[*n].flags |= PP_RAWF_GEN;
        (*n)++;
        f = u64_at(buf, o->iframe_previous);
    }
    return 0;
}

int
pp_pyframe_walk(struct pp_pywalker *w, const struct pp_pythread *t,
                struct pp_pyframe_raw *raw, size_t max, size_t *n, bool *truncated)
{
    int err;
    *n = 0;
    *truncated = false;
    if (w->L->frames == PP_FRAMES_OBJECTS)
        err = walk_objects(w, t->top_frame, raw, max, n, truncated);
    else
        err = walk_iframes(w, t, raw, max, n, truncated);
    w->stats_frames += *n;
    return err;
}

/* Instruction offset used for the line lookup: bytes for frame objects
 * (f_lasti, scaled on 3.10), code units from co_code_adaptive on 3.11+. */
static int64_t
instr_offset(const struct pp_pylayout *L, const struct pp_pyframe_raw *r)
{
    if (L->frames == PP_FRAMES_OBJECTS) {
        int64_t off = (int32_t)r->instr;
        return L->lasti_in_units && off >= 0 ? off * 2 : off;
    }
    return (r->instr - (int64_t)(r->code_addr + (uint64_t)L->o.code_code_adaptive)) / 2;
}

static bool
offset_in_code(const struct pp_pylayout *L, const struct pp_pycode_info *info, int64_t off)
{
    if (info->code_bytes < 0)
        return true;
    if (off < -1)
        return false;
    return (L->frames == PP_FRAMES_OBJECTS ? off : off * 2) < info->code_bytes;
}

static int
reread_instr(struct pp_pywalker *w, const struct pp_pyframe_raw *r, int64_t *instr)
{
    const struct pp_pyoffsets *o = &w->L->o;
    if (w->L->frames == PP_FRAMES_OBJECTS) {
        int32_t lasti;
        int err = pp_mem_read(w->mem, r->frame_addr + (uint64_t)o->frameobj_f_lasti, &lasti, 4);
        *instr = lasti;
        return err;
    }
    return pp_mem_read(w->mem, r->frame_addr + (uint64_t)o->iframe_instr, instr, 8);
}

int
pp_pyframe_resolve(struct pp_pywalker *w, struct pp_pycode *codes,
                   const struct pp_pyframe_raw *raw, size_t n, struct pp_pyframe *out,
                   size_t *nout)
{
    const struct pp_pylayout *L = w->L;
    static uint64_t addrs[PP_VALIDATE_MAX]; /* single-threaded sampler */
    size_t i, k = 0, na = 0;
    int err;

    for (i = 0; i < n && na < PP_VALIDATE_MAX; i++)
        if (!(raw[i].flags & PP_RAWF_SHIM))
            addrs[na++] = raw[i].code_addr;
    if ((err = pp_pycode_validate(codes, w->mem, L, addrs, na)))
        return err;
    for (i = 0; i < n; i++) {
        const struct pp_pycode_info *info;
        int64_t off;

        if (raw[i].flags & PP_RAWF_SHIM)
            continue;
        err = pp_pycode_get(codes, w->mem, L, raw[i].code_addr, &info);
        if (err)
            return err;
        off = instr_offset(L, &raw[i]);
        if (!offset_in_code(L, info, off)) {
            /* A large copy can tear the instruction field of a frame that
             * is running (the kernel copies bytes, not words): read that
             * one field again on its own before calling the entry stale. */
            int64_t instr;
            if (reread_instr(w, &raw[i], &instr) == 0) {
                struct pp_pyframe_raw again = raw[i];
                again.instr = instr;
                off = instr_offset(L, &again);
            }
            if (!offset_in_code(L, info, off)) {
                codes->stale++;
                pp_pycode_forget(codes, raw[i].code_addr);
                return PP_EBADDATA;
            }
        }
        if (L->frames != PP_FRAMES_OBJECTS) {
            /* incomplete frame: not yet past its prologue */
            if (!(raw[i].flags & PP_RAWF_GEN) && off < info->firsttraceable)
                continue;
        }
        out[k].name_id = info->name_id;
        out[k].file_id = info->file_id;
        out[k].line = pp_pycode_line(L, info, off);
        k++;
    }
    *nout = k;
    return 0;
}
