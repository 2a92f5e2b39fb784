/*
 * fuzz_merge.c -- libFuzzer target for the native/Python splice (merge.c):
 * any mix of native frames (eval, internal, inline chains), Python runs and
 * truncation gives a bounded stack made only of input frame ids and the two
 * markers, an OK result only when activations and runs are equal, and the
 * eval loop's own frame (2000) only in an unmerged (mismatch) sample.
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
            runs += py[np].run_start;
            np++;
        }
    }
    in.native = nat;
    in.nnative = nn;
    in.py = py;
    in.npy = np;
    r = pp_merge(&in, out, (sizeof out / sizeof out[0]), &n);
    if (n > (sizeof out / sizeof out[0]))
        abort();
    for (i = 0; i < n; i++) {
        uint32_t id = out[i];
        if (!(id == 9000 || id == 9001 || id == 2000 || (id >= 1 && id <= np) ||
              (id >= 1000 && id < 1000 + 4 * MAXN)))
            abort();
    }
    if (r == PP_MERGE_OK && (in.native_truncated || evals != runs))
        abort();
    if (r == PP_MERGE_NOPY && (evals || runs))
        abort();
    for (i = 0; i < n; i++)
        if (out[i] == 2000 && r != PP_MERGE_MISMATCH)
            abort();
    if (r == PP_MERGE_MISMATCH && (n == 0 || out[0] != 9000))
        abort();
    return 0;
}
