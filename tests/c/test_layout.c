/*
 * tests/c/test_layout.c -- layouts (py/layout.h): the static tables for
 * 3.8 - 3.13, validation of corrupted layouts, and the _Py_DebugOffsets
 * reader (3.13 synthetic, 3.14.10 and 3.15.2 real tables, moved slot by
 * slot, and an unknown 3.16) served through the snapshot memory backend.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "py/layout.h"
#include "py/offsets_table.h"
#include "tap.h"

static int log_errors, snap_failures;

static void
quiet_sink(enum pp_log_level level, const char *msg)
{
    (void)msg;
    if (level == PP_LOG_ERROR)
        log_errors++;
}

#define V(minor) (0x03000000u | ((unsigned)(minor) << 16) | 0xf0u)

static void
test_static(void)
{
    struct pp_pylayout L;
    int minor;

    for (minor = 8; minor <= 13; minor++) {
        memset(&L, 0xab, sizeof L);
        CHECK_EQ_INT(pp_pylayout_static(V(minor) | 0x0500, &L), 0);
        CHECK_EQ_INT(L.version_hex, V(minor) | 0x0500);
        CHECK_EQ_INT(pp_pylayout_validate(&L), 0);
        CHECK_EQ_INT((L.o.version_hex >> 16) & 0xff, minor);
        CHECK_EQ_INT(L.has_qualname, minor >= 11);
        CHECK_EQ_INT(L.lasti_in_units, minor == 10);
        CHECK_EQ_INT(L.linetable, minor <= 9    ? PP_LINETABLE_LNOTAB
                                  : minor == 10 ? PP_LINETABLE_PEP626
                                                : PP_LINETABLE_LOCATION);
        CHECK_EQ_INT(L.frames, minor <= 10   ? PP_FRAMES_OBJECTS
                               : minor <= 12 ? PP_FRAMES_CFRAME
                                             : PP_FRAMES_CURRENT);
        CHECK_EQ_INT(L.entry, minor <= 10 ? PP_ENTRY_NONE
                              : minor == 11 ? PP_ENTRY_FLAG
                                            : PP_ENTRY_SHIM);
        CHECK(L.o.tstate_size > 0 && L.o.tstate_next < L.o.tstate_size);
    }
    /* spot values (cpython-internals.md §4.1) */
    CHECK_EQ_INT(pp_pylayout_static(V(9), &L), 0);
    CHECK_EQ_INT(L.o.code_firstlineno, 40);
    CHECK_EQ_INT(L.o.code_linetable, 120);
    CHECK_EQ_INT(pp_pylayout_static(V(11), &L), 0);
    CHECK_EQ_INT(L.o.code_qualname, 128);
    CHECK_EQ_INT(L.o.code_code_adaptive, 184);
    CHECK_EQ_INT(pp_pylayout_static(V(12), &L), 0);
    CHECK_EQ_INT(L.o.code_firsttraceable, 176);
    CHECK_EQ_INT(pp_pylayout_static(V(13), &L), 0);
    CHECK_EQ_INT(L.o.tstate_current_frame, 72);
    CHECK_EQ_INT(L.o.iframe_owner, 70);

    CHECK_EQ_INT(pp_pylayout_static(V(7), &L), PP_EVERSION);
    CHECK_EQ_INT(pp_pylayout_static(V(14), &L), PP_EVERSION);
    CHECK_EQ_INT(pp_pylayout_static(0x020718f0, &L), PP_EVERSION);
    CHECK_EQ_INT(pp_pylayout_static(0x040800f0, &L), PP_EVERSION);
    CHECK_EQ_INT(pp_pylayout_static(0, &L), PP_EVERSION);
}

/* One corruption: a field and the value it is set to. */
struct corrupt {
    int minor;
    size_t off;
    int32_t val;
    const char *what;
};

#define C(minor, field, val) {minor, offsetof(struct pp_pyoffsets, field), val, #field "=" #val}

