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
#define CHUNK_MARGIN 1024u
#define HEAD_RECHECK_NS (100ULL * 1000000ULL)
#define PTHREAD_SCAN 2048
#define TSTATE_MAX PP_PYLAYOUT_TSTATE_MAX

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
                 struct pp_pycode *codes, uint64_t runtime_addr)
{
    memset(w, 0, sizeof(*w));
    w->mem = mem;
    w->L = L;
    w->codes = codes;
    w->runtime_addr = runtime_addr;
    w->tid_offset = -1;
    pp_hmap_init(&w->tid_cache);
    pp_hmap_init(&w->spec_ids);
}

void
pp_pywalker_free(struct pp_pywalker *w)
{
    size_t i;
    pp_hmap_free(&w->tid_cache);
    pp_hmap_free(&w->spec_ids);
    if (w->spec) {
        for (i = 0; i < PP_SPEC_SLOTS; i++) {
            free(w->spec[i].data);
            free(w->spec[i].fp);
        }
        free(w->spec);
    }
    free(w->chunk);
    w->chunk = NULL;
    w->spec = NULL;
}

static int read_thread(struct pp_pywalker *w, uint64_t ts, uint64_t interp,
                       struct pp_pythread *t, uint64_t *next);

/* ==== read-ahead slots ==== */

static struct pp_pyspec *
spec_find(struct pp_pywalker *w, uint64_t tstate_addr)
{
    uint64_t v;
    if (!w->spec || !pp_hmap_get(&w->spec_ids, tstate_addr, &v) || !v)
        return NULL;
    return &w->spec[v - 1];
}

static void
spec_free(struct pp_pywalker *w, struct pp_pyspec *sp)
{
    pp_hmap_put(&w->spec_ids, sp->tstate_addr, 0);
    sp->tstate_addr = 0;
    sp->nregions = sp->ncodes = 0;
    sp->cframe_addr = 0;
    sp->have = false;
}

/* A slot for tstate_addr: its own, a free one, or one unused since before
 * the last tick.  NULL when all are busy (then that thread goes without). */
static struct pp_pyspec *
spec_slot(struct pp_pywalker *w, uint64_t tstate_addr)
{
    struct pp_pyspec *sp = spec_find(w, tstate_addr);
    size_t i;

    if (sp)
        return sp;
    if (!w->spec && !(w->spec = calloc(PP_SPEC_SLOTS, sizeof(*w->spec))))
        return NULL;
    for (i = 0; i < PP_SPEC_SLOTS; i++) {
        sp = &w->spec[i];
        if (sp->tstate_addr && sp->last_tick + 1 >= w->tick)
            continue;
        if (sp->tstate_addr)
            spec_free(w, sp);
        if (!sp->data) {
            void *p;
            if (posix_memalign(&p, 4096, PP_SPEC_BYTES) != 0)
                return NULL;
            sp->data = p;
            sp->fp = malloc((size_t)PP_SPEC_CODES * PP_CODE_FP_MAX);
            if (!sp->fp)
                return NULL;
        }
        if (pp_hmap_put(&w->spec_ids, tstate_addr, i + 1))
            return NULL;
        sp->tstate_addr = tstate_addr;
        sp->last_tick = w->tick;
        return sp;
    }
    return NULL;
}

int
pp_pyframe_reread(struct pp_pywalker *w, struct pp_pythread *t)
{
    uint64_t next;
    struct pp_pyspec *sp = spec_find(w, t->tstate_addr);
    if (sp)
        spec_free(w, sp); /* read it all again the ordinary way ... */
    pp_mem_cache_reset(w->mem); /* ... and not from this tick's cached pages */
    return read_thread(w, t->tstate_addr, t->interp_addr, t, &next);
}

void
pp_pyframe_spec_drop(struct pp_pywalker *w, const struct pp_pythread *t)
{
    struct pp_pyspec *sp = spec_find(w, t->tstate_addr);
    if (sp)
        spec_free(w, sp);
}

/* Region i of the recorded read-ahead, when it covers [addr, addr+len). */
static const uint8_t *
spec_lookup(const struct pp_pyspec *sp, uint64_t addr, size_t len)
{
    size_t i;
    if (!sp || !sp->have)
        return NULL;
    for (i = 0; i < sp->nregions; i++)
        if (sp->reg_ok[i] && addr >= sp->reg_addr[i] &&
            addr + len <= sp->reg_addr[i] + sp->reg_len[i])
            return sp->data + sp->reg_off[i] + (addr - sp->reg_addr[i]);
    return NULL;
}

/*
 * Recording: the walk notes each range it read; at the end the list
 * becomes next tick's read-ahead.  Recorded into the rec_* arrays so the
 * current read-ahead stays readable during the walk.
 */
static uint64_t rec_addr[PP_SPEC_REGIONS];
static uint32_t rec_len[PP_SPEC_REGIONS];

