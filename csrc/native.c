/*
 * native.c -- the native half of mixed sampling (see native.h).
 *
 * Per sample: the Python frames of the sampled thread are read first (in
 * perf mode the sample is already 50-100 us old, and the leaf end of the
 * Python stack is what changes), then the native stack is unwound from
 * the copy, each PC is symbolized once (cache by PC), and merge.c splices
 * the Python runs into the eval-loop activations.
 */
#define _GNU_SOURCE
#include "native.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf.h"
#include "err.h"
#include "log.h"
#include "pstop.h"

#define REFRESH_MAPS_NS (100ULL * 1000000ULL)
#define MAX_INLINE 16

/* ==== symbolized frames, cached by PC ==== */

static int
intern_frame(struct pp_session *s, enum pp_frame_kind kind, const char *name, const char *file,
             uint32_t *id)
{
    uint32_t n, f;
    int err;
    if ((err = pp_strtab_intern(&s->strs, name, strlen(name), &n)) ||
        (err = pp_strtab_intern(&s->strs, file, strlen(file), &f)))
        return err;
    return pp_agg_frame(&s->agg, kind, n, f, 0, id);
}

static int
sym_entry(struct pp_session *s, uint64_t pc, const struct symentry **out)
{
    struct pp_native *nt = s->nat;
    struct symentry e;
    struct pp_sym_info info;
    const char *name, *module;
    uint64_t h = pp_hash_u64(pc), v;
    int err;

    for (;; h++) {
        struct symentry *c;
        if (!pp_hmap_get(&nt->sym_ids, h, &v))
            break;
        c = pp_vec_at(&nt->syms, v - 1);
        if (c->pc != pc)
            continue;
        if (c->nomodule && c->maps_gen != nt->maps_gen) {
            /* unknown before the maps were read again (dlopen): look again;
             * the frame id stays, the expansion reads the entry */
            c->maps_gen = nt->maps_gen;
            if (pp_sym_lookup(nt->sym, pc, &info) == 0 && info.module) {
                name = info.name ? info.name : "[unknown]";
                if ((err = pp_strtab_intern(&s->strs, name, strlen(name), &c->name_id)) ||
                    (err = pp_strtab_intern(&s->strs, info.module, strlen(info.module),
                                            &c->module_id)))
                    return err;
                c->flags = (info.eval ? PP_MF_EVAL : 0) | (info.interp ? PP_MF_INTERNAL : 0);
                c->nomodule = false;
                c->expanded = false;
                if (info.eval && (err = pp_agg_frame(&s->agg, PP_FRAME_NATIVE, c->name_id,
                                                     c->module_id, 0, &c->self_frame)))
                    return err;
            }
        }
        *out = c;
        return 0;
    }
    memset(&e, 0, sizeof e);
    e.maps_gen = nt->maps_gen;
    e.pc = pc;
    err = pp_sym_lookup(nt->sym, pc, &info);
    if (err == PP_ENOMEM)
        return err;
    if (info.eval)
        e.flags |= PP_MF_EVAL;
    if (info.interp)
        e.flags |= PP_MF_INTERNAL;
    name = info.name ? info.name : "[unknown]";
    module = info.module ? info.module : "";
    e.nomodule = info.module == NULL;
    if ((err = pp_strtab_intern(&s->strs, name, strlen(name), &e.name_id)) ||
        (err = pp_strtab_intern(&s->strs, module, strlen(module), &e.module_id)) ||
        (err = pp_agg_frame(&s->agg, PP_FRAME_PC, e.name_id, e.module_id, (int)nt->syms.len,
                            &e.frame)))
        return err;
    if (info.eval && (err = pp_agg_frame(&s->agg, PP_FRAME_NATIVE, e.name_id, e.module_id, 0,
                                         &e.self_frame)))
        return err;
    if ((err = pp_vec_append(&nt->syms, &e)) ||
        (err = pp_hmap_put(&nt->sym_ids, h, nt->syms.len)))
        return err;
    *out = pp_vec_at(&nt->syms, nt->syms.len - 1);
    return 0;
}

