/*
 * py/layout.c -- choose and validate the layout of a target CPython
 * (layer L2).
 *
 * 3.8 - 3.12: the generated static tables (py/offsets_3_X.h).
 * 3.13:       the target's own _Py_DebugOffsets, read from the start of
 *             _PyRuntime, checked field by field (cookie, version,
 *             free-threaded flag, every offset inside its section's size and
 *             aligned), then merged over the static 3.13 table which
 *             supplies the few fields the debug table lacks.
 * 3.14+ change the debug table's own layout and frame-owner values; they
 * are refused with PP_EVERSION until a table for them is added (see
 * docs/adding-a-python-version.md).
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
    L->shim_owner = 3;
    L->dictvalues_hdr = minor >= 13 ? 8 : 0;
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

int
pp_pylayout_static(uint32_t version_hex, struct pp_pylayout *out)
{
    const struct pp_pyoffsets *o;

    if (VER_MAJOR(version_hex) != 3)
        return PP_EVERSION;
    o = pp_pyoffsets_for(3, VER_MINOR(version_hex));
    if (!o)
        return PP_EVERSION;
    memset(out, 0, sizeof(*out));
    out->version_hex = version_hex;
    out->o = *o;
    set_shape(out);
    return pp_pylayout_validate(out);
}

/* ==== 3.13 _Py_DebugOffsets ==== */

#define DBG13_SIZE 584

/* One field of the debug table: where it sits in the table, which section
 * size bounds it, and where it lands in struct pp_pyoffsets. */
struct dbg_field {
    uint16_t table_off;
    uint16_t section_size_off;
    uint16_t width; /* bytes the walker reads at this offset */
    size_t dest;    /* offsetof(struct pp_pyoffsets, ...) */
};

#define F(toff, soff, w, field) {toff, soff, w, offsetof(struct pp_pyoffsets, field)}

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
#undef F

static uint64_t
tbl_u64(const uint8_t *t, size_t off)
{
    uint64_t v;
    memcpy(&v, t + off, 8);
    return v;
}

int
pp_pylayout_from_debug_offsets(struct pp_mem *mem, uint64_t runtime_addr,
                               struct pp_pylayout *out)
{
    uint8_t t[DBG13_SIZE];
    uint64_t version, gil_state;
    size_t i;
    int err;

    err = pp_mem_read(mem, runtime_addr, t, sizeof(t));
    if (err)
        return err;
    if (memcmp(t, "xdebugpy", 8) != 0)
        return PP_EVERSION;
    version = tbl_u64(t, 8);
    if (VER_MAJOR(version) != 3 || VER_MINOR(version) != 13) {
        pp_log_debug("layout: debug offsets of version 0x%llx not supported",
                     (unsigned long long)version);
        return PP_EVERSION;
    }
    if (tbl_u64(t, 16) != 0) {
        pp_log_error("layout: free-threaded builds are not supported yet");
        return PP_EVERSION;
    }
    err = pp_pylayout_static((uint32_t)version, out);
    if (err)
        return err;
    for (i = 0; i < sizeof(dbg13) / sizeof(dbg13[0]); i++) {
        const struct dbg_field *f = &dbg13[i];
        uint64_t v = tbl_u64(t, f->table_off);
        uint64_t section = tbl_u64(t, f->section_size_off);
        int32_t *dest = (int32_t *)((char *)&out->o + f->dest);

        if (section == 0 || section > (1u << 24) || v > (1u << 24))
            return PP_EVERSION;
        if (f->table_off != f->section_size_off) { /* a field, not a size */
            if (v + f->width > section || (f->width > 1 && v % f->width != 0 && f->width != 8) ||
                (f->width == 8 && v % 8 != 0))
                return PP_EVERSION;
        }
        if (*dest != (int32_t)v)
            pp_log_debug("layout: debug offsets differ from the static 3.13 table at "
                         "field #%zu: %d vs %llu", i, *dest, (unsigned long long)v);
        *dest = (int32_t)v;
    }
    /* the GIL fields are relative to the interpreter state, ours to the
     * gil struct */
    gil_state = tbl_u64(t, 120);
    if (tbl_u64(t, 136) < gil_state || tbl_u64(t, 144) < gil_state)
        return PP_EVERSION;
    out->o.gil_locked = (int32_t)(tbl_u64(t, 136) - gil_state);
    out->o.gil_last_holder = (int32_t)(tbl_u64(t, 144) - gil_state);
    return pp_pylayout_validate(out);
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

    ok &= o->tstate_size > 0 && o->tstate_size < 65536;
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
        /* fall through */
    case PP_FRAMES_CURRENT:
        if (L->frames == PP_FRAMES_CURRENT)
            ok &= field_ok(o->tstate_current_frame, o->tstate_size, 8);
        ok &= o->iframe_size > 0 && o->iframe_size <= 4096;
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