static void
spec_record(struct pp_pyspec *sp, uint64_t addr, size_t len)
{
    if (!sp || sp->rec_full)
        return;
    if (sp->rec_n >= PP_SPEC_REGIONS || sp->rec_bytes + len + 64 > PP_SPEC_BYTES) {
        sp->rec_full = true;
        return;
    }
    rec_addr[sp->rec_n] = addr;
    rec_len[sp->rec_n] = (uint32_t)len;
    sp->rec_n++;
    sp->rec_bytes += len + 64;
}

/* Lays the recorded ranges out in the slot's buffer, each at an offset
 * congruent to its address modulo 64 (so copies stay word-aligned). */
static void
spec_commit(struct pp_pyspec *sp)
{
    size_t i, off = 0;
    for (i = 0; i < sp->rec_n; i++) {
        off = ((off + 63) & ~(size_t)63) + (size_t)(rec_addr[i] & 63);
        sp->reg_addr[i] = rec_addr[i];
        sp->reg_len[i] = rec_len[i];
        sp->reg_off[i] = (uint32_t)off;
        off += rec_len[i];
    }
    sp->nregions = sp->rec_n;
    sp->rec_n = sp->rec_bytes = 0;
    sp->rec_full = false;
}

/* ==== thread states ==== */

/*
 * Reading one thread state is split in two so that many can share one
 * process_vm_readv: thread_prepare() appends the iovecs (the thread state
 * and its read-ahead), thread_finish() decodes them once read.
 */
struct tsread {
    uint64_t ts;
    struct pp_pyspec *sp;
    size_t first, cf, regs, fps; /* iovec indexes */
    uint8_t buf[TSTATE_MAX];
};

#define TICK_IOV_MAX 4096

static struct pp_mem_iov tick_iov[TICK_IOV_MAX];
static bool tick_ok[TICK_IOV_MAX];

/* 0, or -1 when the iovecs would not fit (then read this thread alone). */
static int
thread_prepare(struct pp_pywalker *w, uint64_t ts, struct tsread *r, size_t *k)
{
    const struct pp_pyoffsets *o = &w->L->o;
    struct pp_pyspec *sp = spec_find(w, ts);
    size_t need = 2 + (sp ? sp->nregions + sp->ncodes : 0), i, fplen;
    int32_t fplo;

    if (*k + need > TICK_IOV_MAX)
        return -1;
    r->ts = ts;
    r->sp = sp;
    r->first = *k;
    tick_iov[*k].addr = ts;
    tick_iov[*k].buf = r->buf;
    tick_iov[(*k)++].len = (size_t)o->tstate_size;
    if (!sp)
        return 0;
    sp->last_tick = w->tick;
    r->cf = *k;
    if (sp->cframe_addr) {
        tick_iov[*k].addr = sp->cframe_addr + (uint64_t)o->cframe_current_frame;
        tick_iov[*k].buf = &sp->cframe_word;
        tick_iov[(*k)++].len = 8;
    }
    r->regs = *k;
    for (i = 0; i < sp->nregions; i++) {
        tick_iov[*k].addr = sp->reg_addr[i];
        tick_iov[*k].buf = sp->data + sp->reg_off[i];
        tick_iov[(*k)++].len = sp->reg_len[i];
    }
    r->fps = *k;
    pp_pycode_fp_range(w->L, &fplo, &fplen);
    sp->nfp = 0;
    for (i = 0; i < sp->ncodes; i++) {
        if (w->codes && !pp_pycode_due(w->codes, sp->codes[i]))
            continue;
        tick_iov[*k].addr = sp->codes[i] + (uint64_t)fplo;
        tick_iov[*k].buf = sp->fp + sp->nfp * PP_CODE_FP_MAX;
        tick_iov[(*k)++].len = fplen;
        sp->fp_code[sp->nfp++] = sp->codes[i];
    }
    return 0;
}