static void
test_validate(void)
{
    static const struct corrupt cases[] = {
        C(11, tstate_next, 100000),      /* beyond tstate_size */
        C(11, tstate_next, 12),          /* misaligned pointer */
        C(11, tstate_next, -1),          /* missing */
        C(11, tstate_size, 0),
        C(11, tstate_size, 70000),
        C(11, tstate_thread_id, 4),
        C(11, interp_threads_head, 1000001),
        C(11, code_firstlineno, 70),     /* int at a 2-byte boundary */
        C(11, code_filename, 4096),      /* beyond code_size */
        C(11, code_qualname, PP_OFF_NONE), /* has_qualname needs it */
        C(11, iframe_owner, 4000),       /* beyond iframe_size */
        C(11, iframe_is_entry, PP_OFF_NONE), /* 3.11 entry flag needs it */
        C(11, iframe_size, 0),
        C(11, tstate_cframe, 3),
        C(11, unicode_compact_size, 40), /* not larger than the ASCII header */
        C(11, bytes_ob_sval, 0),
        C(12, code_firsttraceable, 1),
        C(12, tstate_native_thread_id, PP_OFF_NONE),
        C(13, tstate_current_frame, 4),
        C(13, tstate_current_frame, 304),  /* == tstate_size */
        C(13, iframe_previous, 81),
        C(9, frameobj_f_back, 4),
        C(9, frameobj_f_code, PP_OFF_NONE),
        C(9, frameobj_f_lasti, 1000),      /* beyond frameobj_size */
        C(9, tstate_frame, 6),
        C(8, runtime_interpreters_head, 3),
        C(10, frameobj_f_lasti, 2),
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pp_pylayout L;
        int err;
        CHECK_EQ_INT(pp_pylayout_static(V(cases[i].minor), &L), 0);
        memcpy((char *)&L.o + cases[i].off, &cases[i].val, sizeof(int32_t));
        err = pp_pylayout_validate(&L);
        if (err != PP_EVERSION)
            fprintf(stderr, "  3.%d with %s accepted\n", cases[i].minor, cases[i].what);
        CHECK_EQ_INT(err, PP_EVERSION);
    }
    /* a field the walker of that shape does not use may be absent */
    {
        struct pp_pylayout L;
        CHECK_EQ_INT(pp_pylayout_static(V(9), &L), 0);
        L.o.iframe_owner = PP_OFF_NONE;
        L.o.code_qualname = PP_OFF_NONE;
        CHECK_EQ_INT(pp_pylayout_validate(&L), 0);
    }
}

/* ==== _Py_DebugOffsets (3.13) ==== */

#define DBG_SIZE 1024 /* table buffer: the largest known table is 888 bytes */
#define RUNTIME_ADDR 0x7f3a5c000000ULL

/* The 3.13.0 default build's table (cpython-internals.md §6.2; the slots
 * the reference leaves blank hold what a 3.13.0 interpreter carries). */
static const struct {
    uint16_t off;
    uint64_t val;
} dbg_3130[] = {
    {8, 0x030d00f0}, {16, 0},
    /* runtime_state */
    {24, 283320}, {32, 608}, {40, 632},
    /* interpreter_state */
    {48, 194968}, {56, 7272}, {64, 7264}, {72, 7344}, {80, 7400}, {88, 7656}, {96, 7640},
    {104, 7648}, {112, 16}, {120, 7752}, {128, 0}, {136, 7768}, {144, 7760},
    /* thread_state */
    {152, 304}, {160, 0}, {168, 8}, {176, 16}, {184, 72}, {192, 152}, {200, 160}, {208, 232},
    {216, 32},
    /* interpreter_frame */
    {224, 80}, {232, 8}, {240, 0}, {248, 56}, {256, 72}, {264, 70},
    /* code_object */
    {272, 208}, {280, 112}, {288, 120}, {296, 128}, {304, 136}, {312, 68}, {320, 52},
    {328, 96}, {336, 104}, {344, 200},
    /* pyobject, type_object */
    {352, 16}, {360, 8}, {368, 416}, {376, 24}, {384, 88}, {392, 168},
    /* tuple, list, dict, float, long */
    {400, 32}, {408, 24}, {416, 16}, {424, 40}, {432, 24}, {440, 16}, {448, 48}, {456, 32},
    {464, 40}, {472, 24}, {480, 16}, {488, 32}, {496, 16}, {504, 24},
    /* bytes, unicode, gc */
    {512, 40}, {520, 16}, {528, 32}, {536, 64}, {544, 32}, {552, 16}, {560, 40}, {568, 240},
    {576, 200},
};

