/*
 * test_merge.c -- the splice of Python runs into eval-loop activations
 * (csrc/merge.c), and the pure helpers of the symbolizer.
 *
 * Frame ids in these tests: natives are 100+, Python frames 1..99,
 * markers 900 (mismatch) and 901 (truncated), the eval loop's own frame 999.
 */
#include <stdint.h>
#include <string.h>

#include "merge.h"
#include "sym.h"
#include "tap.h"

#define MISMATCH 900u
#define TRUNC 901u
#define NONE UINT32_MAX

static const uint32_t id_main[] = {100}, id_ext[] = {101}, id_helper[] = {102},
                      id_leaf[] = {103}, id_call[] = {104}, id_inl[] = {105, 106};

#define NAT(ids) {0, (uint32_t)(sizeof(ids) / sizeof(ids[0])), ids, 0}
#define INTERNAL(ids) {PP_MF_INTERNAL, (uint32_t)(sizeof(ids) / sizeof(ids[0])), ids, 0}
#define EVAL {PP_MF_EVAL | PP_MF_INTERNAL, 0, NULL, 999}

static bool same_instant;

static int
run(const struct pp_merge_native *nat, size_t nn, bool trunc, const struct pp_merge_py *py,
    size_t np, bool no_internals, uint32_t *out, size_t *n)
{
    struct pp_merge_in in;
    memset(&in, 0, sizeof in);
    in.same_instant = same_instant;
    in.native = nat;
    in.nnative = nn;
    in.native_truncated = trunc;
    in.py = py;
    in.npy = np;
    in.no_internals = no_internals;
    in.mismatch_marker = MISMATCH;
    in.truncated_marker = TRUNC;
    return pp_merge(&in, out, 64, n);
}

static int
same(const uint32_t *got, size_t n, const uint32_t *want, size_t m)
{
    size_t i;
    if (n != m) {
        fprintf(stderr, "  length %zu, expected %zu:", n, m);
        for (i = 0; i < n; i++)
            fprintf(stderr, " %u", got[i]);
        fprintf(stderr, "\n");
        return 0;
    }
    for (i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "  frame %zu is %u, expected %u\n", i, got[i], want[i]);
            return 0;
        }
    return 1;
}

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