static int
thread_finish(struct pp_pywalker *w, struct tsread *r, uint64_t interp, struct pp_pythread *t,
              uint64_t *next)
{
    const struct pp_pyoffsets *o = &w->L->o;
    struct pp_pyspec *sp = r->sp;
    const uint8_t *buf = r->buf;
    size_t i;
    int err = 0;

    if (!tick_ok[r->first]) {
        err = pp_mem_read(w->mem, r->ts, r->buf, (size_t)o->tstate_size); /* the real error */
        if (err)
            return err;
    }
    if (sp) {
        sp->have = true;
        sp->cframe_ok = sp->cframe_addr && tick_ok[r->cf];
        for (i = 0; i < sp->nregions; i++)
            sp->reg_ok[i] = tick_ok[r->regs + i];
        for (i = 0; i < sp->nfp; i++)
            sp->fp_ok[i] = tick_ok[r->fps + i];
    }
    memset(t, 0, sizeof(*t));
    t->spec = sp ? (int)(sp - w->spec) : -1;
    t->tstate_addr = r->ts;
    t->interp_addr = interp;
    t->thread_id = u64_at(buf, o->tstate_thread_id);
    t->native_tid = o->tstate_native_thread_id >= 0
                        ? (int64_t)u64_at(buf, o->tstate_native_thread_id)
                        : -1;
    if (o->tstate_datastack_chunk >= 0)
        t->datastack_chunk = u64_at(buf, o->tstate_datastack_chunk);
    if (w->L->tstate_base_frame >= 0)
        t->base_frame = u64_at(buf, w->L->tstate_base_frame);
    switch (w->L->frames) {
    case PP_FRAMES_OBJECTS:
        t->top_frame = u64_at(buf, o->tstate_frame);
        break;
    case PP_FRAMES_CFRAME: {
        uint64_t cframe = u64_at(buf, o->tstate_cframe);
        t->top_frame = 0;
        if (sp && sp->cframe_ok && cframe == sp->cframe_addr) {
            t->top_frame = sp->cframe_word;
            w->spec_hits++;
        } else if (ptr_ok(cframe)) {
            err = pp_mem_read(w->mem, cframe + (uint64_t)o->cframe_current_frame,
                              &t->top_frame, 8);
            if (sp)
                w->spec_misses++;
        }
        if (err)
            return err;
        t->cframe_addr = ptr_ok(cframe) ? cframe : 0;
        break;
    }
    case PP_FRAMES_CURRENT:
        t->top_frame = u64_at(buf, o->tstate_current_frame);
        break;
    }
    *next = u64_at(buf, o->tstate_next);
    return 0;
}

static int
read_thread(struct pp_pywalker *w, uint64_t ts, uint64_t interp, struct pp_pythread *t,
            uint64_t *next)
{
    static struct tsread r;
    size_t k = 0;
    if (thread_prepare(w, ts, &r, &k) != 0)
        return PP_EINTERNAL;
    pp_mem_readv(w->mem, tick_iov, k, tick_ok);
    return thread_finish(w, &r, interp, t, next);
}

/*
 * The whole tick in one read: the runtime's interpreter head, last tick's
 * interpreter (its thread-list head and next pointer) and every thread
 * state seen last tick with its read-ahead.  Afterwards the chain is
 * checked link by link; if it changed (a thread came or went, another
 * interpreter), returns 1 and the caller walks the ordinary way.
 */

static int
threads_fast(struct pp_pywalker *w, struct pp_vec *out)
{
    static struct tsread reads[PP_FAST_THREADS];
    const struct pp_pyoffsets *o = &w->L->o;
    int32_t lo = o->interp_next < o->interp_threads_head ? o->interp_next : o->interp_threads_head;
    int32_t hi = (o->interp_next > o->interp_threads_head ? o->interp_next
                                                           : o->interp_threads_head) + 8;
    uint8_t span[256];
    uint64_t interp = 0, ts, next;
    size_t k = 0, i;
    int err;

    if (!w->prev_interp || w->fast_n == 0 || hi - lo > (int32_t)sizeof(span))
        return 1;
    /* The runtime's interpreter head only changes when a sub-interpreter is
     * created or destroyed; the first interpreter is never freed while the
     * process lives.  Re-read the head every HEAD_RECHECK_NS, not each tick
     * (one page less per tick). */
    interp = w->prev_interp;
    tick_iov[0] = (struct pp_mem_iov){w->runtime_addr + (uint64_t)o->runtime_interpreters_head,
                                      &interp, 8};
    tick_iov[1] = (struct pp_mem_iov){w->prev_interp + (uint64_t)lo, span, (size_t)(hi - lo)};
    k = 2;
    if (w->now_ns - w->head_checked_ns < HEAD_RECHECK_NS) {
        tick_iov[0].len = 0; /* keep the slot, read nothing */
    } else {
        w->head_checked_ns = w->now_ns;
    }
    for (i = 0; i < w->fast_n; i++)
        if (thread_prepare(w, w->fast_ts[i], &reads[i], &k) != 0)
            return 1;
    pp_mem_readv(w->mem, tick_iov, k, tick_ok);
    if (!tick_ok[0] || !tick_ok[1] || interp != w->prev_interp ||
        u64_at(span, o->interp_next - lo) != 0)
        return 1;
    ts = u64_at(span, o->interp_threads_head - lo);
    for (i = 0; i < w->fast_n; i++) {
        struct pp_pythread t;
        if (ts != w->fast_ts[i] || !tick_ok[reads[i].first])
            return 1;
        err = thread_finish(w, &reads[i], interp, &t, &next);
        if (err)
            return err;
        if ((err = pp_vec_append(out, &t)))
            return err;
        ts = next;
    }
    if (ts != 0) { /* a thread was added at the end?  (new ones go first) */
        out->len = 0;
        return 1;
    }
    return 0;
}

/* The first interpreter and its thread-list head and next pointer.  In
 * steady state one read: the runtime's head together with last tick's
 * interpreter. */