static void
dbg_build(uint8_t *t)
{
    size_t i;
    memset(t, 0, DBG_SIZE);
    memcpy(t, "xdebugpy", 8);
    for (i = 0; i < sizeof dbg_3130 / sizeof dbg_3130[0]; i++)
        memcpy(t + dbg_3130[i].off, &dbg_3130[i].val, 8);
}

static void
dbg_set(uint8_t *t, size_t off, uint64_t v)
{
    memcpy(t + off, &v, 8);
}

static void
put(uint8_t **p, const void *src, size_t n)
{
    memcpy(*p, src, n);
    *p += n;
}

/* A snapshot holding the table at RUNTIME_ADDR (plus some bytes after it,
 * as in a real _PyRuntime), region_len bytes in all. */
static struct pp_mem *
dbg_mem(const uint8_t *table, size_t region_len)
{
    static const char meta[] = "version_hex=0x030d00f0\n";
    size_t total = 8 + 4 + sizeof meta - 1 + 16 + region_len + 16;
    uint8_t *buf = calloc(1, total), *p = buf;
    uint32_t ml = sizeof meta - 1;
    uint64_t addr = RUNTIME_ADDR, len = region_len, zero = 0;
    struct pp_mem *m = NULL;

    put(&p, "PPSNAP01", 8);
    put(&p, &ml, 4);
    put(&p, meta, ml);
    put(&p, &addr, 8);
    put(&p, &len, 8);
    memcpy(p, table, region_len < DBG_SIZE ? region_len : DBG_SIZE);
    p += region_len;
    put(&p, &zero, 8);
    put(&p, &zero, 8);
    if (pp_mem_snap_from_buffer(buf, total, &m) != 0)
        snap_failures++;
    free(buf);
    return m;
}

static int
dbg_layout(const uint8_t *table, struct pp_pylayout *L)
{
    struct pp_mem *m = dbg_mem(table, 1024);
    int err;
    if (!m)
        return -9999;
    err = pp_pylayout_from_debug_offsets(m, RUNTIME_ADDR, L);
    pp_mem_free(m);
    return err;
}

