/*
 * py/layout.c -- choose and validate the layout of a target CPython
 * (layer L2).
 *
 * 3.8 - 3.12: the generated static tables (py/offsets_3_X.h).
 * 3.13+:     the target's own _Py_DebugOffsets, read from the start of
 *             _PyRuntime, parsed with that minor version's field list,
 *             checked (cookie, version, free-threaded flag, every section
 *             size non-zero, every used offset inside its section and
 *             aligned), then merged over the minor's generated table, which
 *             supplies only the few fields the debug table lacks.
 * A newer minor (3.16+) is read with the newest layout if its table
 * validates, and says so once (docs/versions.md).
 */
#include <stddef.h>
#include <string.h>

#include "../err.h"
#include "../log.h"
#include "layout.h"
#include "offsets_table.h"

#define VER_MAJOR(v) (((v) >> 24) & 0xff)
#define VER_MINOR(v) (((v) >> 16) & 0xff)

static void
set_shape(struct pp_pylayout *L)
{
    unsigned minor = VER_MINOR(L->version_hex);

    L->has_qualname = minor >= 11;
    L->lasti_in_units = minor == 10;
    L->frame_running = minor == 10 ? 0 /* FRAME_EXECUTING */ : 1 /* f_executing */;
    L->executable_checked = minor >= 13;
    L->gen_owner = 1;
    /* enum _frameowner is compiled in, not in the debug table:
     * 3.12/3.13 CSTACK = 3; 3.14 INTERPRETER = 3 (the eval loop's entry
     * frame), CSTACK = 4; 3.15 INTERPRETER = 3 (entry and the thread's base
     * frame), CSTACK gone.  A newer minor is read like the newest. */
    L->shim_owner = 3;
    L->shim_owner_last = minor == 14 ? 4 : 3;
    /* _PyStackRef tag bits (pycore_stackref.h: Py_TAG_BITS 3 in default
     * builds, 1 in free-threaded ones): objects are 8-aligned, so clearing
     * the low 3 bits is right for both */
    L->exec_tag_mask = minor >= 14 ? ~(uint64_t)7 : ~(uint64_t)0;
    L->iframe_stackpointer = PP_OFF_NONE;
    L->tstate_base_frame = PP_OFF_NONE;
    L->dictvalues_hdr = minor >= 13 ? 8 : 0;
    /* MANAGED_DICT_OFFSET (pycore_object.h): -3 words behind the GC header;
     * a free-threaded build has no GC header there, so -1 word */
    L->managed_dict_back = L->free_threaded ? 8 : 24;
    if (minor <= 10)
        L->instdict = PP_INSTDICT_DICTOFFSET;
    else if (minor == 11)
        L->instdict = PP_INSTDICT_MANAGED_11;
    else if (minor == 12)
        L->instdict = PP_INSTDICT_MANAGED_12;
    else
        L->instdict = PP_INSTDICT_MANAGED_13;
    if (minor <= 9)
        L->linetable = PP_LINETABLE_LNOTAB;
    else if (minor == 10)
        L->linetable = PP_LINETABLE_PEP626;
    else
        L->linetable = PP_LINETABLE_LOCATION;
    if (minor <= 10) {
        L->frames = PP_FRAMES_OBJECTS;
        L->entry = PP_ENTRY_NONE;
    } else if (minor == 11) {
        L->frames = PP_FRAMES_CFRAME;
        L->entry = PP_ENTRY_FLAG;
    } else if (minor == 12) {
        L->frames = PP_FRAMES_CFRAME;
        L->entry = PP_ENTRY_SHIM;
    } else {
        L->frames = PP_FRAMES_CURRENT;
        L->entry = PP_ENTRY_SHIM;
    }
}

/* The generated table of a minor, as a base for the debug offsets (3.13+)
 * or as the whole layout (3.8 - 3.13 through pp_pylayout_static()). */
static int
layout_base(uint32_t version_hex, bool free_threaded, struct pp_pylayout *out)
{
    const struct pp_pyoffsets *o;

    if (VER_MAJOR(version_hex) != 3)
        return PP_EVERSION;
    o = pp_pyoffsets_for(3, VER_MINOR(version_hex), free_threaded);
    if (!o)
        return PP_EVERSION;
    memset(out, 0, sizeof(*out));
    out->version_hex = version_hex;
    out->free_threaded = free_threaded;
    out->gil_enabled = PP_OFF_NONE;
    out->o = *o;
    set_shape(out);
    return 0;
}