static int
read_first_interp(struct pp_pywalker *w, uint64_t *interp, uint64_t *ts, uint64_t *next)
{
    const struct pp_pyoffsets *o = &w->L->o;
    int32_t lo = o->interp_next < o->interp_threads_head ? o->interp_next : o->interp_threads_head;
    int32_t hi = (o->interp_next > o->interp_threads_head ? o->interp_next
                                                           : o->interp_threads_head) + 8;
    uint8_t span[256];
    int err;

    if (w->prev_interp && hi - lo <= (int32_t)sizeof(span)) {
        struct pp_mem_iov iov[2] = {
            {w->runtime_addr + (uint64_t)o->runtime_interpreters_head, interp, 8},
            {w->prev_interp + (uint64_t)lo, span, (size_t)(hi - lo)},
        };
        bool ok[2];
        pp_mem_readv(w->mem, iov, 2, ok);
        if (ok[0] && ok[1] && *interp == w->prev_interp) {
            *ts = u64_at(span, o->interp_threads_head - lo);
            *next = u64_at(span, o->interp_next - lo);
            return 0;
        }
    }
    err = pp_mem_read(w->mem, w->runtime_addr + (uint64_t)o->runtime_interpreters_head, interp,
                      8);
    if (err)
        return err;
    w->prev_interp = ptr_ok(*interp) ? *interp : 0;
    if (!*interp)
        return 0;
    if (!ptr_ok(*interp))
        return PP_EBADDATA;
    err = pp_mem_read(w->mem, *interp + (uint64_t)o->interp_threads_head, ts, 8);
    if (!err)
        err = pp_mem_read(w->mem, *interp + (uint64_t)o->interp_next, next, 8);
    return err;
}