/* Resolves e's inline chain (once) into names_pool. */
static int
expand_entry(struct pp_session *s, struct symentry *e)
{
    struct pp_native *nt = s->nat;
    const char *inl[MAX_INLINE];
    size_t ninl, i;
    uint32_t id;
    int err;

    e->off = (uint32_t)nt->names_pool.len;
    if (!(e->flags & PP_MF_EVAL) && (err = pp_vec_append(&nt->names_pool, &e->name_id)))
        return err;
    ninl = pp_sym_inlines(nt->sym, e->pc, inl, MAX_INLINE);
    for (i = ninl; i-- > 0;) { /* outermost inline first */
        if ((err = pp_strtab_intern(&s->strs, inl[i], strlen(inl[i]), &id)) ||
            (err = pp_vec_append(&nt->names_pool, &id)))
            return err;
    }
    e->n = (uint32_t)(nt->names_pool.len - e->off);
    e->expanded = true;
    return 0;
}

static int
expand_frame(void *arg, struct pp_agg *dst, const struct pp_agg_frame *f, uint32_t *out,
             size_t max, size_t *n)
{
    struct pp_session *s = arg;
    struct pp_native *nt = s->nat;
    struct symentry *e;
    uint32_t i;
    int err;

    *n = 0;
    if (f->kind != PP_FRAME_PC) {
        if (max == 0)
            return 0;
        *n = 1;
        return pp_agg_frame(dst, f->kind, f->name_id, f->file_id, f->line, out);
    }
    if (f->line < 0 || (size_t)f->line >= nt->syms.len)
        return PP_EINTERNAL;
    e = pp_vec_at(&nt->syms, (size_t)f->line);
    if (!e->expanded && (err = expand_entry(s, e)))
        return err;
    for (i = 0; i < e->n && *n < max; i++) {
        uint32_t name = *(uint32_t *)pp_vec_at(&nt->names_pool, e->off + i);
        if ((err = pp_agg_frame(dst, PP_FRAME_NATIVE, name, e->module_id, 0, &out[*n])))
            return err;
        (*n)++;
    }
    return 0;
}

int
pp_native_expand(struct pp_session *s, struct pp_agg *out)
{
    pp_agg_init(out, &s->strs);
    return pp_agg_remap(&s->agg, out, expand_frame, s);
}

/* ==== the Python side of one thread ==== */

static struct pp_pythread *
find_pythread(struct pp_session *s, int tid)
{
    size_t i;
    for (i = 0; i < s->threads.len; i++) {
        struct pp_pythread *t = pp_vec_at(&s->threads, i);
        struct pp_task *task;
        if (t->native_tid <= 0)
            continue;
        task = pp_proc_tasks_find_ns(&s->tasks, (int)t->native_tid);
        if (task ? task->tid == tid : t->native_tid == tid)
            return t;
    }
    return NULL;
}

int
pp_native_threads(struct pp_session *s)
{
    int err;
    pp_mem_cache_reset(s->mem);
    if ((err = pp_pyframe_threads(&s->walker, &s->threads)))
        return err;
    if (s->layout.o.tstate_native_thread_id < 0) /* <=3.10: TIDs from glibc's descriptor */
        pp_pyframe_map_tids(&s->walker, &s->threads, &s->tasks);
    return 0;
}

/* Reads the Python stack of tid now (the value: nt->py). */
void
pp_native_capture_py(struct pp_session *s, int tid)
{
    struct pp_native_py *py = &s->nat->py;
    struct pp_pythread *t;
    int err;

    memset(py, 0, sizeof(*py));
    py->late = s->nat->mode == PP_NATIVE_BPF; /* bpf: a thread its map did not know */
    if ((err = pp_native_threads(s))) {
        py->err = err;
        return;
    }
    t = find_pythread(s, tid);
    if (s->opts.gil) { /* --gil: only the thread holding it (none: a native thread) */
        uint64_t gil, holder;
        if (!t || (pp_pyframe_gil(&s->walker, t->interp_addr, &gil, &holder) == 0 &&
                   holder != t->tstate_addr)) {
            py->gil_skip = true;
            return;
        }
    }
    if (!t)
        return;
    py->thread = t;
    /* two frames short of the limit: room for the merge's markers */
    py->err = pp_pystack_read(&s->py, t, PP_MAX_DEPTH - 2, &py->stack);
}