int
pp_pylayout_static(uint32_t version_hex, struct pp_pylayout *out)
{
    int err;

    if (VER_MAJOR(version_hex) == 3 && VER_MINOR(version_hex) > 13)
        return PP_EVERSION;
    if ((err = layout_base(version_hex, false, out)))
        return err;
    return pp_pylayout_validate(out);
}

/* ==== _Py_DebugOffsets (3.13+) ==== */

/*
 * The table's own layout is per minor version: CPython appends and inserts
 * fields between minor versions (3.14 inserted interpreter_state.threads_main
 * and shifted everything after it), so the reader first takes the version at
 * offset 8 and then parses the rest with that minor's field list below.
 * The positions were produced with offsetof() against each version's
 * Include/internal/pycore_debug_offsets.h (3.13.0, 3.14.10, 3.15.2); CPython
 * keeps the table's layout fixed across the patch releases of one minor.
 *
 * Within a minor version every value we use comes from the target: what moves
 * between patch releases moves with the table.  What the table lacks is
 * named per minor in struct dbg_minor (and in set_shape()) with the reason.
 */

/* One field of the debug table: where it sits in the table, which section
 * size bounds it, and where it lands in struct pp_pylayout. */
struct dbg_field {
    uint16_t table_off;
    uint16_t section_size_off;
    uint16_t width; /* bytes the walker reads at this offset; 0: a size or an end */
    size_t dest;    /* offsetof(struct pp_pylayout, ...); DEST_NONE: checked only */
};

#define DEST_NONE ((size_t)-1)
#define F(toff, soff, w, field) {toff, soff, w, offsetof(struct pp_pylayout, o.field)}
#define FL(toff, soff, w, field) {toff, soff, w, offsetof(struct pp_pylayout, field)}
#define FC(toff, soff, w) {toff, soff, w, DEST_NONE}

static const struct dbg_field dbg13[] = {
    F(24, 24, 0, runtime_size),
    F(32, 24, 8, runtime_finalizing),
    F(40, 24, 8, runtime_interpreters_head),
    F(48, 48, 0, interp_size),
    F(56, 48, 8, interp_id),
    F(64, 48, 8, interp_next),
    F(72, 48, 8, interp_threads_head),
    F(88, 48, 8, interp_modules),
    F(96, 48, 8, interp_sysdict),
    F(112, 48, 8, interp_ceval_gil),
    F(120, 48, 8, interp_gil),
    F(152, 152, 0, tstate_size),
    F(160, 152, 8, tstate_prev),
    F(168, 152, 8, tstate_next),
    F(176, 152, 8, tstate_interp),
    F(184, 152, 8, tstate_current_frame),
    F(192, 152, 8, tstate_thread_id),
    F(200, 152, 8, tstate_native_thread_id),
    F(208, 152, 8, tstate_datastack_chunk),
    F(216, 152, 4, tstate_status),
    F(224, 224, 0, iframe_size),
    F(232, 224, 8, iframe_previous),
    F(240, 224, 8, iframe_code),
    F(248, 224, 8, iframe_instr),
    F(256, 224, 0, iframe_localsplus),
    F(264, 224, 1, iframe_owner),
    F(272, 272, 0, code_size),
    F(280, 272, 8, code_filename),
    F(288, 272, 8, code_name),
    F(296, 272, 8, code_qualname),
    F(304, 272, 8, code_linetable),
    F(312, 272, 4, code_firstlineno),
    F(328, 272, 8, code_localsplusnames),
    F(336, 272, 8, code_localspluskinds),
    F(344, 272, 0, code_code_adaptive),
    F(360, 352, 8, object_ob_type),
    F(376, 368, 8, type_tp_name),
    F(392, 368, 8, type_tp_flags),
    F(408, 400, 0, tuple_ob_item),
    F(432, 424, 8, list_ob_item),
    F(456, 448, 8, dict_ma_keys),
    F(464, 448, 8, dict_ma_values),
    F(496, 488, 8, long_lv_tag),
    F(504, 488, 0, long_ob_digit),
    F(520, 512, 8, bytes_ob_size),
    F(528, 512, 0, bytes_ob_sval),
    F(544, 536, 4, unicode_state),
    F(552, 536, 8, unicode_length),
    F(560, 536, 0, unicode_ascii_size),
};