static void
test_debug_offsets(void)
{
    uint8_t t[DBG_SIZE];
    struct pp_pylayout L, S13;

    dbg_build(t);
    CHECK_EQ_INT(dbg_layout(t, &L), 0);
    CHECK_EQ_INT(L.version_hex, 0x030d00f0);
    CHECK_EQ_INT(L.frames, PP_FRAMES_CURRENT);
    CHECK_EQ_INT(L.entry, PP_ENTRY_SHIM);
    CHECK_EQ_INT(L.linetable, PP_LINETABLE_LOCATION);
    CHECK(L.has_qualname);
    CHECK_EQ_INT(L.o.runtime_interpreters_head, 632);
    CHECK_EQ_INT(L.o.interp_threads_head, 7344);
    CHECK_EQ_INT(L.o.interp_next, 7264);
    CHECK_EQ_INT(L.o.tstate_size, 304);
    CHECK_EQ_INT(L.o.tstate_next, 8);
    CHECK_EQ_INT(L.o.tstate_current_frame, 72);
    CHECK_EQ_INT(L.o.tstate_native_thread_id, 160);
    CHECK_EQ_INT(L.o.tstate_datastack_chunk, 232);
    CHECK_EQ_INT(L.o.iframe_size, 80);
    CHECK_EQ_INT(L.o.iframe_previous, 8);
    CHECK_EQ_INT(L.o.iframe_code, 0);
    CHECK_EQ_INT(L.o.iframe_instr, 56);
    CHECK_EQ_INT(L.o.iframe_owner, 70);
    CHECK_EQ_INT(L.o.code_filename, 112);
    CHECK_EQ_INT(L.o.code_qualname, 128);
    CHECK_EQ_INT(L.o.code_linetable, 136);
    CHECK_EQ_INT(L.o.code_firstlineno, 68);
    CHECK_EQ_INT(L.o.code_code_adaptive, 200);
    CHECK_EQ_INT(L.o.bytes_ob_sval, 32);
    CHECK_EQ_INT(L.o.unicode_ascii_size, 40);
    /* GIL fields become relative to the gil struct */
    CHECK_EQ_INT(L.o.interp_gil, 7752);
    CHECK_EQ_INT(L.o.gil_locked, 16);
    CHECK_EQ_INT(L.o.gil_last_holder, 8);
    /* fields the table lacks come from the static 3.13 table */
    CHECK_EQ_INT(pp_pylayout_static(0x030d00f0, &S13), 0);
    CHECK_EQ_INT(L.o.code_firsttraceable, S13.o.code_firsttraceable);
    CHECK_EQ_INT(L.o.unicode_compact_size, S13.o.unicode_compact_size);

    /* the table, not the static one, decides: move some fields (aligned,
     * inside their sections) and see them move in the layout */
    dbg_build(t);
    dbg_set(t, 200, 168);  /* thread_state.native_thread_id */
    dbg_set(t, 184, 80);   /* thread_state.current_frame */
    dbg_set(t, 264, 71);   /* interpreter_frame.owner */
    dbg_set(t, 296, 144);  /* code_object.qualname */
    dbg_set(t, 8, 0x030d05f0); /* 3.13.5 */
    CHECK_EQ_INT(dbg_layout(t, &L), 0);
    CHECK_EQ_INT(L.o.tstate_native_thread_id, 168);
    CHECK_EQ_INT(L.o.tstate_current_frame, 80);
    CHECK_EQ_INT(L.o.iframe_owner, 71);
    CHECK_EQ_INT(L.o.code_qualname, 144);
    CHECK_EQ_INT(L.version_hex, 0x030d05f0);

    /* rejections: each one change from the good table */
    {
        static const struct {
            size_t off;
            uint64_t val;
            const char *what;
        } bad[] = {
            {16, 2, "free_threaded=2"},
            {8, 0x030f00a1, "version 3.15a1"},
            {8, 0x030c01f0, "version 3.12"},
            {8, 0x040d00f0, "major 4"},
            {184, 304, "current_frame == thread_state.size"},
            {184, 400, "current_frame beyond thread_state.size"},
            {168, 300, "next + 8 beyond thread_state.size"},
            {72, 194968, "threads_head beyond interpreter_state.size"},
            {312, 206, "firstlineno + 4 beyond code_object.size"},
            {264, 80, "owner beyond interpreter_frame.size"},
            {232, 12, "previous misaligned"},
            {280, 116, "filename misaligned"},
            {152, 0, "thread_state.size 0"},
            {272, 1ULL << 40, "code_object.size huge"},
            {296, 1ULL << 40, "qualname huge"},
            {552, 1ULL << 62, "unicode length huge"},
            {136, 7000, "gil locked before the gil struct"},
        };
        size_t i;
        log_errors = 0;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int err;
            dbg_build(t);
            dbg_set(t, bad[i].off, bad[i].val);
            err = dbg_layout(t, &L);
            if (err != PP_EVERSION)
                fprintf(stderr, "  debug table with %s: %d\n", bad[i].what, err);
            CHECK_EQ_INT(err, PP_EVERSION);
        }
    }
    /* a free-threaded 3.13 (3.13t): accepted, on the 3.13t table, with
     * the GIL's `enabled` flag at the gil struct's start */
    dbg_build(t);
    dbg_set(t, 16, 1);
    CHECK_EQ_INT(dbg_layout(t, &L), 0);
    CHECK(L.free_threaded && L.managed_dict_back == 8 && L.gil_enabled == 0);
    CHECK(L.o.type_tp_basicsize == pp_pyoffsets_for(3, 13, true)->type_tp_basicsize);
    log_errors = 0;
    dbg_build(t);
    memcpy(t, "xdebugpz", 8);
    CHECK_EQ_INT(dbg_layout(t, &L), PP_EVERSION);
    dbg_build(t);
    memset(t, 0, 8);
    CHECK_EQ_INT(dbg_layout(t, &L), PP_EVERSION);

    /* unreadable: the table is not (wholly) in memory */
    {
        struct pp_mem *m;
        dbg_build(t);
        m = dbg_mem(t, 500);
        if (m) {
            CHECK(pp_pylayout_from_debug_offsets(m, RUNTIME_ADDR, &L) < 0);
            CHECK_EQ_INT(pp_pylayout_from_debug_offsets(m, RUNTIME_ADDR + 4096, &L), PP_EFAULT);
            pp_mem_free(m);
        }
    }

    /* random corruption of the good table: never a crash; whatever is
     * accepted still validates */
    {
        uint32_t seed = 7;
        int iter, accepted = 0, bad_accept = 0;
        for (iter = 0; iter < 3000; iter++) {
            int k, nflip;
            dbg_build(t);
            seed = seed * 1103515245u + 12345u;
            nflip = 1 + (int)((seed >> 16) % 4);
            for (k = 0; k < nflip; k++) {
                seed = seed * 1103515245u + 12345u;
                t[8 + (seed >> 8) % (584 - 8)] ^= (uint8_t)(1u << ((seed >> 4) & 7));
            }
            if (dbg_layout(t, &L) == 0) {
                accepted++;
                bad_accept += pp_pylayout_validate(&L) != 0;
            }
        }
        CHECK_EQ_INT(bad_accept, 0);
        CHECK(accepted > 0); /* flips in unused slots are harmless */
    }
}