void
pp_native_capture_py_cb(void *arg)
{
    struct pp_native_cap *a = arg;
    pp_native_capture_py(a->s, a->tid);
}

/* ==== one sample: unwind, symbolize, merge, count ==== */

/* A sampled PC in a page that no module covered at the last look: read the
 * maps again at once the first time (a library just loaded: every sample
 * in it would be cut short until then), and only every REFRESH_MAPS_NS for
 * pages seen before (JIT code, anonymous memory). */
static bool
new_unknown_page(struct pp_native *nt, uint64_t pc)
{
    uint64_t page = (pc >> 12) + 1, v;
    if (pp_hmap_get(&nt->unknown_pages, page, &v))
        return false;
    if (nt->unknown_pages.len > 4096)
        pp_hmap_clear(&nt->unknown_pages);
    pp_hmap_put(&nt->unknown_pages, page, 1);
    return true;
}

/* What both halves hold that shows whether they are of one instant: the
 * checks this interpreter's shape allows (merge.h). */
static void
set_evidence(struct pp_session *s, struct pp_merge_evidence *ev, const uint64_t *regs,
             const uint8_t *stack, size_t len)
{
    const struct pp_pylayout *L = &s->layout;
    struct pp_native *nt = s->nat;

    if (L->entry == PP_ENTRY_SHIM)
        ev->checks |= PP_MEV_SHIM;
    if (L->frames == PP_FRAMES_CFRAME && nt->py.stack.cframe_addr) {
        ev->checks |= PP_MEV_CFRAME;
        ev->cframe_addr = nt->py.stack.cframe_addr;
        ev->cframe_current = (uint32_t)L->o.cframe_current_frame;
        ev->cframe_previous = (uint32_t)L->o.cframe_previous;
    }
    ev->checks |= L->frames == PP_FRAMES_OBJECTS ? PP_MEV_FRAMEOBJ : PP_MEV_INSTR;
    ev->other_code = nt->py.stack.recent_code;
    ev->n_other = nt->py.stack.nrecent;
    ev->sp = nt->sp;
    ev->regs = regs;
    ev->nregs = PP_UNWIND_NREGS;
    ev->stack = stack;
    ev->stack_addr = regs[7];
    ev->stack_len = len;
}

int
pp_native_process(struct pp_session *s, int tid, const uint64_t *regs, const uint8_t *stack,
                  size_t len, uint64_t now)
{
    struct pp_native *nt = s->nat;
    uint64_t t0 = pp_now_ns();
    uint32_t stack_id, idx;
    int err;

    if ((err = pp_native_stack(s, tid, regs, stack, len, now, UINT32_MAX, &stack_id, &idx)))
        return err;
    if (stack_id == UINT32_MAX)
        return 0;
    err = nt->weight_ns ? pp_agg_add_n(&s->agg, stack_id, idx, now - s->start_ns, nt->weight_ns)
                        : pp_agg_add(&s->agg, stack_id, idx, now - s->start_ns);
    if (err)
        return err;
    s->st.samples++;
    if (!s->first_sample_ns)
        s->first_sample_ns = pp_now_ns();
    nt->samples++;
    nt->process_ns += pp_now_ns() - t0;
    return 0;
}