/* 3.14: threads_main, code_object_generation and tlbc_generation in
 * interpreter_state; stackpointer and tlbc_index in interpreter_frame;
 * co_tlbc in code_object; set, gen, llist and debugger sections. */
static const struct dbg_field dbg14[] = {
    F(24, 24, 0, runtime_size),
    F(32, 24, 8, runtime_finalizing),
    F(40, 24, 8, runtime_interpreters_head),
    F(48, 48, 0, interp_size),
    F(56, 48, 8, interp_id),
    F(64, 48, 8, interp_next),
    F(72, 48, 8, interp_threads_head),
    F(96, 48, 8, interp_modules),
    F(104, 48, 8, interp_sysdict),
    F(120, 48, 8, interp_ceval_gil),
    F(128, 48, 8, interp_gil),
    F(176, 176, 0, tstate_size),
    F(184, 176, 8, tstate_prev),
    F(192, 176, 8, tstate_next),
    F(200, 176, 8, tstate_interp),
    F(208, 176, 8, tstate_current_frame),
    F(216, 176, 8, tstate_thread_id),
    F(224, 176, 8, tstate_native_thread_id),
    F(232, 176, 8, tstate_datastack_chunk),
    F(240, 176, 4, tstate_status),
    F(248, 248, 0, iframe_size),
    F(256, 248, 8, iframe_previous),
    F(264, 248, 8, iframe_code),
    F(272, 248, 8, iframe_instr),
    F(280, 248, 0, iframe_localsplus),
    F(288, 248, 1, iframe_owner),
    FL(296, 248, 8, iframe_stackpointer),
    F(312, 312, 0, code_size),
    F(320, 312, 8, code_filename),
    F(328, 312, 8, code_name),
    F(336, 312, 8, code_qualname),
    F(344, 312, 8, code_linetable),
    F(352, 312, 4, code_firstlineno),
    F(368, 312, 8, code_localsplusnames),
    F(376, 312, 8, code_localspluskinds),
    F(384, 312, 0, code_code_adaptive),
    F(408, 400, 8, object_ob_type),
    F(424, 416, 8, type_tp_name),
    F(440, 416, 8, type_tp_flags),
    F(456, 448, 0, tuple_ob_item),
    F(480, 472, 8, list_ob_item),
    F(536, 528, 8, dict_ma_keys),
    F(544, 528, 8, dict_ma_values),
    F(576, 568, 8, long_lv_tag),
    F(584, 568, 0, long_ob_digit),
    F(600, 592, 8, bytes_ob_size),
    F(600, 592, 8, varobject_ob_size), /* PyBytesObject starts with PyObject_VAR_HEAD */
    F(608, 592, 0, bytes_ob_sval),
    F(624, 616, 4, unicode_state),
    F(632, 616, 8, unicode_length),
    F(640, 616, 0, unicode_ascii_size),
    F(680, 664, 8, gen_gi_iframe),
    F(688, 664, 1, gen_gi_frame_state),
};

/* 3.15: thread_state gains base_frame, last_profiled_frame(_seq), holds_gil,
 * gil_requested, current_exception, exc_state (thread_id and everything
 * after it shift); type_object gains tp_basicsize and tp_dictoffset; new
 * sections err_stackitem and heap_type_object; unicode_object gains
 * compactunicodeobject_size; gc gains frame and generation stats. */
