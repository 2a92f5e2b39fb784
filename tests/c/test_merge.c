/*
 * test_merge.c -- the splice of Python runs into eval-loop activations
 * (csrc/merge.c), and the pure helpers of the symbolizer.
 *
 * Frame ids in these tests: natives are 100+, Python frames 1..99,
 * markers 900 (mismatch), 901 (truncated) and 902 (unproven), the eval
 * loop's own frame 999.  Runs written {id, run_start} leave the addresses
 * of the join evidence 0.
 */
#include <stdint.h>
#include <string.h>

#include "merge.h"
#include "sym.h"
#include "tap.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MISMATCH 900u
#define TRUNC 901u
#define UNPROVEN 902u
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

    /* ==== join evidence (perf mode) ====
     * The native stack, root first, with each frame's SP; the copy holds
     * [0x6b00, 0x7100): the leaf's SP up to above main's frame.
     * Activation 0 (root) is [0x6f00, 0x7000), activation 1 [0x6c00, 0x6d00). */
    {
        const struct pp_merge_native nat[] = {NAT(id_main), EVAL, NAT(id_ext), NAT(id_helper),
                                              INTERNAL(id_call), EVAL, NAT(id_leaf)};
        static const uint64_t sp[] = {0x7000, 0x6f00, 0x6e00, 0x6d80, 0x6d00, 0x6c00, 0x6b00};
        const uint32_t merged[] = {100, 1, 101, 102, 104, 2, 103};
        const uint32_t unproven[] = {UNPROVEN, 100, 1, 101, 102, 104, 2, 103};
        const uint32_t unmerged[] = {MISMATCH, 100, 999, 101, 102, 104, 999, 103};
        uint64_t words[0x600 / 8], regs[17];
        struct pp_merge_py py[2];
        struct pp_merge_in in;
#define WORD(addr) words[((addr) - 0x6b00) / 8]
        memset(&in, 0, sizeof in);
        memset(words, 0, sizeof words);
        memset(regs, 0, sizeof regs);
        memset(py, 0, sizeof py);
        py[0].id = 1;
        py[0].run_start = true;
        py[1].id = 2;
        py[1].run_start = true;
        in.native = nat;
        in.nnative = LEN(nat);
        in.py = py;
        in.npy = LEN(py);
        in.mismatch_marker = MISMATCH;
        in.truncated_marker = TRUNC;
        in.unproven_marker = UNPROVEN;
        in.ev.sp = sp;
        in.ev.regs = regs;
        in.ev.nregs = 17;
        in.ev.stack = (const uint8_t *)words;
        in.ev.stack_addr = 0x6b00;
        in.ev.stack_len = sizeof words;

        /* 3.12+: each run's shim lies in its own activation's frame */
        in.ev.checks = PP_MEV_SHIM;
        py[0].base_addr = 0x6f40;
        py[1].base_addr = 0x6c40;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        CHECK(same(out, n, merged, LEN(merged)));
        /* run 1 was entered from another C frame (the stack changed shape
         * with the same counts): a mismatch */
        py[1].base_addr = 0x6d40;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        CHECK(same(out, n, unmerged, LEN(unmerged)));
        /* the activation's CFA is its caller's SP: 0x6d00 is outside */
        py[1].base_addr = 0x6d00;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        py[1].base_addr = 0x6cf8;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* no shim address, or no SP for the activation: unproven, merged */
        py[1].base_addr = 0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        CHECK(same(out, n, unproven, LEN(unproven)));
        py[1].base_addr = 0x6c40;
        {
            static const uint64_t sp0[] = {0x7000, 0x6f00, 0x6e00, 0x6d80, 0x6d00, 0, 0x6b00};
            in.ev.sp = sp0;
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
            in.ev.sp = sp;
        }
        /* without checks the counts alone decide (blocking mode) */
        in.ev.checks = 0;
        py[1].base_addr = 0x6d40;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        py[1].base_addr = 0;

        /* 3.11-3.12: the thread's _PyCFrame (innermost activation), its
         * current_frame at +8 and previous at +16 in the copy */
        in.ev.checks = PP_MEV_CFRAME;
        in.ev.cframe_current = 8;
        in.ev.cframe_previous = 16;
        in.ev.cframe_addr = 0x6c80;
        py[0].top_addr = 0x4000;
        py[1].top_addr = 0x5000;
        WORD(0x6c88) = 0x5000;
        WORD(0x6c90) = 0x6f80;
        WORD(0x6f88) = 0x4000;
        WORD(0x6f90) = 0x1234; /* the thread state's root cframe: not looked at */
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        CHECK(same(out, n, merged, LEN(merged)));
        /* the innermost activation ran another frame at the sample */
        WORD(0x6c88) = 0x5100;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        WORD(0x6c88) = 0x5000;
        /* the outer one did */
        WORD(0x6f88) = 0x4100;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        WORD(0x6f88) = 0x4000;
        /* the thread's cframe is in another C frame than the innermost
         * activation's: it returned and called again elsewhere */
        in.ev.cframe_addr = 0x6d90;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        in.ev.cframe_addr = 0x6c80;
        /* the outer cframe outside its activation */
        WORD(0x6c90) = 0x6e80;
        WORD(0x6e88) = 0x4000;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        /* the outer cframe beyond the copy (a short copy): unproven */
        WORD(0x6c90) = 0x6f80;
        in.ev.stack_len = 0x6f80 - 0x6b00;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        CHECK(same(out, n, unproven, LEN(unproven)));
        in.ev.stack_len = sizeof words;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* 3.12: shims and cframes together; one contradiction is enough */
        in.ev.checks = PP_MEV_CFRAME | PP_MEV_SHIM;
        py[0].base_addr = 0x6f40;
        py[1].base_addr = 0x6c40;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        py[0].base_addr = 0x6c48;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
        py[0].base_addr = 0;
        py[1].base_addr = 0;
        memset(words, 0, sizeof words);

        /* <=3.10: each run's frame object, an argument of its activation,
         * is in a register or in the copy below the activation's CFA */
        in.ev.checks = PP_MEV_FRAMEOBJ;
        py[0].base_addr = 0xaaa0;
        py[1].base_addr = 0xbbb0;
        WORD(0x6e10) = 0xaaa0; /* spilled by a callee of activation 0 */
        regs[3] = 0xbbb0;      /* still in rbx at the sample */
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        CHECK(same(out, n, merged, LEN(merged)));
        /* only above activation 1's CFA: not its evidence */
        regs[3] = 0;
        WORD(0x6d10) = 0xbbb0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        CHECK(same(out, n, unproven, LEN(unproven)));
        WORD(0x6cf8) = 0xbbb0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* exact: a neighbouring value is not the frame */
        WORD(0x6cf8) = 0xbbb8;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        /* above activation 0's CFA (0x7000): not found either */
        WORD(0x6cf8) = 0xbbb0;
        WORD(0x6e10) = 0;
        WORD(0x7008) = 0xaaa0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        WORD(0x6ff8) = 0xaaa0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        memset(words, 0, sizeof words);
        py[0].base_addr = py[1].base_addr = 0;

        /* 3.11+: the activation's instruction pointer, in a register or
         * spilled by a callee (below the activation's SP), points into
         * the bytecode of its run's top frame */
        in.ev.checks = PP_MEV_INSTR;
        py[0].code_lo = 0x9000;
        py[0].code_hi = 0x9040;
        py[1].code_lo = 0xa000;
        py[1].code_hi = 0xa100;
        WORD(0x6e00) = 0x903e; /* spilled by activation 1's callees' callee */
        regs[12] = 0xa000;     /* still in r12 */
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        CHECK(same(out, n, merged, LEN(merged)));
        regs[12] = 0;
        WORD(0x6b08) = 0xa0ff;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* past the bytecode, before it: not this function */
        WORD(0x6b08) = 0xa100;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        CHECK(same(out, n, unproven, LEN(unproven)));
        WORD(0x6b08) = 0x9ffe;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        /* in the activation's own frame [0x6c00, 0x6d00): its home slot
         * (3.12's loop keeps next_instr there while it calls out) */
        WORD(0x6b08) = 0;
        WORD(0x6cf8) = 0xa010;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* above its CFA: the caller's, not evidence */
        WORD(0x6cf8) = 0;
        WORD(0x6d00) = 0xa010;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        WORD(0x6d00) = 0;
        WORD(0x6c00) = 0xa010;
        /* the outer activation's: below its CFA 0x7000 only */
        WORD(0x6e00) = 0;
        WORD(0x7000) = 0x9010;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        WORD(0x6ff8) = 0x9010;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* two runs in one function (recursion through C): one word proves both */
        py[0].code_lo = 0xa000;
        py[0].code_hi = 0xa100;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
        /* the innermost activation: a pointer into another recent
         * function's bytecode nearer the leaf than its own (a register,
         * or a lower address) means its own was a stale stack slot */
        py[0].code_lo = 0x9000;
        py[0].code_hi = 0x9040;
        WORD(0x6e00) = 0x9010;
        {
            static const uint64_t other[] = {0x8000, 0x8100, 0xa000, 0xa100, 0xb000, 0xb080};
            in.ev.other_code = other;
            in.ev.n_other = 3;
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK); /* own: 0xa010 at 0x6c00 */
            WORD(0x6b20) = 0xb004;  /* another function's, nearer the leaf */
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
            CHECK(same(out, n, unproven, LEN(unproven)));
            WORD(0x6b20) = 0;
            regs[3] = 0x8080;       /* in a register: nearest of all */
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
            regs[3] = 0;
            WORD(0x6c08) = 0x8010;  /* farther than its own: not it */
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
            WORD(0x6b20) = 0x9004;  /* the outer run's function, not among the recent */
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
            WORD(0x6b20) = 0x7ff0;  /* in no function */
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_OK);
            in.ev.other_code = NULL;
            in.ev.n_other = 0;
        }
        /* no bytecode range known: unproven */
        py[1].code_lo = py[1].code_hi = 0;
        CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
        memset(words, 0, sizeof words);
        memset(py, 0, sizeof py);
        py[0].id = 1;
        py[0].run_start = true;
        py[1].id = 2;
        py[1].run_start = true;

        /* a truncated native stack: the runs aligned from the leaf, the
         * matched join checked, unproven marked before the rest */
        {
            const struct pp_merge_native tn[] = {NAT(id_helper), INTERNAL(id_call), EVAL,
                                                 NAT(id_leaf)};
            static const uint64_t tsp[] = {0x6d80, 0x6d00, 0x6c00, 0x6b00};
            const uint32_t want[] = {UNPROVEN, 1, TRUNC, 102, 104, 2, 103};
            in.native = tn;
            in.nnative = LEN(tn);
            in.native_truncated = true;
            in.ev.sp = tsp;
            in.ev.checks = PP_MEV_SHIM;
            py[0].base_addr = 0x7f00; /* the root run: its activation is not in the unwind */
            py[1].base_addr = 0x6c40;
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_TRUNCATED);
            py[1].base_addr = 0x6d40;
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_CONTRADICTED);
            py[1].base_addr = 0;
            CHECK_EQ_INT(pp_merge(&in, out, 64, &n), PP_MERGE_UNPROVEN);
            CHECK(same(out, n, want, LEN(want)));
        }
#undef WORD
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