int
pp_native_stack(struct pp_session *s, int tid, const uint64_t *regs, const uint8_t *stack,
                size_t len, uint64_t now, uint32_t root, uint32_t *stack_id_out, uint32_t *idx_out)
{
    struct pp_native *nt = s->nat;
    struct pp_unwind_input in = {tid, regs, stack, len};
    struct pp_merge_in mi;
    size_t n = 0, i, depth;
    unsigned status = 0;
    uint64_t t0 = pp_now_ns(), t1;
    uint32_t *merged = nt->merged + 1; /* merged[0]: room for root */
    int err, r;

    *stack_id_out = UINT32_MAX;
    *idx_out = 0;
    if (nt->py.gil_skip) {
        s->st.gil_skipped++;
        return 0;
    }
    if (nt->py.err) {
        pp_session_count_error(s, nt->py.err);
        return pp_err_class(nt->py.err) == PP_FATAL ? nt->py.err : 0;
    }
    err = pp_unwind(nt->unw, &in, nt->uf, PP_UNWIND_MAX, &n, &status);
    if ((status & PP_US_NOMODULE) &&
        (t0 - nt->last_maps_ns > REFRESH_MAPS_NS || new_unknown_page(nt, regs[16]))) {
        /* a library mapped since the last look (dlopen): re-read the maps */
        nt->last_maps_ns = t0;
        nt->unw->ops->refresh(nt->unw);
        pp_sym_refresh(nt->sym);
        nt->maps_gen++;
        err = pp_unwind(nt->unw, &in, nt->uf, PP_UNWIND_MAX, &n, &status);
    }
    t1 = pp_now_ns();
    nt->unwind_ns += t1 - t0;
    if (err || n == 0) {
        nt->unwind_failed++;
        n = 0;
        status |= PP_US_TRUNCATED;
    }
    for (i = 0; i < n; i++) { /* root first */
        const struct symentry *e;
        if ((err = sym_entry(s, nt->uf[n - 1 - i].pc, &e)))
            return err;
        nt->sp[i] = nt->uf[n - 1 - i].sp;
        nt->mn[i].flags = e->flags;
        nt->mn[i].nids = 1;
        nt->mn[i].self_id = e->self_frame;
        nt->off[i] = e->frame;
        nt->mn[i].ids = &nt->off[i];
    }
    memset(&mi, 0, sizeof mi);
    mi.native = nt->mn;
    mi.nnative = n;
    mi.native_truncated = (status & PP_US_TRUNCATED) != 0;
    mi.py = nt->py.stack.v;
    mi.npy = nt->py.stack.n;
    mi.no_internals = s->opts.no_internals;
    /* bpf and ptrace take both halves in one instant (not a late Python read) */
    mi.same_instant = nt->mode != PP_NATIVE_PERF && !nt->py.late;
    mi.mismatch_marker = nt->mismatch_marker;
    mi.truncated_marker = n ? nt->truncated_marker : nt->unwind_failed_marker;
    mi.unproven_marker = nt->unproven_marker;
    if (nt->verify_joins && nt->py.stack.n)
        set_evidence(s, &mi.ev, regs, stack, len);
    r = pp_merge(&mi, merged, PP_MAX_DEPTH + PP_UNWIND_MAX * 4, &depth);
    switch (r) {
    case PP_MERGE_OK: nt->merged_ok++; break;
    case PP_MERGE_NOPY: nt->nopy++; break;
    case PP_MERGE_MISMATCH:
        nt->mismatches++;
        pp_log_debug("merge mismatch: %zu native frames (leaf pc %#llx, unwind status %#x), "
                     "%zu Python frames", n, n ? (unsigned long long)nt->uf[0].pc : 0ULL, status,
                     nt->py.stack.n);
        break;
    case PP_MERGE_CONTRADICTED:
        nt->mismatches++;
        nt->contradicted++;
        break;
    case PP_MERGE_UNPROVEN:
        nt->unproven++;
        if (mi.native_truncated)
            nt->truncated++;
        else
            nt->merged_ok++;
        break;
    default: nt->truncated++; break;
    }
    for (i = 0; i < nt->nleaf && depth < PP_MAX_DEPTH + PP_UNWIND_MAX * 4; i++)
        merged[depth++] = nt->leaf[i];
    nt->nleaf = 0;
    if (depth == 0) {
        s->st.empty++;
        return 0;
    }
    if (root != UINT32_MAX) {
        merged--;
        merged[0] = root;
        depth++;
    }
    if ((err = pp_agg_stack(&s->agg, merged, depth, stack_id_out)) ||
        (err = pp_session_thread_idx(s, nt->py.thread, tid, now, idx_out)))
        return err;
    return 0;
}

/* ==== setup ==== */

bool
pp_native_denied_by_test(const char *what)
{
    const char *d = getenv("PYPROF_DENY");
    return d && strstr(d, what);
}