static const struct dbg_field dbg15[] = {
    F(24, 24, 0, runtime_size),
    F(32, 24, 8, runtime_finalizing),
    F(40, 24, 8, runtime_interpreters_head),
    F(48, 48, 0, interp_size),
    F(56, 48, 8, interp_id),
    F(64, 48, 8, interp_next),
    F(72, 48, 8, interp_threads_head),
    F(96, 48, 8, interp_modules),
    F(104, 48, 8, interp_sysdict),
    F(120, 48, 8, interp_ceval_gil),
    F(128, 48, 8, interp_gil),
    F(176, 176, 0, tstate_size),
    F(184, 176, 8, tstate_prev),
    F(192, 176, 8, tstate_next),
    F(200, 176, 8, tstate_interp),
    F(208, 176, 8, tstate_current_frame),
    FL(216, 176, 8, tstate_base_frame),
    F(240, 176, 8, tstate_thread_id),
    F(248, 176, 8, tstate_native_thread_id),
    F(256, 176, 8, tstate_datastack_chunk),
    F(264, 176, 4, tstate_status),
    FC(272, 176, 4), /* holds_gil */
    F(312, 312, 0, iframe_size),
    F(320, 312, 8, iframe_previous),
    F(328, 312, 8, iframe_code),
    F(336, 312, 8, iframe_instr),
    F(344, 312, 0, iframe_localsplus),
    F(352, 312, 1, iframe_owner),
    FL(360, 312, 8, iframe_stackpointer),
    F(376, 376, 0, code_size),
    F(384, 376, 8, code_filename),
    F(392, 376, 8, code_name),
    F(400, 376, 8, code_qualname),
    F(408, 376, 8, code_linetable),
    F(416, 376, 4, code_firstlineno),
    F(432, 376, 8, code_localsplusnames),
    F(440, 376, 8, code_localspluskinds),
    F(448, 376, 0, code_code_adaptive),
    F(472, 464, 8, object_ob_type),
    F(488, 480, 8, type_tp_name),
    F(504, 480, 8, type_tp_flags),
    F(512, 480, 8, type_tp_basicsize),
    F(520, 480, 8, type_tp_dictoffset),
    F(536, 528, 8, heaptype_ht_cached_keys),
    F(552, 544, 0, tuple_ob_item),
    F(576, 568, 8, list_ob_item),
    F(632, 624, 8, dict_ma_keys),
    F(640, 624, 8, dict_ma_values),
    F(672, 664, 8, long_lv_tag),
    F(680, 664, 0, long_ob_digit),
    F(696, 688, 8, bytes_ob_size),
    F(696, 688, 8, varobject_ob_size), /* PyBytesObject starts with PyObject_VAR_HEAD */
    F(704, 688, 0, bytes_ob_sval),
    F(720, 712, 4, unicode_state),
    F(728, 712, 8, unicode_length),
    F(736, 712, 0, unicode_ascii_size),
    F(744, 712, 0, unicode_compact_size),
    F(808, 792, 8, gen_gi_iframe),
    F(816, 792, 1, gen_gi_frame_state),
};
#undef F
#undef FL
#undef FC

#define NSECT_MAX 20

/* What one minor version's table looks like, and what it lacks. */
struct dbg_minor {
    unsigned minor;
    size_t size; /* sizeof(_Py_DebugOffsets) */
    const struct dbg_field *fields;
    size_t nfields;
    /* every section that carries a size: each must be non-zero */
    uint16_t sections[NSECT_MAX];
    size_t nsections;
    /* interpreter_state.gil_runtime_state / _locked / _holder: offsets in the
     * interpreter state, turned into offsets in the gil struct */
    uint16_t gil_state, gil_locked, gil_holder;
    uint16_t gil_enabled; /* free-threaded builds: int enabled (0: no GIL now) */
    /* code_object.co_tlbc (free-threaded builds anchor _co_firsttraceable
     * there), or 0 */
    uint16_t co_tlbc;
    /*
     * Not in the table, per minor (CPython compiles these in):
     *  - the frame-owner values of entry/shim frames (enum _frameowner in
     *    pycore_frame.h / pycore_interpframe_structs.h);
     *  - the tag bits of a _PyStackRef f_executable (pycore_stackref.h);
     *  - where _co_firsttraceable sits: the table has no entry for it, so it
     *    is derived from a table field (the code object ends with
     *    `int _co_firsttraceable; void *co_extra; [co_tlbc;] co_code_adaptive[]`
     *    since 3.13), firsttraceable_back bytes before the anchor;
     *  - the size of the compact unicode header when the table lacks it
     *    (3.13, 3.14: PyASCIIObject + utf8_length + utf8 = ascii + 16);
     *  - dict internals, module md_dict, tp_basicsize/tp_dictoffset before
     *    3.15, unicode state bits: the generated static table of the minor
     *    (csrc/py/offsets_3_X.h) -- only thread names use them, and those
     *    are validated by content (docs/versions.md).
     */
    int firsttraceable_back;
    int compact_after_ascii; /* 0: in the table */
};

