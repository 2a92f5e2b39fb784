/*
 * merge.c -- splicing Python runs into eval-loop activations (see merge.h).
 */
#include "merge.h"

#include <string.h>

struct outbuf {
    uint32_t *out;
    size_t max, n;
};

static void
put(struct outbuf *o, uint32_t id)
{
    if (id != UINT32_MAX && o->n < o->max)
        o->out[o->n++] = id;
}

static void
put_native(struct outbuf *o, const struct pp_merge_native *f, bool no_internals)
{
    uint32_t i;
    if (no_internals && (f->flags & PP_MF_INTERNAL))
        return;
    for (i = 0; i < f->nids; i++)
        put(o, f->ids[i]);
}

/* Emits the frames of runs [first, first + count), runs counted from the
 * root. */
static void
put_runs(struct outbuf *o, const struct pp_merge_in *in, size_t first, size_t count)
{
    size_t i, r = 0;
    for (i = 0; i < in->npy; i++) {
        if (i > 0 && in->py[i].run_start)
            r++;
        if (r >= first + count)
            break;
        if (r >= first)
            put(o, in->py[i].id);
    }
}

/* True when run r (from the root) has no frame to show: all its frames
 * were incomplete (just pushed, not started) or it is a bare shim. */
static bool
run_is_empty(const struct pp_merge_in *in, size_t r)
{
    size_t i, k = 0;
    for (i = 0; i < in->npy; i++) {
        if (i > 0 && in->py[i].run_start)
            k++;
        if (k == r && in->py[i].id != UINT32_MAX)
            return false;
        if (k > r)
            break;
    }
    return true;
}

/*
 * An activation whose run has no complete frame cannot be calling further
 * native code: a frame that calls out is executing a CALL.  Seen when the
 * Python stack was read a little later than the native sample, just as
 * the next call had pushed its frame, with the counts still equal.
 */
static bool
empty_run_calls_on(const struct pp_merge_in *in)
{
    size_t i, e = 0;
    for (i = 0; i < in->nnative; i++) {
        if (!(in->native[i].flags & PP_MF_EVAL))
            continue;
        if (i + 1 < in->nnative && run_is_empty(in, e))
            return true;
        e++;
    }
    return false;
}

/* ==== evidence: are both halves of one instant? (merge.h) ==== */

enum { EV_PROVEN, EV_UNKNOWN, EV_CONTRADICTS };

/* Joins checked per sample; a deeper stack is not proven. */
#define EV_MAX 256

struct ev_join {
    uint64_t lo, hi;   /* the activation's frame [sp, cfa); 0, 0 unknown */
    const struct pp_merge_py *run; /* the run's first entry */
    uint64_t vlo, vhi; /* FRAMEOBJ, INSTR: the values looked for (none: empty) */
    uint64_t limit;    /* ... in the copy below this address */
    bool found;
    bool cframe_ok;    /* PP_MEV_CFRAME */
};

static bool
copy_word(const struct pp_merge_evidence *ev, uint64_t addr, uint64_t *w)
{
    if (!ev->stack || addr < ev->stack_addr || addr - ev->stack_addr > ev->stack_len ||
        ev->stack_len - (addr - ev->stack_addr) < 8)
        return false;
    memcpy(w, ev->stack + (addr - ev->stack_addr), 8);
    return true;
}

static bool
in_frame(const struct ev_join *j, uint64_t addr)
{
    return addr >= j->lo && addr < j->hi;
}

/* 3.11-3.12: the _PyCFrame chain, innermost activation first. */
static int
check_cframes(const struct pp_merge_evidence *ev, struct ev_join *j, size_t n)
{
    uint64_t c = ev->cframe_addr, cur;
    size_t e;
    for (e = n; e-- > 0;) {
        if (c == 0 || j[e].lo == 0)
            return EV_UNKNOWN;
        if (!in_frame(&j[e], c))
            return EV_CONTRADICTS; /* the thread's activations are elsewhere */
        if (!copy_word(ev, c + ev->cframe_current, &cur))
            return EV_UNKNOWN; /* beyond the copy */
        if (j[e].run->top_addr && cur != j[e].run->top_addr)
            return EV_CONTRADICTS; /* it ran another frame at the sample */
        j[e].cframe_ok = true;
        if (!copy_word(ev, c + ev->cframe_previous, &c))
            c = 0;
    }
    return EV_PROVEN;
}

/* One pass over the registers and the copy: for each join, is a value of
 * [vlo, vhi) there, below its limit? */