bool
pp_native_verify_off(void)
{
    const char *v = getenv("PYPROF_VERIFY_JOINS");
    return v && strcmp(v, "0") == 0;
}

static int
intern_marker(struct pp_session *s, const char *name, uint32_t *id)
{
    return intern_frame(s, PP_FRAME_MARKER, name, "", id);
}

int
pp_native_init(struct pp_session *s)
{
    struct pp_native *nt;
    char why[512] = "";
    int err;

    if (!s->opts.native)
        return 0;
    if (!s->opts.debuginfod)
        unsetenv("DEBUGINFOD_URLS"); /* an unanswering server costs seconds per module */
    nt = calloc(1, sizeof *nt);
    if (!nt)
        return PP_ENOMEM;
    s->nat = nt;
    pp_hmap_init(&nt->seized);
    pp_hmap_init(&nt->last_sp);
    pp_hmap_init(&nt->unknown_pages);
    pp_vec_init(&nt->seized_list, sizeof(int));
    pp_vec_init(&nt->syms, sizeof(struct symentry));
    pp_hmap_init(&nt->sym_ids);
    pp_vec_init(&nt->names_pool, sizeof(uint32_t));
    nt->uf = calloc(PP_UNWIND_MAX, sizeof *nt->uf);
    nt->mn = calloc(PP_UNWIND_MAX, sizeof *nt->mn);
    nt->off = calloc(PP_UNWIND_MAX, sizeof *nt->off);
    nt->sp = calloc(PP_UNWIND_MAX, sizeof *nt->sp);
    nt->merged = calloc(PP_MAX_DEPTH + PP_UNWIND_MAX * 4 + 1, sizeof *nt->merged);
    pp_vec_init(&nt->offcpu_pending, sizeof(struct pp_native_offcpu));
    nt->lat_us = calloc(PP_NATIVE_LAT_KEEP, sizeof *nt->lat_us);
    nt->stop_ns = calloc(PP_NATIVE_LAT_KEEP, sizeof *nt->stop_ns);
    nt->stop_cpu_ns = calloc(PP_NATIVE_LAT_KEEP, sizeof *nt->stop_cpu_ns);
    if (!nt->uf || !nt->mn || !nt->off || !nt->sp || !nt->merged || !nt->lat_us || !nt->stop_ns ||
        !nt->stop_cpu_ns)
        return PP_ENOMEM;
    /* PYPROF_VERIFY_JOINS=1: check the joins in every mode (the tests:
     * blocking mode is consistent, no check may contradict it) */
    nt->verify_joins = getenv("PYPROF_VERIFY_JOINS") && !pp_native_verify_off();
    if ((err = intern_marker(s, "<merge mismatch>", &nt->mismatch_marker)) ||
        (err = intern_marker(s, "<native stack truncated>", &nt->truncated_marker)) ||
        (err = intern_marker(s, "<native unwind failed>", &nt->unwind_failed_marker)) ||
        (err = intern_marker(s, "[off-cpu]", &nt->offcpu_marker)) ||
        (err = intern_marker(s, "<merge unproven>", &nt->unproven_marker)))
        return err;

    if (s->opts.unwinder == PP_UNWINDER_LIBUNWIND)
        err = pp_unwind_libunwind_new(s->pid, NULL, s->mem, &nt->unw, why, sizeof why);
    else
        err = pp_unwind_libdw_new(s->pid, NULL, s->mem, &nt->unw, why, sizeof why);
    if (!err)
        err = pp_sym_new(s->pid, s->opts.debug_dirs, !s->opts.no_inlines, &nt->sym, why,
                         sizeof why);
    if (err && s->opts.system) { /* -a: one process among many (the set says why, -v) */
        pp_log_debug("PID %d: native frames unavailable: %s", s->pid, why[0] ? why : pp_strerror(err));
        pp_native_free(s);
        return 0;
    }
    if (err) {
        fprintf(stderr, "pyprof: native frames unavailable: %s. Sampling Python frames only.\n",
                why[0] ? why : pp_strerror(err));
        if (geteuid() != 0) /* e.g. a setcap'd sampler: its capabilities are not root's */
            fprintf(stderr, "pyprof: hint: 'pyprof check --pid %d' shows what this user may do; "
                            "with sudo, native frames of any process can be read\n", s->pid);
        pp_native_free(s);
        return 0;
    }
    return 0;
}