int
pp_pyframe_threads(struct pp_pywalker *w, struct pp_vec *out)
{
    const struct pp_pyoffsets *o = &w->L->o;
    uint64_t interp, ts, next_interp;
    int ninterp = 0, err;
    size_t i;

    out->len = 0;
    w->tick++;
    w->now_ns = pp_now_ns();
    if (w->codes)
        w->codes->now_ns = w->now_ns;
    err = threads_fast(w, out);
    if (err <= 0)
        return err;
    out->len = 0;
    err = read_first_interp(w, &interp, &ts, &next_interp);
    if (err)
        return err;
    while (interp) {
        size_t nthreads = 0;
        if (!ptr_ok(interp) || ++ninterp > PP_MAX_INTERPS)
            return PP_EBADDATA;
        if (ninterp > 1) {
            err = pp_mem_read(w->mem, interp + (uint64_t)o->interp_threads_head, &ts, 8);
            if (!err)
                err = pp_mem_read(w->mem, interp + (uint64_t)o->interp_next, &next_interp, 8);
            if (err)
                return err;
        }
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
    /* next tick may read it all at once: one interpreter, few threads */
    w->fast_n = 0;
    if (ninterp == 1 && out->len <= PP_FAST_THREADS)
        for (i = 0; i < out->len; i++)
            w->fast_ts[w->fast_n++] = ((struct pp_pythread *)pp_vec_at(out, i))->tstate_addr;
    return 0;
}

int
pp_pyframe_gil(struct pp_pywalker *w, uint64_t interp_addr, uint64_t *gil_addr, uint64_t *holder)
{
    const struct pp_pyoffsets *o = &w->L->o;
    uint8_t buf[32];
    uint64_t addr, last;
    int32_t locked;
    int err;

    *gil_addr = *holder = 0;
    if (o->gil_locked < 0 || o->gil_last_holder < 0 || o->gil_locked + 4 > (int)sizeof(buf) ||
        o->gil_last_holder + 8 > (int)sizeof(buf))
        return PP_ENOTFOUND;
    if (o->runtime_ceval_gil >= 0) { /* <=3.11: one GIL in _PyRuntime */
        addr = w->runtime_addr + (uint64_t)o->runtime_ceval_gil;
    } else if (o->interp_ceval_gil >= 0 && interp_addr) { /* 3.12+: interp->ceval.gil */
        if ((err = pp_mem_read_u64(w->mem, interp_addr + (uint64_t)o->interp_ceval_gil, &addr)))
            return err;
        if (addr < 4096)
            return PP_EBADDATA;
    } else {
        return PP_ENOTFOUND;
    }
    if ((err = pp_mem_read(w->mem, addr, buf, sizeof(buf))))
        return err;
    if (w->L->free_threaded) { /* a GIL only while something enabled it */
        int32_t enabled;
        if (w->L->gil_enabled < 0 || w->L->gil_enabled + 4 > (int)sizeof(buf))
            return PP_ENOTFOUND;
        memcpy(&enabled, buf + w->L->gil_enabled, sizeof(enabled));
        if (enabled == 0)
            return PP_ENOTFOUND;
    }
    memcpy(&locked, buf + o->gil_locked, sizeof(locked));
    memcpy(&last, buf + o->gil_last_holder, sizeof(last));
    *gil_addr = addr;
    *holder = locked ? last : 0;
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

/*
 * Is the interpreter shutting down?  _PyRuntime's finalizing thread state is
 * set once Py_FinalizeEx starts deleting thread states and stays set until
 * the process exits, so a read that fails then is the target's own exit.
 * An unreadable runtime counts as finalizing too.
 */
bool
pp_pyframe_finalizing(struct pp_pywalker *w)
{
    uint64_t v;
    if (w->L->o.runtime_finalizing < 0)
        return false;
    if (pp_mem_read_u64(w->mem, w->runtime_addr + (uint64_t)w->L->o.runtime_finalizing, &v))
        return true;
    return v != 0;
}

/* ==== TIDs on 3.8-3.10 ==== */

static bool
task_has(struct pp_tasks *tasks, int tid)
{
    return pp_proc_tasks_find_ns(tasks, tid) != NULL;
}

/*
 * glibc keeps the kernel TID in its thread descriptor (struct pthread, the
 * address CPython stores as thread_id), at an offset private to glibc.  We
 * find it by looking.  At each offset, a thread "votes" when the int there
 * is a TID of the process that no other thread has there too.  A thread
 * still starting may have 0 there, so not every thread has to vote; the
 * offset with the most votes wins if at least two threads vote for it and
 * no other offset with as many votes maps them differently.  Small TIDs (a
 * PID namespace numbers from 1) make coincidences likely: hence distinct
 * values, two votes and the tie rule.  With one thread, its TID is used if
 * all offsets agree on it, without locking the offset in.
 */
#define TID_DISCOVER_THREADS 64

static int
votes_at(const uint8_t (*desc)[PTHREAD_SCAN], size_t n, int off, struct pp_tasks *tasks,
         bool *voted)
{
    size_t i, j;
    int votes = 0;
    for (i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, desc[i] + off, 4);
        voted[i] = v > 0 && task_has(tasks, v);
        for (j = 0; j < n && voted[i]; j++) {
            int32_t u;
            memcpy(&u, desc[j] + off, 4);
            if (j != i && u == v)
                voted[i] = false;
        }
        votes += voted[i];
    }
    return votes;
}

static int
discover_tid_offset(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks,
                    int32_t *single_tid)
{
    static uint8_t desc[TID_DISCOVER_THREADS][PTHREAD_SCAN];
    bool voted[TID_DISCOVER_THREADS], best_voted[TID_DISCOVER_THREADS];
    size_t i, n = 0;
    int off, best = -1, best_votes = 0;
    bool tie = false;

    *single_tid = 0;
    for (i = 0; i < threads->len && n < TID_DISCOVER_THREADS; i++) {
        struct pp_pythread *t = pp_vec_at(threads, i);
        if (ptr_ok(t->thread_id) && pp_mem_read(w->mem, t->thread_id, desc[n], PTHREAD_SCAN) == 0)
            n++;
    }
    if (n == 0)
        return PP_ENOTFOUND;
    for (off = 0; off + 4 <= PTHREAD_SCAN; off += 4) {
        int votes = votes_at((const uint8_t(*)[PTHREAD_SCAN])desc, n, off, tasks, voted);
        if (votes == 0 || votes < best_votes)
            continue;
        if (votes > best_votes) {
            best = off;
            best_votes = votes;
            tie = false;
            memcpy(best_voted, voted, n * sizeof(bool));
            continue;
        }
        for (i = 0; i < n; i++) /* equal votes: the same mapping, or a tie */
            if (voted[i] != best_voted[i] ||
                (voted[i] && memcmp(desc[i] + off, desc[i] + best, 4) != 0))
                tie = true;
    }
    if (best < 0 || tie)
        return PP_ENOTFOUND;
    if (best_votes < 2) {
        if (n == 1)
            memcpy(single_tid, desc[0] + best, 4);
        return PP_ENOTFOUND; /* usable now, not proof of the offset */
    }
    w->tid_offset = best;
    pp_log_debug("pyframe: glibc tid offset in struct pthread is %d (%d of %zu threads)", best,
                 best_votes, n);
    return 0;
}

int
pp_pyframe_map_tids(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks)
{
    size_t i, j;

    if (w->L->o.tstate_native_thread_id >= 0)
        return 0;
    /* known threads (their pthread_t seen before, TID still alive) cost nothing */
    for (i = 0; i < threads->len; i++) {
        struct pp_pythread *t = pp_vec_at(threads, i);
        uint64_t tid;
        if (!pp_hmap_get(&w->tid_cache, t->thread_id, &tid) || !task_has(tasks, (int)tid))
            break;
        t->native_tid = (int64_t)tid;
    }
    if (i == threads->len)
        return 0;
    if (w->tid_offset < 0) {
        int32_t single;
        if (discover_tid_offset(w, threads, tasks, &single) != 0) {
            if (threads->len == 1 && tasks->n == 1) /* nothing else it could be */
                single = tasks->v[0].ns_tid;
            if (single > 0 && threads->len == 1) {
                struct pp_pythread *t = pp_vec_at(threads, 0);
                t->native_tid = single;
                pp_hmap_put(&w->tid_cache, t->thread_id, (uint64_t)single);
                return 0;
            }
            return PP_ENOTFOUND;
        }
    }
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
    /* two threads with one TID: the offset was a coincidence; find it again */
    for (i = 0; i < threads->len; i++)
        for (j = 0; j < i; j++) {
            struct pp_pythread *a = pp_vec_at(threads, i), *b = pp_vec_at(threads, j);
            if (a->native_tid > 0 && a->native_tid == b->native_tid &&
                a->thread_id != b->thread_id) {
                w->tid_offset = -1;
                pp_hmap_clear(&w->tid_cache);
                return PP_ENOTFOUND;
            }
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
    size_t want, have_len = 0, i;
    struct pp_pyspec *sp = w->cur;

    w->chunk_len = 0;
    w->chunk_addr = 0;
    w->chunk_view = NULL;
    if (!ptr_ok(chunk_addr) || top_frame < chunk_addr ||
        top_frame - chunk_addr > CHUNK_COPY_MAX - (uint64_t)w->L->o.iframe_size)
        return;
    want = (size_t)(top_frame - chunk_addr) + (size_t)w->L->o.iframe_size;
    /* read ahead with the thread state? */
    if (sp && sp->have) {
        for (i = 0; i < sp->nregions; i++) {
            if (sp->reg_ok[i] && sp->reg_addr[i] == chunk_addr && sp->reg_len[i] >= want) {
                w->chunk_view = sp->data + sp->reg_off[i];
                have_len = sp->reg_len[i];
                w->spec_hits++;
                break;
            }
        }
    }
    if (!w->chunk_view) {
        if (sp && sp->have)
            w->spec_misses++;
        if (!w->chunk) {
            /* page-aligned like the remote chunk, so the kernel's copy keeps
             * 8-byte fields aligned on both sides */
            void *p;
            if (posix_memalign(&p, 4096, CHUNK_COPY_MAX) != 0)
                return;
            w->chunk = p;
        }
        if (pp_mem_read(w->mem, chunk_addr, w->chunk, want) != 0)
            return;
        w->chunk_view = w->chunk;
        have_len = want;
    }
    w->chunk_len = want;
    w->chunk_addr = chunk_addr;
    /* next time: the same range plus room for a few more frames, inside
     * the chunk (its size is the second word of its header) */
    if (sp) {
        uint64_t chunk_size;
        size_t next = want + CHUNK_MARGIN;
        memcpy(&chunk_size, w->chunk_view + 8, 8);
        if (chunk_size < want || chunk_size > CHUNK_COPY_MAX)
            chunk_size = want;
        if (next > chunk_size)
            next = (size_t)chunk_size;
        (void)have_len;
        spec_record(sp, chunk_addr, next);
    }
}

static int
read_frame(struct pp_pywalker *w, uint64_t addr, void *buf, size_t len)
{
    const uint8_t *p;
    if (w->chunk_len && addr >= w->chunk_addr && addr + len <= w->chunk_addr + w->chunk_len) {
        memcpy(buf, w->chunk_view + (addr - w->chunk_addr), len);
        return 0;
    }
    spec_record(w->cur, addr, len);
    if ((p = spec_lookup(w->cur, addr, len)) != NULL) {
        memcpy(buf, p, len);
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
    size_t need = (size_t)(o->frameobj_f_state > o->frameobj_f_lasti ? o->frameobj_f_state + 1
                                                                     : o->frameobj_f_lasti + 4);

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
        err = read_frame(w, f, buf, need);
        if (err)
            return err;
        /* every frame on a thread's stack is executing; one that is not was
         * finished or suspended (a generator) between our reads: torn */
        if ((int8_t)buf[o->frameobj_f_state] != w->L->frame_running)
            return PP_EBADDATA;
        memcpy(&lasti, buf + o->frameobj_f_lasti, 4);
        raw[*n].frame_addr = f;
        raw[*n].code_addr = u64_at(buf, o->frameobj_f_code);
        raw[*n].instr = lasti;
        raw[*n].flags = 0;
        (*n)++;
        f = u64_at(buf, o->frameobj_f_back);
        /* A running generator's frame always has a caller; one with none
         * was suspended between our reads: the chain is torn. */
        if (!f && o->frameobj_f_gen >= 0 && u64_at(buf, o->frameobj_f_gen))
            return PP_EBADDATA;
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
        if (t->base_frame && f == t->base_frame)
            return 0; /* 3.15+: the thread's sentinel ends a complete chain */
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
        /* 3.14+: a _PyStackRef, tag bits cleared */
        raw[*n].code_addr = u64_at(buf, o->iframe_code) & L->exec_tag_mask;
        raw[*n].instr = (int64_t)u64_at(buf, o->iframe_instr);
        raw[*n].flags = 0;
        if (L->entry == PP_ENTRY_FLAG && buf[o->iframe_is_entry])
            raw[*n].flags |= PP_RAWF_ENTRY;
        if (L->entry == PP_ENTRY_SHIM && owner >= L->shim_owner && owner <= L->shim_owner_last)
            raw[*n].flags |= PP_RAWF_SHIM;
        if (owner == L->gen_owner)
            raw[*n].flags |= PP_RAWF_GEN;
        (*n)++;
        f = u64_at(buf, o->iframe_previous);
        if (!f) {
            /* The bottom of a thread's chain is owned by the thread: on
             * 3.12+ the first activation's shim, never a generator.  A
             * generator frame (or, 3.12+, any non-shim frame) with no
             * caller was suspended between our reads: torn.  3.15+ chains
             * end at the thread's base frame, never at NULL. */
            if (owner == L->gen_owner || t->base_frame ||
                (L->entry == PP_ENTRY_SHIM && !(raw[*n - 1].flags & PP_RAWF_SHIM)))
                return PP_EBADDATA;
        }
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
    w->cur = spec_slot(w, t->tstate_addr);
    if (w->cur) {
        if (t->spec < 0 || &w->spec[t->spec] != w->cur)
            w->cur->have = false; /* a fresh slot: nothing read ahead */
        w->cur->rec_n = w->cur->rec_bytes = 0;
        w->cur->rec_full = false;
    }
    w->chunk_len = 0;
    if (w->L->frames == PP_FRAMES_OBJECTS)
        err = walk_objects(w, t->top_frame, raw, max, n, truncated);
    else
        err = walk_iframes(w, t, raw, max, n, truncated);
    w->stats_frames += *n;
    if (w->cur) {
        w->cur->cframe_addr = t->cframe_addr;
        spec_commit(w->cur);
    }
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
pp_pyframe_validate(struct pp_pywalker *w, struct pp_pycode *codes,
                    const struct pp_pyframe_raw *raw, size_t n)
{
    static uint64_t addrs[PP_VALIDATE_MAX]; /* single-threaded sampler */
    struct pp_pyspec *sp = w->cur;
    size_t i, na = 0;
    int err;

    pp_pycode_begin_sample(codes);
    if (sp && sp->have) {
        for (i = 0; i < sp->nfp; i++)
            if (sp->fp_ok[i])
                pp_pycode_check_fp(codes, w->L, sp->fp_code[i], sp->fp + i * PP_CODE_FP_MAX);
        sp->have = false;
    }
    for (i = 0; i < n && na < PP_VALIDATE_MAX; i++)
        if (!(raw[i].flags & PP_RAWF_SHIM))
            addrs[na++] = raw[i].code_addr;
    if ((err = pp_pycode_validate(codes, w->mem, w->L, addrs, na)))
        return err;
    if (sp) { /* next time, read these fingerprints ahead */
        sp->ncodes = 0;
        for (i = 0; i < na && sp->ncodes < PP_SPEC_CODES; i++) {
            size_t j;
            for (j = 0; j < sp->ncodes && sp->codes[j] != addrs[i]; j++)
                ;
            if (j == sp->ncodes)
                sp->codes[sp->ncodes++] = addrs[i];
        }
    }
    return 0;
}

int
pp_pyframe_name(struct pp_pywalker *w, struct pp_pycode *codes, const struct pp_pyframe_raw *r,
                struct pp_pyframe *out, bool *skip)
{
    const struct pp_pylayout *L = w->L;
    const struct pp_pycode_info *info;
    int64_t off;
    int err;

    *skip = false;
    if (r->flags & PP_RAWF_SHIM) {
        *skip = true;
        return 0;
    }
    err = pp_pycode_get(codes, w->mem, L, r->code_addr, &info);
    if (err)
        return err;
    off = instr_offset(L, r);
    if (!offset_in_code(L, info, off)) {
        /* A large copy can tear the instruction field of a frame that is
         * running (the kernel copies bytes, not words): read that one
         * field again on its own before calling the entry stale. */
        int64_t instr;
        if (reread_instr(w, r, &instr) == 0) {
            struct pp_pyframe_raw again = *r;
            again.instr = instr;
            off = instr_offset(L, &again);
        }
        if (!offset_in_code(L, info, off)) {
            codes->stale++;
            pp_pycode_forget(codes, r->code_addr);
            return PP_EBADDATA;
        }
    }
    /* 3.11+: an incomplete frame, not yet past its prologue */
    if (L->frames != PP_FRAMES_OBJECTS && !(r->flags & PP_RAWF_GEN) &&
        off < info->firsttraceable) {
        *skip = true;
        return 0;
    }
    out->name_id = info->name_id;
    out->file_id = info->file_id;
    out->line = pp_pycode_line(L, info, off);
    return 0;
}

/* ==== frames captured in the kernel (bpf/capture.h) ==== */

static bool
fits(int32_t off, int32_t width, uint32_t *need)
{
    if (off < 0 || off + width > PP_BPF_FRAME_READ_MAX)
        return false;
    if ((uint32_t)(off + width) > *need)
        *need = (uint32_t)(off + width);
    return true;
}

int
pp_pyframe_capture_config(const struct pp_pylayout *L, uint32_t stack_size, uint32_t max_frames,
                          struct pp_bpf_config *c)
{
    const struct pp_pyoffsets *o = &L->o;
    uint32_t need = 0;

    memset(c, 0, sizeof *c);
    c->stack_size = stack_size > PP_BPF_STACK_MAX ? PP_BPF_STACK_MAX : stack_size;
    c->max_frames = max_frames > PP_BPF_MAX_FRAMES ? PP_BPF_MAX_FRAMES : max_frames;
    c->tstate_base = L->tstate_base_frame;
    c->cframe_current = -1;
    c->f_owner = c->f_is_entry = c->f_state = c->f_gen = -1;
    c->code_mask = L->exec_tag_mask ? L->exec_tag_mask : ~(uint64_t)0;
    switch (L->frames) {
    case PP_FRAMES_OBJECTS:
        c->shape = PP_BPF_OBJECTS;
        c->tstate_top = o->tstate_frame;
        c->f_back = o->frameobj_f_back;
        c->f_code = o->frameobj_f_code;
        c->f_instr = o->frameobj_f_lasti;
        c->f_state = o->frameobj_f_state;
        c->f_gen = o->frameobj_f_gen;
        if (!fits(c->f_back, 8, &need) || !fits(c->f_code, 8, &need) ||
            !fits(c->f_instr, 4, &need) || !fits(c->f_state, 1, &need) ||
            (c->f_gen >= 0 && !fits(c->f_gen, 8, &need)))
            return PP_EVERSION;
        break;
    case PP_FRAMES_CFRAME:
    case PP_FRAMES_CURRENT:
        if (L->frames == PP_FRAMES_CFRAME) {
            c->shape = PP_BPF_CFRAME;
            c->tstate_top = o->tstate_cframe;
            c->cframe_current = o->cframe_current_frame;
            if (c->cframe_current < 0)
                return PP_EVERSION;
        } else {
            c->shape = PP_BPF_CURRENT;
            c->tstate_top = o->tstate_current_frame;
        }
        c->f_back = o->iframe_previous;
        c->f_code = o->iframe_code;
        c->f_instr = o->iframe_instr;
        c->f_owner = o->iframe_owner;
        if (L->entry == PP_ENTRY_FLAG)
            c->f_is_entry = o->iframe_is_entry;
        if (!fits(c->f_back, 8, &need) || !fits(c->f_code, 8, &need) ||
            !fits(c->f_instr, 8, &need) || !fits(c->f_owner, 1, &need) ||
            (c->f_is_entry >= 0 && !fits(c->f_is_entry, 1, &need)))
            return PP_EVERSION;
        break;
    default:
        return PP_EVERSION;
    }
    if (c->tstate_top < 0)
        return PP_EVERSION;
    c->frame_read = (need + 7u) & ~7u;
    return 0;
}

int
pp_pyframe_from_capture(const struct pp_pylayout *L, const struct pp_bpf_frame *in, size_t n,
                        bool ended, struct pp_pyframe_raw *raw)
{
    size_t i;

    for (i = 0; i < n; i++) {
        raw[i].frame_addr = in[i].frame;
        raw[i].code_addr = in[i].code;
        raw[i].instr = in[i].instr;
        raw[i].flags = 0;
        if (L->frames == PP_FRAMES_OBJECTS) {
            /* every frame on a thread's stack is executing; a running
             * generator's frame has a caller (the walk's rules) */
            if (in[i].owner != L->frame_running || in[i].is_entry)
                return PP_EBADDATA;
            continue;
        }
        if (L->entry == PP_ENTRY_FLAG && in[i].is_entry)
            raw[i].flags |= PP_RAWF_ENTRY;
        if (L->entry == PP_ENTRY_SHIM && in[i].owner >= L->shim_owner &&
            in[i].owner <= L->shim_owner_last)
            raw[i].flags |= PP_RAWF_SHIM;
        if (in[i].owner == L->gen_owner)
            raw[i].flags |= PP_RAWF_GEN;
    }
    if (ended && n && L->frames != PP_FRAMES_OBJECTS) {
        /* the bottom of a chain is the thread's: never a generator, on
         * 3.12+ the first activation's shim; 3.15+ chains end at the
         * thread's base frame, never at NULL */
        if ((raw[n - 1].flags & PP_RAWF_GEN) || L->tstate_base_frame >= 0 ||
            (L->entry == PP_ENTRY_SHIM && !(raw[n - 1].flags & PP_RAWF_SHIM)))
            return PP_EBADDATA;
    }
    return 0;
}