int
main(void)
{
    uint32_t out[64];
    size_t n;

    { /* 3.8-3.10: one activation per frame, C -> Python -> C callback */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), NAT(id_helper),
                                              INTERNAL(id_call), EVAL, NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {2, true}};
        const uint32_t want[] = {100, 1, 101, 102, 104, 2, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want, LEN(want)));
        /* folded internals */
        {
            const uint32_t want2[] = {100, 1, 101, 102, 2, 103};
            CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), true, out, &n), PP_MERGE_OK);
            CHECK(same(out, n, want2, LEN(want2)));
        }
    }
    { /* 3.11+: runs of several frames per activation */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), EVAL,
                                              NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {2, false}, {3, false}, {4, true}, {5, false}};
        const uint32_t want[] = {100, 1, 2, 3, 101, 4, 5, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* an activation whose frames are all skipped (just pushed): fine when
       * the sample is in the loop itself ... */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), EVAL};
        const struct pp_merge_py py[] = {{1, true}, {NONE, true}};
        const uint32_t want[] = {100, 1, 101};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* ... but such an activation cannot be calling C: a late Python read */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), EVAL,
                                              NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {NONE, true}};
        const uint32_t want[] = {MISMATCH, 100, 999, 101, 999, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_MISMATCH);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* inline frames inside the eval loop follow its Python run */
        const struct pp_merge_native nat[] = {NAT(id_main),
                                              {PP_MF_EVAL | PP_MF_INTERNAL, 2, id_inl, 999},
                                              NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {2, false}};
        const uint32_t want[] = {100, 1, 2, 105, 106, 103};
        const uint32_t want_folded[] = {100, 1, 2, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want, LEN(want)));
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), true, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want_folded, LEN(want_folded)));
    }
    { /* more activations than runs: the Python stack was read after a
       * return; the sample is shown unmerged, behind the marker */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), EVAL,
                                              NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {2, false}};
        const uint32_t want[] = {MISMATCH, 100, 999, 101, 999, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_MISMATCH);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* more runs than activations: Python went deeper after the sample */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, INTERNAL(id_call), NAT(id_ext)};
        const struct pp_merge_py py[] = {{1, true}, {2, true}};
        const uint32_t want[] = {MISMATCH, 100, 999, 104, 101};
        const uint32_t want_folded[] = {MISMATCH, 100, 101};
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_MISMATCH);
        CHECK(same(out, n, want, LEN(want)));
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), true, out, &n), PP_MERGE_MISMATCH);
        CHECK(same(out, n, want_folded, LEN(want_folded)));
    }
    { /* native unwind cut short: aligned from the leaf */
        const struct pp_merge_native nat[] = {NAT(id_ext), EVAL, NAT(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}, {2, false}, {3, true}};
        const uint32_t want[] = {1, 2, TRUNC, 101, 3, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), true, py, LEN(py), false, out, &n), PP_MERGE_TRUNCATED);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* cut short and more activations than runs */
        const struct pp_merge_native nat[] = {EVAL, NAT(id_ext), EVAL, NAT(id_leaf)};
        const struct pp_merge_py py[] = {{3, true}};
        const uint32_t want[] = {MISMATCH, TRUNC, 999, 101, 999, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), true, py, LEN(py), false, out, &n), PP_MERGE_MISMATCH);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* a thread with no Python at all */
        const struct pp_merge_native nat[] = {NAT(id_main), NAT(id_leaf)};
        const uint32_t want[] = {100, 103};
        CHECK_EQ_INT(run(nat, LEN(nat), false, NULL, 0, false, out, &n), PP_MERGE_NOPY);
        CHECK(same(out, n, want, LEN(want)));
    }
    { /* the output is bounded */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_leaf)};
        struct pp_merge_py py[40];
        struct pp_merge_in in;
        size_t i;
        for (i = 0; i < LEN(py); i++)
            py[i] = (struct pp_merge_py){(uint32_t)(i + 1), i == 0};
        memset(&in, 0, sizeof in);
        in.native = nat;
        in.nnative = LEN(nat);
        in.py = py;
        in.npy = LEN(py);
        CHECK_EQ_INT(pp_merge(&in, out, 10, &n), PP_MERGE_OK);
        CHECK_EQ_INT(n, 10);
    }

    /* symbol-name helpers */
    CHECK(pp_sym_is_eval("_PyEval_EvalFrameDefault"));
    CHECK(pp_sym_is_eval("_PyEval_EvalFrameDefault.cold"));
    CHECK(!pp_sym_is_eval("_PyEval_EvalFrameDefaultX"));
    CHECK(!pp_sym_is_eval("_PyEval_EvalFrame"));
    CHECK(!pp_sym_is_eval("PyEval_EvalFrameEx"));
    CHECK(!pp_sym_is_eval(NULL));
    CHECK(pp_sym_is_interp_module("libpython3.11.so.1.0"));
    CHECK(pp_sym_is_interp_module("python3.11"));
    CHECK(pp_sym_is_interp_module("python3"));
    CHECK(!pp_sym_is_interp_module("python"));
    CHECK(!pp_sym_is_interp_module("libpythonx.so"));
    CHECK(!pp_sym_is_interp_module("cbext.cpython-311-x86_64-linux-gnu.so"));
    { /* one instant (bpf, ptrace): the leaf activation returning, its frame popped */
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), NAT(id_helper),
                                              INTERNAL(id_call), EVAL, INTERNAL(id_leaf)};
        const struct pp_merge_py py[] = {{1, true}};
        const uint32_t want[] = {100, 1, 101, 102, 104, 103};
        /* two instants: the same stacks are a mismatch */
        same_instant = false;
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_MISMATCH);
        same_instant = true;
        CHECK_EQ_INT(run(nat, LEN(nat), false, py, LEN(py), false, out, &n), PP_MERGE_OK);
        CHECK(same(out, n, want, LEN(want)));
        /* its shim still there, no frame: the same, and not a mismatch for calling on */
        {
            const struct pp_merge_py py4[] = {{1, true}, {NONE, true}};
            CHECK_EQ_INT(run(nat, LEN(nat), false, py4, LEN(py4), false, out, &n), PP_MERGE_OK);
            CHECK(same(out, n, want, LEN(want)));
            same_instant = false;
            CHECK_EQ_INT(run(nat, LEN(nat), false, py4, LEN(py4), false, out, &n),
                         PP_MERGE_MISMATCH);
            same_instant = true;
        }
        /* two runs short: a mismatch */
        {
            const struct pp_merge_native nat3[] = {EVAL, NAT(id_ext), EVAL, NAT(id_leaf), EVAL};
            const struct pp_merge_py py3[] = {{1, true}};
            CHECK_EQ_INT(run(nat3, LEN(nat3), false, py3, LEN(py3), false, out, &n),
                         PP_MERGE_MISMATCH);
        }
        same_instant = false;
    }
    TEST_DONE();
}