/* ==== the end ==== */

void
pp_native_detach(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    size_t i;
    if (!nt)
        return;
    for (i = 0; i < nt->seized_list.len; i++)
        pp_pstop_detach(*(int *)pp_vec_at(&nt->seized_list, i));
    nt->seized_list.len = 0;
    pp_hmap_clear(&nt->seized);
}

/* ==== output ==== */

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t
quantile(uint32_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_u32);
    return v[(size_t)(q * (double)(n - 1))];
}

static const char *
mode_name(int mode)
{
    return mode == PP_NATIVE_BPF ? "bpf" : mode == PP_NATIVE_PERF ? "perf" : "blocking";
}

/* Samples the kernel could not hand over (a full buffer). */
static uint64_t
lost(struct pp_native *nt)
{
    if (nt->mode == PP_NATIVE_BPF && nt->bpf_system)
        return 0; /* -a: the process set's, once (system_lost) */
    if (nt->mode == PP_NATIVE_BPF) {
        uint64_t c[PP_BPF_CNT_N];
        pp_bpf_counters(c);
        return c[PP_BPF_CNT_LOST];
    }
    return nt->perf_open ? nt->perf.lost : 0;
}

struct nodebug {
    char text[512];
    size_t len;
};

static void
note_missing(const char *path, void *arg)
{
    struct nodebug *nd = arg;
    size_t n = strlen(path);
    if (nd->len + n + 2 > sizeof nd->text)
        return;
    if (nd->len)
        nd->text[nd->len++] = ':';
    memcpy(nd->text + nd->len, path, n + 1);
    nd->len += n;
}

void
pp_native_out_info(struct pp_session *s, struct pp_out_info *info)
{
    struct pp_native *nt = s->nat;
    if (!nt)
        return;
    pp_out_meta(info, "native_mode", "%s", mode_name(nt->mode));
    pp_out_meta(info, "unwinder", "%s", nt->unw->ops->name);
    pp_out_stat(info, "native_samples", nt->samples);
    pp_out_stat(info, "merge_ok", nt->merged_ok);
    pp_out_stat(info, "merge_failures", nt->mismatches);
    pp_out_stat(info, "merge_unproven", nt->unproven);
    pp_out_stat(info, "merge_contradicted", nt->contradicted);
    pp_out_stat(info, "native_truncated", nt->truncated);
    pp_out_stat(info, "native_only", nt->nopy);
    pp_out_stat(info, "unwind_failed", nt->unwind_failed);
    pp_out_stat(info, "unwind_ns_total", nt->unwind_ns);
    pp_out_stat(info, "native_ns_total", nt->process_ns);
    pp_out_stat(info, "unwind_live_reads", nt->unw->live_reads);
    if (nt->mode != PP_NATIVE_BLOCKING) { /* perf events: what they count (-e) */
        const struct pp_event *ev = &s->opts.event;
        pp_out_meta(info, "event", "%s", ev->name);
        pp_out_meta(info, "event_unit", "%s", ev->unit);
        pp_out_meta(info, "event_period", "%llu", (unsigned long long)ev->period);
        pp_out_meta(info, "event_period_fixed", "%d", !ev->jitter);
    }
    if (nt->mode == PP_NATIVE_BPF) {
        pp_out_stat(info, "lost", lost(nt));
        pp_out_stat(info, "record_delay_us_p50", quantile(nt->lat_us, nt->nlat, 0.5));
        pp_out_stat(info, "record_delay_us_p99", quantile(nt->lat_us, nt->nlat, 0.99));
    } else if (nt->mode == PP_NATIVE_PERF) {
        if (nt->weight_ns) {
            /* --off-cpu: the counts are nanoseconds, on CPU and off */
            pp_out_meta(info, "value_unit", "ns");
            pp_out_meta(info, "offcpu_flag", "1");
            pp_out_stat(info, "offcpu_ns", nt->offcpu_ns);
            pp_out_stat(info, "offcpu_waits", nt->offcpu_waits);
            pp_out_stat(info, "offcpu_preempted_ns", nt->offcpu_preempted_ns);
            pp_out_stat(info, "offcpu_unmatched", nt->offcpu_unmatched);
        }
        pp_out_stat(info, "lost", nt->perf_open ? nt->perf.lost : 0);
        pp_out_stat(info, "stale_dropped", nt->stale);
        pp_out_stat(info, "py_delay_us_p50", quantile(nt->lat_us, nt->nlat, 0.5));
        pp_out_stat(info, "py_delay_us_p99", quantile(nt->lat_us, nt->nlat, 0.99));
    } else {
        pp_out_stat(info, "stop_ns_p50", quantile(nt->stop_ns, nt->nstop, 0.5));
        pp_out_stat(info, "stop_ns_p99", quantile(nt->stop_ns, nt->nstop, 0.99));
        pp_out_stat(info, "stop_cpu_ns_p50", quantile(nt->stop_cpu_ns, nt->nstop, 0.5));
        pp_out_stat(info, "stop_cpu_ns_p99", quantile(nt->stop_cpu_ns, nt->nstop, 0.99));
    }
    {
        struct nodebug nd;
        nd.len = 0;
        nd.text[0] = '\0';
        pp_sym_missing_debug(nt->sym, note_missing, &nd);
        if (nd.len) /* ':'-separated paths of modules without DWARF */
            pp_out_meta(info, "nodebug", "%s", nd.text);
    }
}