/* ==== 3.14 and later ==== */

/* The debug table of Debian's 3.14.10 (python3.14 3.14.10-1), read from a
 * live interpreter's _PyRuntime (760 bytes). */
static const uint64_t dbg_31410[] = {
    0x030e0af0, 0, 316616, 784, 808, 225864, 7280, 7272, 7344, 7360, 7408, 7688, 7672,
    7680, 16, 7784, 0, 7800, 7792, 7992, 0, 832, 0, 8, 16, 72, 152, 160, 232, 32, 88, 8,
    0, 56, 80, 74, 64, 0, 216, 112, 120, 128, 136, 68, 52, 96, 104, 208, 0, 16, 8, 416,
    24, 88, 168, 40, 32, 16, 40, 24, 16, 200, 24, 40, 32, 48, 32, 40, 24, 16, 32, 16, 24,
    40, 16, 32, 64, 32, 16, 40, 264, 192, 160, 24, 72, 67, 0, 8, 24, 304, 8076, 0, 4, 512,
};

static void
dbg14_build(uint8_t *t)
{
    memset(t, 0, DBG_SIZE);
    memcpy(t, "xdebugpy", 8);
    memcpy(t + 8, dbg_31410, sizeof dbg_31410);
}

/*
 * Every table slot a 3.14 layout takes from the target, named from the
 * 3.14 header independently of csrc/py/layout.c, with the layout field it
 * must land in.  The test moves each one (inside its section, aligned)
 * and checks that the layout follows: a value the code took from a
 * per-patch constant instead of the table would not move.
 */