static const struct dbg_minor dbg_minors[] = {
    {13, 584, dbg13, sizeof dbg13 / sizeof dbg13[0],
     {24, 48, 152, 224, 272, 352, 368, 400, 424, 448, 472, 488, 512, 536, 568}, 15,
     120, 136, 144, 128, 0, 0, 0},
    {14, 760, dbg14, sizeof dbg14 / sizeof dbg14[0],
     {24, 48, 176, 248, 312, 400, 416, 448, 472, 496, 528, 552, 568, 592, 616, 648, 664}, 17,
     128, 144, 152, 136, 392, 16, 16},
    {15, 888, dbg15, sizeof dbg15 / sizeof dbg15[0],
     {24, 48, 176, 312, 376, 464, 480, 528, 544, 568, 592, 624, 648, 664, 688, 712, 752, 792},
     18, 128, 144, 152, 136, 456, 16, 0},
};

#define DBG_SIZE_MAX 888
#define DBG_NEWEST (&dbg_minors[sizeof dbg_minors / sizeof dbg_minors[0] - 1])

static uint64_t
tbl_u64(const uint8_t *t, size_t off)
{
    uint64_t v;
    memcpy(&v, t + off, 8);
    return v;
}

static const struct dbg_minor *
dbg_minor_for(unsigned minor)
{
    size_t i;
    for (i = 0; i < sizeof dbg_minors / sizeof dbg_minors[0]; i++)
        if (dbg_minors[i].minor == minor)
            return &dbg_minors[i];
    return NULL;
}

/* Apply one minor's field list to table t; 0 or PP_EVERSION. */
static int
dbg_apply(const struct dbg_minor *dm, const uint8_t *t, struct pp_pylayout *out)
{
    size_t i;
    uint64_t gil_state, anchor;

    for (i = 0; i < dm->nsections; i++) {
        uint64_t s = tbl_u64(t, dm->sections[i]);
        if (s == 0 || s > (1u << 24)) {
            pp_log_debug("layout: debug offsets: section at %u has size %llu",
                         dm->sections[i], (unsigned long long)s);
            return PP_EVERSION;
        }
    }
    for (i = 0; i < dm->nfields; i++) {
        const struct dbg_field *f = &dm->fields[i];
        uint64_t v = tbl_u64(t, f->table_off);
        uint64_t section = tbl_u64(t, f->section_size_off);
        int32_t *dest;

        if (section == 0 || section > (1u << 24) || v > (1u << 24))
            return PP_EVERSION;
        if (f->table_off != f->section_size_off) { /* a field, not a size */
            if (v + f->width > section)
                return PP_EVERSION;
            if (f->width > 1 && v % f->width != 0)
                return PP_EVERSION;
        }
        if (f->dest == DEST_NONE)
            continue;
        dest = (int32_t *)((char *)out + f->dest);
        if (*dest != (int32_t)v)
            pp_log_debug("layout: debug offsets differ from the static 3.%u table at "
                         "table offset %u: %d vs %llu", dm->minor, f->table_off, *dest,
                         (unsigned long long)v);
        *dest = (int32_t)v;
    }
    /* the GIL fields are relative to the interpreter state, ours to the
     * gil struct */
    gil_state = tbl_u64(t, dm->gil_state);
    if (tbl_u64(t, dm->gil_locked) < gil_state || tbl_u64(t, dm->gil_holder) < gil_state ||
        tbl_u64(t, dm->gil_locked) - gil_state > 4096 ||
        tbl_u64(t, dm->gil_holder) - gil_state > 4096 ||
        tbl_u64(t, dm->gil_locked) % 4 != 0 || tbl_u64(t, dm->gil_holder) % 8 != 0)
        return PP_EVERSION;
    out->o.gil_locked = (int32_t)(tbl_u64(t, dm->gil_locked) - gil_state);
    out->o.gil_last_holder = (int32_t)(tbl_u64(t, dm->gil_holder) - gil_state);
    out->gil_enabled = PP_OFF_NONE;
    if (out->free_threaded) {
        uint64_t en = tbl_u64(t, dm->gil_enabled);
        /* 3.13t's table leaves it 0: `enabled` is the gil struct's first
         * member in free-threaded builds (pycore_gil.h) */
        if (en == 0)
            en = gil_state;
        if (en < gil_state || en - gil_state > 4096 || en % 4 != 0)
            return PP_EVERSION;
        out->gil_enabled = (int32_t)(en - gil_state);
    }
    if (dm->firsttraceable_back) {
        anchor = (uint64_t)out->o.code_code_adaptive;
        if (dm->co_tlbc && tbl_u64(t, 16) != 0) /* free-threaded: co_tlbc precedes it */
            anchor = tbl_u64(t, dm->co_tlbc);
        if (anchor < (uint64_t)dm->firsttraceable_back + 8 ||
            anchor > (uint64_t)out->o.code_size)
            return PP_EVERSION;
        out->o.code_firsttraceable = (int32_t)(anchor - (uint64_t)dm->firsttraceable_back);
        /* it follows the pointers of the code object's header */
        if (out->o.code_firsttraceable <= out->o.code_linetable)
            return PP_EVERSION;
    }
    if (dm->compact_after_ascii)
        out->o.unicode_compact_size = out->o.unicode_ascii_size + dm->compact_after_ascii;
    return 0;
}

