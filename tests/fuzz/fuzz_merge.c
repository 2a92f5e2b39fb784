/*
 * fuzz_merge.c -- libFuzzer target for the native/Python splice (merge.c):
 * any mix of native frames (eval, internal, inline chains), Python runs and
 * truncation gives a bounded stack made only of input frame ids and the
 * markers, an OK result only when activations and runs are equal, and the
 * eval loop's own frame (2000) only in an unmerged (mismatch) sample.  With
 * data[0] bit 2, the join evidence is checked against the input's own
 * bytes as the stack copy (SPs, addresses, registers, the cframe chain and
 * recent bytecode ranges drawn from it): reads stay inside the copy, and
 * <merge unproven> (9002) leads exactly the UNPROVEN results.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pp_merge_native nat[MAXN];
    struct pp_merge_py py[MAXN];
    uint32_t ids[MAXN][3], out[96];
    uint64_t sp[MAXN], regs[17], other[8], *copy = NULL;
    struct pp_merge_in in;
    size_t nn = 0, np = 0, i, n = 0, evals = 0, runs = 0;
    int r;

    if (size < 2)
        return 0;
    memset(&in, 0, sizeof in);
    in.native_truncated = data[0] & 1;
    in.no_internals = (data[0] >> 1) & 1;
    in.mismatch_marker = 9000;
    in.truncated_marker = 9001;
    for (i = 1; i < size; i++) {
        uint8_t b = data[i];
        if ((b & 0x80) && nn < MAXN) { /* a native frame */
            uint32_t k, cnt = (b >> 4) & 3;
            for (k = 0; k < cnt && k < 3; k++)
                ids[nn][k] = 1000 + (uint32_t)nn * 4 + k;
            nat[nn].flags = b & 3;
            nat[nn].nids = cnt < 3 ? cnt : 3;
            nat[nn].ids = ids[nn];
            nat[nn].self_id = 2000;
            evals += (b & PP_MF_EVAL) != 0;
            nn++;
        } else if (!(b & 0x80) && np < MAXN) { /* a Python frame */
            py[np].id = (b & 0x40) ? UINT32_MAX : 1 + (uint32_t)np;
            py[np].run_start = (b & 1) || np == 0;
            py[np].base_addr = 0x7000 + (uint64_t)b * 8;
            py[np].top_addr = 0x5000 + (uint64_t)(b & 7);
            py[np].code_lo = (b & 2) ? 0x7000 + (uint64_t)(b & 0x3c) * 8 : 0;
            py[np].code_hi = py[np].code_lo ? py[np].code_lo + 64 : 0;
            runs += py[np].run_start;
            np++;
        }
    }
    in.native = nat;
    in.nnative = nn;
    in.py = py;
    in.npy = np;
    in.unproven_marker = 9002;
    if (data[0] & 4) {
        /* the copy: the input's bytes as words at 0x7000; the SPs grow
         * from the leaf (0x7000) towards the root by a step from the input */
        size_t words = size / 8;
        copy = malloc(words ? words * 8 : 1);
        if (!copy)
            return 0;
        memcpy(copy, data, words * 8);
        for (i = 0; i < nn; i++) /* root first: the root has the highest SP */
            sp[i] = (data[0] & 8) && i == nn / 2 ? 0 : 0x7000 + (uint64_t)(nn - 1 - i) * ((data[0] >> 4) + 1) * 8;
        for (i = 0; i < 17; i++)
            regs[i] = i < size ? 0x7000 + data[i] : 0;
        for (i = 0; i < 4; i++) {
            other[2 * i] = 0x7000 + (uint64_t)i * 0x100;
            other[2 * i + 1] = other[2 * i] + 0x40;
        }
        in.ev.checks = (data[0] >> 5) ? (unsigned)(data[0] >> 4) & 0xf : PP_MEV_SHIM | PP_MEV_CFRAME;
        in.ev.sp = sp;
        in.ev.regs = regs;
        in.ev.nregs = 17;
        in.ev.stack = (const uint8_t *)copy;
        in.ev.stack_addr = 0x7000;
        in.ev.stack_len = words * 8;
        in.ev.cframe_addr = 0x7000 + (size > 1 ? data[1] : 0);
        in.ev.cframe_current = 8;
        in.ev.cframe_previous = 16;
        in.ev.other_code = other;
        in.ev.n_other = data[0] & 8 ? 4 : 0;
    }
    r = pp_merge(&in, out, (sizeof out / sizeof out[0]), &n);
    free(copy);
    if (n > (sizeof out / sizeof out[0]))
        abort();
    for (i = 0; i < n; i++) {
        uint32_t id = out[i];
        if (!(id == 9000 || id == 9001 || id == 9002 || id == 2000 || (id >= 1 && id <= np) ||
              (id >= 1000 && id < 1000 + 4 * MAXN)))
            abort();
    }
    if (r == PP_MERGE_OK && (in.native_truncated || evals != runs))
        abort();
    if (r == PP_MERGE_NOPY && (evals || runs))
        abort();
    if (r == PP_MERGE_CONTRADICTED && !in.ev.checks)
        abort();
    if (r == PP_MERGE_CONTRADICTED)
        r = PP_MERGE_MISMATCH; /* the same output */
    for (i = 0; i < n; i++)
        if (out[i] == 2000 && r != PP_MERGE_MISMATCH)
            abort();
    if (r == PP_MERGE_MISMATCH && (n == 0 || out[0] != 9000))
        abort();
    if ((r == PP_MERGE_UNPROVEN) != (n > 0 && out[0] == 9002))
        abort();
    if (r == PP_MERGE_UNPROVEN && (!in.ev.checks || (!in.native_truncated && evals != runs)))
        abort();
    return 0;
}