struct slot {
    uint16_t off;   /* in the 3.14 table */
    int16_t delta; /* a move that stays aligned and inside the section */
    size_t dest;    /* offsetof(struct pp_pylayout, ...) */
    const char *what;
};
#define S(off, d, field, what) {off, d, offsetof(struct pp_pylayout, field), what}
static const struct slot slots14[] = {
    S(40, 8, o.runtime_interpreters_head, "runtime_state.interpreters_head"),
    S(64, 8, o.interp_next, "interpreter_state.next"),
    S(72, 8, o.interp_threads_head, "interpreter_state.threads_head"),
    S(96, 8, o.interp_modules, "interpreter_state.imports_modules"),
    S(120, 8, o.interp_ceval_gil, "interpreter_state.ceval_gil"),
    S(176, 8, o.tstate_size, "thread_state.size"),
    S(192, 8, o.tstate_next, "thread_state.next"),
    S(208, 8, o.tstate_current_frame, "thread_state.current_frame"),
    S(216, 8, o.tstate_thread_id, "thread_state.thread_id"),
    S(224, 8, o.tstate_native_thread_id, "thread_state.native_thread_id"),
    S(232, 8, o.tstate_datastack_chunk, "thread_state.datastack_chunk"),
    S(248, 8, o.iframe_size, "interpreter_frame.size"),
    S(256, 8, o.iframe_previous, "interpreter_frame.previous"),
    S(264, 8, o.iframe_code, "interpreter_frame.executable"),
    S(272, 8, o.iframe_instr, "interpreter_frame.instr_ptr"),
    S(288, 1, o.iframe_owner, "interpreter_frame.owner"),
    S(296, 8, iframe_stackpointer, "interpreter_frame.stackpointer"),
    S(312, 8, o.code_size, "code_object.size"),
    S(320, 8, o.code_filename, "code_object.filename"),
    S(328, 8, o.code_name, "code_object.name"),
    S(336, 8, o.code_qualname, "code_object.qualname"),
    S(344, 8, o.code_linetable, "code_object.linetable"),
    S(352, 4, o.code_firstlineno, "code_object.firstlineno"),
    S(384, 8, o.code_code_adaptive, "code_object.co_code_adaptive"),
    S(384, 8, o.code_firsttraceable, "co_code_adaptive (anchors _co_firsttraceable)"),
    S(408, -8, o.object_ob_type, "pyobject.ob_type"),
    S(424, 8, o.type_tp_name, "type_object.tp_name"),
    S(440, 8, o.type_tp_flags, "type_object.tp_flags"),
    S(480, 8, o.list_ob_item, "list_object.ob_item"),
    S(536, 8, o.dict_ma_keys, "dict_object.ma_keys"),
    S(544, -8, o.dict_ma_values, "dict_object.ma_values"),
    S(576, 8, o.long_lv_tag, "long_object.lv_tag"),
    S(584, 8, o.long_ob_digit, "long_object.ob_digit"),
    S(600, 8, o.bytes_ob_size, "bytes_object.ob_size"),
    S(608, 8, o.bytes_ob_sval, "bytes_object.ob_sval"),
    S(624, 4, o.unicode_state, "unicode_object.state"),
    S(632, 8, o.unicode_length, "unicode_object.length"),
    S(640, 8, o.unicode_ascii_size, "unicode_object.asciiobject_size"),
    S(640, 8, o.unicode_compact_size, "asciiobject_size (anchors the compact header)"),
    S(680, 8, o.gen_gi_iframe, "gen_object.gi_iframe"),
    S(144, 8, o.gil_locked, "interpreter_state.gil_runtime_state_locked"),
    S(152, 8, o.gil_last_holder, "interpreter_state.gil_runtime_state_holder"),
};
#undef S

static int32_t
lfield(const struct pp_pylayout *L, size_t dest)
{
    int32_t v;
    memcpy(&v, (const char *)L + dest, 4);
    return v;
}