void
pp_native_summary(struct pp_session *s, char *buf, size_t len)
{
    struct pp_native *nt = s->nat;
    double rate, urate;
    if (!nt) {
        if (len)
            buf[0] = '\0';
        return;
    }
    rate = nt->samples ? 100.0 * (double)nt->mismatches / (double)nt->samples : 0.0;
    urate = nt->samples ? 100.0 * (double)nt->unproven / (double)nt->samples : 0.0;
    if (nt->mode == PP_NATIVE_BLOCKING)
        snprintf(buf, len, ", native (blocking, %s): %llu merge failures (%.2f%%), %llu truncated, stop median %.1f us",
                 nt->unw->ops->name, (unsigned long long)nt->mismatches, rate,
                 (unsigned long long)nt->truncated,
                 quantile(nt->stop_ns, nt->nstop, 0.5) / 1000.0);
    else if (nt->mode == PP_NATIVE_PERF) /* joins of two instants: checked, maybe unproven */
        snprintf(buf, len, ", native (perf, %s): %llu merge failures (%.2f%%), %llu unproven (%.2f%%), %llu truncated, %llu lost",
                 nt->unw->ops->name, (unsigned long long)nt->mismatches, rate,
                 (unsigned long long)nt->unproven, urate, (unsigned long long)nt->truncated,
                 (unsigned long long)lost(nt));
    else
        snprintf(buf, len, ", native (%s, %s): %llu merge failures (%.2f%%), %llu truncated, %llu lost",
                 mode_name(nt->mode), nt->unw->ops->name, (unsigned long long)nt->mismatches,
                 rate, (unsigned long long)nt->truncated, (unsigned long long)lost(nt));
}

void
pp_native_free(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    if (!nt)
        return;
    if (nt->seized_list.len)
        pp_native_detach(s);
    if (nt->perf_open)
        pp_perf_free(&nt->perf);
    pp_unwinder_free(nt->unw);
    pp_sym_free(nt->sym);
    pp_hmap_free(&nt->seized);
    pp_hmap_free(&nt->last_sp);
    pp_hmap_free(&nt->unknown_pages);
    pp_vec_free(&nt->seized_list);
    pp_vec_free(&nt->syms);
    pp_hmap_free(&nt->sym_ids);
    pp_vec_free(&nt->names_pool);
    pp_vec_free(&nt->offcpu_pending);
    free(nt->uf);
    free(nt->mn);
    free(nt->off);
    free(nt->sp);
    free(nt->merged);
    free(nt->lat_us);
    free(nt->stop_ns);
    free(nt->stop_cpu_ns);
    free(nt->stackbuf);
    free(nt);
    s->nat = NULL;
}