int
pp_pylayout_from_debug_offsets(struct pp_mem *mem, uint64_t runtime_addr,
                               struct pp_pylayout *out)
{
    static bool warned_unverified;
    uint8_t t[DBG_SIZE_MAX];
    const struct dbg_minor *dm;
    uint64_t version, free_threaded;
    unsigned minor;
    int err;

    err = pp_mem_read(mem, runtime_addr, t, 24);
    if (err)
        return err;
    if (memcmp(t, "xdebugpy", 8) != 0)
        return PP_EVERSION;
    version = tbl_u64(t, 8);
    if (version > 0xffffffffu || VER_MAJOR(version) != 3 || VER_MINOR(version) < 13) {
        pp_log_debug("layout: debug offsets of version 0x%llx not supported",
                     (unsigned long long)version);
        return PP_EVERSION;
    }
    minor = VER_MINOR(version);
    dm = dbg_minor_for(minor);
    /* the table changed shape during the 3.14 and 3.15 cycles: alphas and
     * betas of known minors are refused (release candidates have the final
     * layout) */
    if (dm && minor >= 14 && (version & 0xf0) < 0xc0) {
        pp_log_debug("layout: pre-release 0x%llx has no known debug-offsets layout",
                     (unsigned long long)version);
        return PP_EVERSION;
    }
    if (!dm)
        dm = DBG_NEWEST; /* a newer minor: tried only if the table validates */
    err = pp_mem_read(mem, runtime_addr, t, dm->size);
    if (err)
        return err;
    free_threaded = tbl_u64(t, 16);
    if (free_threaded > 1)
        return PP_EVERSION;
    /* a free-threaded build moves every object layout: only 3.13t has a
     * generated table for what its debug table lacks (docs/versions.md) */
    if (free_threaded && minor != 13) {
        pp_log_error("layout: the free-threaded build of Python 3.%u is not supported yet "
                     "(3.13t is)", minor);
        return PP_EVERSION;
    }
    err = layout_base(((uint32_t)version & 0xff00ffffu) | (dm->minor << 16), free_threaded != 0,
                      out);
    if (err)
        return err;
    out->version_hex = (uint32_t)version;
    set_shape(out);
    if ((err = dbg_apply(dm, t, out)))
        return err;
    if ((err = pp_pylayout_validate(out)))
        return err;
    if (dm->minor != minor && !warned_unverified) {
        warned_unverified = true;
        pp_log_warn("Python 3.%u is not verified; reading it with the 3.%u layout", minor,
                    dm->minor);
    }
    return 0;
}