static void
test_debug_offsets_314(void)
{
    uint8_t t[DBG_SIZE];
    struct pp_pylayout L, M;
    size_t i;

    dbg14_build(t);
    CHECK_EQ_INT(dbg_layout(t, &L), 0);
    CHECK_EQ_INT(L.version_hex, 0x030e0af0);
    CHECK_EQ_INT(L.frames, PP_FRAMES_CURRENT);
    CHECK_EQ_INT(L.entry, PP_ENTRY_SHIM);
    CHECK_EQ_INT(L.shim_owner, 3);      /* FRAME_OWNED_BY_INTERPRETER */
    CHECK_EQ_INT(L.shim_owner_last, 4); /* FRAME_OWNED_BY_CSTACK */
    CHECK(L.exec_tag_mask == ~(uint64_t)7);
    CHECK_EQ_INT(L.tstate_base_frame, PP_OFF_NONE);
    CHECK_EQ_INT(L.o.tstate_size, 832);
    CHECK_EQ_INT(L.o.iframe_owner, 74);
    CHECK_EQ_INT(L.o.iframe_size, 88);
    CHECK_EQ_INT(L.iframe_stackpointer, 64);
    CHECK_EQ_INT(L.o.code_code_adaptive, 208);
    CHECK_EQ_INT(L.o.code_firsttraceable, 192);
    CHECK_EQ_INT(L.o.unicode_compact_size, 56);
    CHECK_EQ_INT(L.o.varobject_ob_size, 16);
    CHECK_EQ_INT(L.o.gil_locked, 16);
    CHECK_EQ_INT(L.o.gil_last_holder, 8);
    CHECK_EQ_INT(pp_pylayout_validate(&L), 0);
    /* the 3.14 layout exists only through a target's table */
    CHECK_EQ_INT(pp_pylayout_static(0x030e0af0, &M), PP_EVERSION);

    /* every used slot moves its layout field, and only as the table says */
    for (i = 0; i < sizeof slots14 / sizeof slots14[0]; i++) {
        const struct slot *s = &slots14[i];
        uint64_t v;
        int err;
        dbg14_build(t);
        memcpy(&v, t + s->off, 8);
        dbg_set(t, s->off, v + (uint64_t)(int64_t)s->delta);
        err = dbg_layout(t, &M);
        if (err != 0 || lfield(&M, s->dest) != lfield(&L, s->dest) + (int32_t)s->delta)
            fprintf(stderr, "  3.14 table slot %u (%s): err %d, layout %d -> %d\n", s->off,
                    s->what, err, lfield(&L, s->dest), lfield(&M, s->dest));
        CHECK_EQ_INT(err, 0);
        CHECK_EQ_INT(lfield(&M, s->dest), lfield(&L, s->dest) + (int32_t)s->delta);
    }

    /* a patch release with a different table: every field follows */
    dbg14_build(t);
    dbg_set(t, 8, 0x030e08f0); /* 3.14.8 */
    CHECK_EQ_INT(dbg_layout(t, &M), 0);
    CHECK_EQ_INT(M.version_hex, 0x030e08f0);
    CHECK(memcmp(&M.o.runtime_size, &L.o.runtime_size,
                 sizeof(L.o) - offsetof(struct pp_pyoffsets, runtime_size)) == 0);

    /* rejections */
    {
        static const struct {
            size_t off;
            uint64_t val;
            const char *what;
        } bad[] = {
            {16, 1, "free_threaded=1"},
            {8, 0x030e00b3, "version 3.14.0b3"},
            {8, 0x030e00a7, "version 3.14.0a7"},
            {496, 0, "set_object.size 0 (a section we do not use)"},
            {648, 0, "gc.size 0"},
            {664, 0, "gen_object.size 0"},
            {208, 832, "current_frame == thread_state.size"},
            {288, 88, "owner beyond interpreter_frame.size"},
            {296, 84, "stackpointer + 8 beyond interpreter_frame.size"},
            {256, 12, "previous misaligned"},
            {352, 66, "firstlineno misaligned"},
            {384, 120, "co_code_adaptive too early for _co_firsttraceable"},
            {384, 400, "co_code_adaptive beyond code_object.size"},
            {144, 7000, "gil locked before the gil struct"},
            {152, 7790, "gil holder misaligned"},
            {176, 2048, "thread_state larger than the walker's buffer"},
        };
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int err;
            dbg14_build(t);
            dbg_set(t, bad[i].off, bad[i].val);
            err = dbg_layout(t, &M);
            if (err != PP_EVERSION)
                fprintf(stderr, "  3.14 debug table with %s: %d\n", bad[i].what, err);
            CHECK_EQ_INT(err, PP_EVERSION);
        }
    }

    /* the 760-byte table must be readable as a whole */
    {
        struct pp_mem *m;
        dbg14_build(t);
        m = dbg_mem(t, 700);
        if (m) {
            CHECK(pp_pylayout_from_debug_offsets(m, RUNTIME_ADDR, &M) < 0);
            pp_mem_free(m);
        }
    }
}

/* The debug table of Debian's 3.15.2 (python3.15 3.15.2-1), read from a
 * live interpreter's _PyRuntime (888 bytes). */
static const uint64_t dbg_31502[] = {
    0x030f02f0, 0, 346568, 912, 936, 226240, 7272, 7264, 7336, 7352, 7400, 7592, 7576, 7584,
    16, 7736, 0, 7752, 7744, 7944, 0, 888, 0, 8, 16, 72, 80, 88, 96, 176, 184, 256, 32, 36,
    40, 136, 288, 0, 88, 8, 0, 56, 80, 74, 64, 0, 216, 112, 120, 128, 136, 68, 52, 96, 104,
    208, 0, 16, 8, 424, 24, 88, 168, 32, 288, 944, 888, 40, 32, 16, 40, 24, 16, 200, 24, 40,
    32, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 56, 176, 112, 120, 1120,
    104, 160, 24, 72, 67, 0, 8, 24, 344, 8028, 0, 4, 512,
};

static void
dbg15_build(uint8_t *t)
{
    memset(t, 0, DBG_SIZE);
    memcpy(t, "xdebugpy", 8);
    memcpy(t + 8, dbg_31502, sizeof dbg_31502);
}

static int log_warnings;
static char last_warning[256];