static void
find_values(const struct pp_merge_evidence *ev, struct ev_join *j, size_t n)
{
    uint16_t order[EV_MAX];
    uint64_t vmin = UINT64_MAX, vmax = 0, width = 0, top = 0, a;
    size_t i, k, nv = 0, left;

    for (i = 0; i < n; i++) {
        if (j[i].vhi <= j[i].vlo)
            continue;
        for (k = nv; k > 0 && j[order[k - 1]].vlo > j[i].vlo; k--) /* insertion sort */
            order[k] = order[k - 1];
        order[k] = (uint16_t)i;
        nv++;
        vmin = j[i].vlo < vmin ? j[i].vlo : vmin;
        vmax = j[i].vhi > vmax ? j[i].vhi : vmax;
        width = j[i].vhi - j[i].vlo > width ? j[i].vhi - j[i].vlo : width;
        top = j[i].limit > top ? j[i].limit : top;
    }
    left = nv;
    for (i = 0; i < ev->nregs && left; i++) /* a register: below every limit */
        for (k = 0; k < nv; k++) {
            struct ev_join *x = &j[order[k]];
            if (!x->found && ev->regs[i] >= x->vlo && ev->regs[i] < x->vhi) {
                x->found = true;
                left--;
            }
        }
    if (!ev->stack)
        return;
    for (a = 0; left && a + 8 <= ev->stack_len && ev->stack_addr + a < top; a += 8) {
        uint64_t w, addr = ev->stack_addr + a;
        size_t lo = 0, hi = nv;
        memcpy(&w, ev->stack + a, 8);
        if (w < vmin || w >= vmax)
            continue;
        while (lo < hi) { /* the first range starting above w */
            size_t mid = (lo + hi) / 2;
            if (j[order[mid]].vlo <= w)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (k = lo; k-- > 0 && w - j[order[k]].vlo < width;) {
            struct ev_join *x = &j[order[k]];
            if (!x->found && w < x->vhi && addr < x->limit) {
                x->found = true;
                left--;
            }
        }
    }
}

/* Is w in the bytecode of a recent function other than [own_lo, ...)? */
static bool
other_code(const struct pp_merge_evidence *ev, uint64_t w, uint64_t own_lo)
{
    size_t lo = 0, hi = ev->n_other;
    while (lo < hi) { /* the first range starting above w */
        size_t mid = (lo + hi) / 2;
        if (ev->other_code[2 * mid] <= w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && w < ev->other_code[2 * (lo - 1) + 1] && ev->other_code[2 * (lo - 1)] != own_lo;
}

/* The innermost activation's instruction pointer: the bytecode pointer
 * nearest the leaf (registers first) must be its run's, not another
 * recent function's (then the matching one is a stale stack slot). */
static bool
nearest_is_own(const struct pp_merge_evidence *ev, const struct ev_join *x)
{
    uint64_t a;
    size_t i;
    bool other = false;
    if (!ev->n_other)
        return true;
    for (i = 0; i < ev->nregs; i++) {
        if (ev->regs[i] >= x->vlo && ev->regs[i] < x->vhi)
            return true;
        other |= other_code(ev, ev->regs[i], x->vlo);
    }
    if (other)
        return false;
    for (a = 0; ev->stack && a + 8 <= ev->stack_len && ev->stack_addr + a < x->limit; a += 8) {
        uint64_t w;
        memcpy(&w, ev->stack + a, 8);
        if (w >= x->vlo && w < x->vhi)
            return true;
        if (other_code(ev, w, x->vlo))
            return false;
    }
    return false;
}

/* Checks the joins of activation e (root first) with run first_run + e. */
static int
verify(const struct pp_merge_in *in, size_t first_run)
{
    const struct pp_merge_evidence *ev = &in->ev;
    struct ev_join j[EV_MAX];
    size_t n = 0, i, r = 0;
    int v = EV_PROVEN, c;

    for (i = 0; i < in->nnative; i++) {
        if (!(in->native[i].flags & PP_MF_EVAL))
            continue;
        if (n >= EV_MAX)
            return EV_UNKNOWN;
        memset(&j[n], 0, sizeof j[n]);
        if (ev->sp && ev->sp[i]) {
            j[n].lo = ev->sp[i];
            j[n].hi = i == 0 ? UINT64_MAX : ev->sp[i - 1];
            if (j[n].hi <= j[n].lo)
                j[n].lo = j[n].hi = 0; /* not a frame: unknown */
        }
        n++;
    }
    for (i = 0; i < in->npy; i++) {
        if (i > 0 && in->py[i].run_start)
            r++;
        if ((i == 0 || in->py[i].run_start) && r >= first_run && r - first_run < n)
            j[r - first_run].run = &in->py[i];
    }
    for (i = 0; i < n; i++)
        if (!j[i].run)
            return EV_UNKNOWN; /* cannot happen with the counts checked */
    if (ev->checks & PP_MEV_SHIM) {
        for (i = 0; i < n; i++) {
            if (!j[i].run->base_addr || !j[i].lo)
                v = EV_UNKNOWN;
            else if (!in_frame(&j[i], j[i].run->base_addr))
                return EV_CONTRADICTS; /* run i was entered from another C frame */
        }
    }
    if (ev->checks & PP_MEV_CFRAME) {
        c = check_cframes(ev, j, n);
        if (c == EV_CONTRADICTS)
            return c;
        if (c == EV_UNKNOWN)
            v = EV_UNKNOWN;
    }
    if (ev->checks & (PP_MEV_FRAMEOBJ | PP_MEV_INSTR)) {
        bool obj = (ev->checks & PP_MEV_FRAMEOBJ) != 0;
        for (i = 0; i < n; i++) {
            if (!j[i].lo)
                continue;
            j[i].vlo = obj ? j[i].run->base_addr : j[i].run->code_lo;
            j[i].vhi = obj ? (j[i].vlo ? j[i].vlo + 1 : 0) : j[i].run->code_hi;
            j[i].limit = j[i].hi;
        }
        find_values(ev, j, n);
        for (i = 0; i < n; i++)
            if (!j[i].found)
                v = EV_UNKNOWN;
        if (!obj && n && j[n - 1].found && !nearest_is_own(ev, &j[n - 1]))
            v = EV_UNKNOWN;
    }
    return v;
}

/* The native stack alone, behind the mismatch marker. */
static void
put_unmerged(struct outbuf *o, const struct pp_merge_in *in)
{
    size_t i;
    put(o, in->mismatch_marker);
    if (in->native_truncated)
        put(o, in->truncated_marker);
    for (i = 0; i < in->nnative; i++) {
        const struct pp_merge_native *f = &in->native[i];
        if ((f->flags & PP_MF_EVAL) && !in->no_internals)
            put(o, f->self_id); /* the marker alone says Python was there */
        put_native(o, f, in->no_internals);
    }
}

int
pp_merge(const struct pp_merge_in *in, uint32_t *out, size_t max, size_t *n)
{
    struct outbuf o = {out, max, 0};
    size_t evals = 0, runs = 0, i, e;
    int v;

    for (i = 0; i < in->nnative; i++)
        if (in->native[i].flags & PP_MF_EVAL)
            evals++;
    for (i = 0; i < in->npy; i++)
        if (in->py[i].run_start || i == 0)
            runs++;

    if (evals == 0 && runs == 0) {
        for (i = 0; i < in->nnative; i++)
            put_native(&o, &in->native[i], in->no_internals);
        *n = o.n;
        return PP_MERGE_NOPY;
    }
    if (in->same_instant && !in->native_truncated && evals == runs + 1) {
        /* the leaf-most activation is entering or leaving: no frame of its own */
        for (i = 0, e = 0; i < in->nnative; i++) {
            const struct pp_merge_native *f = &in->native[i];
            if ((f->flags & PP_MF_EVAL) && e++ < runs)
                put_runs(&o, in, e - 1, 1); /* the last: no frame of its own now */
            put_native(&o, f, in->no_internals);
        }
        *n = o.n;
        return PP_MERGE_OK;
    }
    if (in->native_truncated ? evals > runs
                             : evals != runs || (!in->same_instant && empty_run_calls_on(in))) {
        put_unmerged(&o, in);
        *n = o.n;
        return PP_MERGE_MISMATCH;
    }
    v = in->ev.checks ? verify(in, in->native_truncated ? runs - evals : 0) : EV_PROVEN;
    if (v == EV_CONTRADICTS) {
        put_unmerged(&o, in);
        *n = o.n;
        return PP_MERGE_CONTRADICTED;
    }
    if (v == EV_UNKNOWN) /* its own tower: merged, but maybe of two instants */
        put(&o, in->unproven_marker);
    if (!in->native_truncated) {
        for (i = 0, e = 0; i < in->nnative; i++) {
            const struct pp_merge_native *f = &in->native[i];
            if (f->flags & PP_MF_EVAL) {
                put_runs(&o, in, e++, 1); /* an empty run: entering or leaving */
                put_native(&o, f, in->no_internals); /* inlined into the loop */
                continue;
            }
            put_native(&o, f, in->no_internals);
        }
        *n = o.n;
        return v == EV_UNKNOWN ? PP_MERGE_UNPROVEN : PP_MERGE_OK;
    }
    /* the native stack lacks its root part: align from the leaf; the
     * root-side runs had their activations in the part that is missing */
    put_runs(&o, in, 0, runs - evals);
    put(&o, in->truncated_marker);
    for (i = 0, e = 0; i < in->nnative; i++) {
        const struct pp_merge_native *f = &in->native[i];
        if (f->flags & PP_MF_EVAL) {
            put_runs(&o, in, runs - evals + e++, 1);
            put_native(&o, f, in->no_internals);
            continue;
        }
        put_native(&o, f, in->no_internals);
    }
    *n = o.n;
    return v == EV_UNKNOWN ? PP_MERGE_UNPROVEN : PP_MERGE_TRUNCATED;
}
