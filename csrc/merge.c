/*
 * merge.c -- splicing Python runs into eval-loop activations (see merge.h).
 */
#include "merge.h"

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
        return PP_MERGE_OK;
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
    return PP_MERGE_TRUNCATED;
}