static void
warn_sink(enum pp_log_level level, const char *msg)
{
    if (level == PP_LOG_WARN) {
        log_warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static void
test_debug_offsets_315_and_newer(void)
{
    uint8_t t[DBG_SIZE];
    struct pp_pylayout L, M;

    dbg15_build(t);
    CHECK_EQ_INT(dbg_layout(t, &L), 0);
    CHECK_EQ_INT(L.version_hex, 0x030f02f0);
    CHECK_EQ_INT(L.shim_owner, 3);      /* FRAME_OWNED_BY_INTERPRETER */
    CHECK_EQ_INT(L.shim_owner_last, 3); /* no CSTACK owner any more */
    CHECK_EQ_INT(L.tstate_base_frame, 80);
    CHECK_EQ_INT(L.o.tstate_size, 888);
    CHECK_EQ_INT(L.o.tstate_thread_id, 176);
    CHECK_EQ_INT(L.o.tstate_native_thread_id, 184);
    CHECK_EQ_INT(L.o.iframe_owner, 74);
    CHECK_EQ_INT(L.o.code_firsttraceable, 192);
    CHECK_EQ_INT(L.o.unicode_compact_size, 56); /* in the 3.15 table */
    CHECK_EQ_INT(L.o.type_tp_dictoffset, 288);
    CHECK_EQ_INT(L.o.heaptype_ht_cached_keys, 888);
    /* base_frame follows the table */
    dbg_set(t, 216, 120);
    CHECK_EQ_INT(dbg_layout(t, &M), 0);
    CHECK_EQ_INT(M.tstate_base_frame, 120);
    dbg_set(t, 216, 884);
    CHECK_EQ_INT(dbg_layout(t, &M), PP_EVERSION); /* beyond thread_state.size */
    dbg15_build(t);
    dbg_set(t, 528, 0); /* heap_type_object.size */
    CHECK_EQ_INT(dbg_layout(t, &M), PP_EVERSION);

    /* 3.16 with a table that validates under the 3.15 layout: read with it,
     * said once at warning level */
    pp_log_set_sink(warn_sink);
    log_warnings = 0;
    dbg15_build(t);
    dbg_set(t, 8, 0x031000f0);
    CHECK_EQ_INT(dbg_layout(t, &M), 0);
    CHECK_EQ_INT(M.version_hex, 0x031000f0);
    CHECK_EQ_INT(M.tstate_base_frame, L.tstate_base_frame);
    CHECK(memcmp(&M.o.runtime_size, &L.o.runtime_size,
                 sizeof(L.o) - offsetof(struct pp_pyoffsets, runtime_size)) == 0);
    CHECK_EQ_INT(log_warnings, 1);
    CHECK(strstr(last_warning, "Python 3.16 is not verified; reading it with the 3.15 layout") !=
          NULL);
    CHECK_EQ_INT(dbg_layout(t, &M), 0);
    CHECK_EQ_INT(log_warnings, 1); /* once */
    /* an alpha of 3.16 too (its table is all there is) */
    dbg_set(t, 8, 0x031000a1);
    CHECK_EQ_INT(dbg_layout(t, &M), 0);
    /* a 3.16 table that does not fit the 3.15 layout is refused */
    dbg15_build(t);
    dbg_set(t, 8, 0x031000f0);
    dbg_set(t, 376, 0); /* code_object.size */
    CHECK_EQ_INT(dbg_layout(t, &M), PP_EVERSION);
    dbg15_build(t);
    dbg_set(t, 8, 0x031000f0);
    dbg_set(t, 352, 4096); /* interpreter_frame.owner beyond its section */
    CHECK_EQ_INT(dbg_layout(t, &M), PP_EVERSION);
    /* nor does the layout stretch to other majors */
    dbg15_build(t);
    dbg_set(t, 8, 0x040000f0);
    CHECK_EQ_INT(dbg_layout(t, &M), PP_EVERSION);
    pp_log_set_sink(quiet_sink);
}

int
main(void)
{
    pp_log_set_sink(quiet_sink);
    test_static();
    test_validate();
    test_debug_offsets();
    test_debug_offsets_314();
    test_debug_offsets_315_and_newer();
    CHECK_EQ_INT(snap_failures, 0);
    TEST_DONE();
}