/* ==== validation ==== */

static bool
field_ok(int32_t off, int32_t size, int align)
{
    return off >= 0 && (size <= 0 || off < size) && off % align == 0;
}

int
pp_pylayout_validate(const struct pp_pylayout *L)
{
    const struct pp_pyoffsets *o = &L->o;
    bool ok = true;

    ok &= o->tstate_size > 0 && o->tstate_size <= PP_PYLAYOUT_TSTATE_MAX;
    ok &= field_ok(o->tstate_next, o->tstate_size, 8);
    ok &= field_ok(o->tstate_thread_id, o->tstate_size, 8);
    ok &= field_ok(o->interp_threads_head, o->interp_size, 8);
    ok &= field_ok(o->interp_next, o->interp_size, 8);
    ok &= field_ok(o->runtime_interpreters_head, -1, 8);
    ok &= field_ok(o->code_filename, o->code_size, 8);
    ok &= field_ok(o->code_name, o->code_size, 8);
    ok &= field_ok(o->code_linetable, o->code_size, 8);
    ok &= field_ok(o->code_firstlineno, o->code_size, 4);
    ok &= field_ok(o->unicode_length, -1, 8);
    ok &= field_ok(o->unicode_state, -1, 4);
    ok &= o->unicode_ascii_size > 0 && o->unicode_compact_size > o->unicode_ascii_size;
    ok &= field_ok(o->bytes_ob_size, -1, 8);
    ok &= o->bytes_ob_sval > 0;
    switch (L->frames) {
    case PP_FRAMES_OBJECTS:
        ok &= field_ok(o->tstate_frame, o->tstate_size, 8);
        ok &= field_ok(o->frameobj_f_back, o->frameobj_size, 8);
        ok &= field_ok(o->frameobj_f_code, o->frameobj_size, 8);
        ok &= field_ok(o->frameobj_f_lasti, o->frameobj_size, 4);
        ok &= field_ok(o->frameobj_f_state, o->frameobj_size, 1);
        break;
    case PP_FRAMES_CFRAME:
        ok &= field_ok(o->tstate_cframe, o->tstate_size, 8);
        ok &= field_ok(o->cframe_current_frame, -1, 8);
        ok &= field_ok(o->cframe_previous, -1, 8);
        /* fall through */
    case PP_FRAMES_CURRENT:
        if (L->frames == PP_FRAMES_CURRENT)
            ok &= field_ok(o->tstate_current_frame, o->tstate_size, 8);
        ok &= o->iframe_size > 0 && o->iframe_size <= PP_PYLAYOUT_IFRAME_MAX;
        if (L->tstate_base_frame != PP_OFF_NONE)
            ok &= field_ok(L->tstate_base_frame, o->tstate_size, 8);
        if (L->iframe_stackpointer != PP_OFF_NONE)
            ok &= field_ok(L->iframe_stackpointer, o->iframe_size, 8);
        ok &= field_ok(o->iframe_code, o->iframe_size, 8);
        ok &= field_ok(o->iframe_previous, o->iframe_size, 8);
        ok &= field_ok(o->iframe_instr, o->iframe_size, 8);
        ok &= field_ok(o->iframe_owner, o->iframe_size, 1);
        ok &= field_ok(o->tstate_native_thread_id, o->tstate_size, 8);
        ok &= field_ok(o->code_code_adaptive, -1, 2);
        ok &= field_ok(o->code_firsttraceable, o->code_size, 4);
        if (L->entry == PP_ENTRY_FLAG)
            ok &= field_ok(o->iframe_is_entry, o->iframe_size, 1);
        break;
    }
    if (L->has_qualname)
        ok &= field_ok(o->code_qualname, o->code_size, 8);
    return ok ? 0 : PP_EVERSION;
}

int
pp_pylayout_pick(struct pp_mem *mem, uint64_t runtime_addr, uint32_t version_hex,
                 struct pp_pylayout *out)
{
    if (((version_hex >> 16) & 0xff) >= 13) /* _Py_DebugOffsets exists from 3.13 */
        return pp_pylayout_from_debug_offsets(mem, runtime_addr, out);
    return pp_pylayout_static(version_hex, out);
}
