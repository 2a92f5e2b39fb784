/*
 * tests/c/test_offsets.c -- sanity checks of the generated offset tables
 * (csrc/py/offsets_3_X.h via pp_pyoffsets_for).
 *
 * For every version 3.8 - 3.15 (3.14+ tables only top up the debug offsets):
 *   - the table exists and its version_hex is that major.minor;
 *   - every field is PP_OFF_NONE or >= 0, and no field is 0 unless the
 *     allow-list below says 0 is that field's real offset in that version
 *     (a forgotten field in a generated table would show up as 0);
 *   - an offset inside a struct that has a <prefix>_size field is below
 *     that size (tstate_* < tstate_size, code_* < code_size, ...);
 *   - fields that exist only in some versions are present/absent there.
 * Plus spot values measured independently (cpython-internals.md §10.2).
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -Icsrc -o /tmp/t \
 *            tests/c/test_offsets.c csrc/py/offsets_table.c && /tmp/t
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "py/offsets.h"
#include "py/offsets_table.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            n_pass++;                                                         \
        } else {                                                              \
            n_fail++;                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

/* Every field, by name, from the same X-macro the struct is built from. */
struct field {
    const char *name;
    size_t off;
};

#define FIELD_ENTRY(n) {#n, offsetof(struct pp_pyoffsets, n)},
static const struct field fields[] = {PP_PYOFFSET_FIELDS(FIELD_ENTRY)};
#undef FIELD_ENTRY
#define NFIELDS (sizeof fields / sizeof fields[0])

static int32_t get(const struct pp_pyoffsets *o, const struct field *f)
{
    int32_t v;
    memcpy(&v, (const char *)o + f->off, sizeof v);
    return v;
}

static const struct field *find(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

#define V(minor) (1u << (minor))
#define V_ALL (V(8) | V(9) | V(10) | V(11) | V(12) | V(13) | V(14) | V(15))

/* Fields whose real offset is 0, and the versions where it is. */
static const struct {
    const char *name;
    unsigned versions;
} zero_ok[] = {
    {"tstate_prev", V_ALL},            /* first member of PyThreadState */
    {"interp_next", V(8) | V(9) | V(10) | V(11) | V(12)},
    {"cframe_current_frame", V(12)},   /* 3.11 has use_tracing first */
    {"iframe_code", V(12) | V(13) | V(14) | V(15)}, /* f_code / f_executable first */
    {"dictunicodeentry_me_key", V(11) | V(12) | V(13) | V(14) | V(15)},
};

static int zero_allowed(const char *name, unsigned minor)
{
    for (size_t i = 0; i < sizeof zero_ok / sizeof zero_ok[0]; i++)
        if (strcmp(zero_ok[i].name, name) == 0)
            return (zero_ok[i].versions & V(minor)) != 0;
    return 0;
}

/* Fields that exist only in some versions (PP_OFF_NONE elsewhere). */
static const struct {
    const char *name;
    unsigned versions;
} present_in[] = {
    {"runtime_gilstate_tstate_current", V(8) | V(9) | V(10) | V(11)},
    {"runtime_ceval_gil", V(8) | V(9) | V(10) | V(11)},
    {"interp_ceval_gil", V(12) | V(13) | V(14) | V(15)},
    {"interp_gil", V(12) | V(13) | V(14) | V(15)},
    {"tstate_frame", V(8) | V(9) | V(10)},
    {"tstate_cframe", V(11) | V(12)},
    {"tstate_current_frame", V(13) | V(14) | V(15)},
    {"tstate_native_thread_id", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"tstate_status", V(12) | V(13) | V(14) | V(15)},
    {"tstate_state", V(13) | V(14) | V(15)},
    {"tstate_datastack_chunk", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"cframe_current_frame", V(11) | V(12)},
    {"cframe_previous", V(11) | V(12)},
    {"frameobj_f_code", V(8) | V(9) | V(10)},
    {"frameobj_f_lasti", V(8) | V(9) | V(10)},
    {"frameobj_f_gen", V(8) | V(9) | V(10)},
    {"frameobj_f_state", V(8) | V(9) | V(10)},
    {"iframe_size", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"iframe_code", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"iframe_previous", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"iframe_instr", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"iframe_is_entry", V(11)},
    {"iframe_owner", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"iframe_localsplus", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"code_code", V(8) | V(9) | V(10)},
    {"frameobj_f_localsplus", V(8) | V(9) | V(10)},
    {"code_nlocals", V(8) | V(9) | V(10)},
    {"code_varnames", V(8) | V(9) | V(10)},
    {"code_cellvars", V(8) | V(9) | V(10)},
    {"code_freevars", V(8) | V(9) | V(10)},
    {"code_localsplusnames", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"code_localspluskinds", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"code_qualname", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"code_firsttraceable", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"code_code_adaptive", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"long_lv_tag", V(12) | V(13) | V(14) | V(15)},
    {"dictkeys_dk_size", V(8) | V(9) | V(10)},
    {"dictkeys_dk_log2_size", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"dictkeys_dk_log2_index_bytes", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"dictkeys_dk_kind", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"dictunicodeentry_size", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"dictunicodeentry_me_key", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"dictunicodeentry_me_value", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"gen_gi_frame", V(8) | V(9) | V(10)},
    {"gen_gi_iframe", V(11) | V(12) | V(13) | V(14) | V(15)},
    {"gen_gi_frame_state", V(11) | V(12) | V(13) | V(14) | V(15)},
};

static unsigned present_mask(const char *name)
{
    for (size_t i = 0; i < sizeof present_in / sizeof present_in[0]; i++)
        if (strcmp(present_in[i].name, name) == 0)
            return present_in[i].versions;
    return V_ALL;
}

/* The <prefix>_size field for a field "<prefix>_...", or NULL. */
static const struct field *size_field_for(const char *name)
{
    char buf[64];
    const char *us = strchr(name, '_');
    size_t len;

    if (us == NULL)
        return NULL;
    len = (size_t)(us - name);
    if (len + sizeof "_size" > sizeof buf)
        return NULL;
    memcpy(buf, name, len);
    memcpy(buf + len, "_size", sizeof "_size");
    if (strcmp(buf, name) == 0)
        return NULL; /* the size field itself */
    return find(buf);
}

static void check_version(unsigned minor)
{
    const struct pp_pyoffsets *o = pp_pyoffsets_for(3, minor, false);

    CHECK(o != NULL, "3.%u: no table", minor);
    if (o == NULL)
        return;
    CHECK((o->version_hex >> 24) == 3 && ((o->version_hex >> 16) & 0xff) == minor,
          "3.%u: version_hex 0x%08x", minor, (unsigned)o->version_hex);

    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *f = &fields[i];
        int32_t v = get(o, f);
        int want_present = (present_mask(f->name) & V(minor)) != 0;
        const struct field *sz;

        CHECK(v == PP_OFF_NONE || v >= 0, "3.%u: %s = %d", minor, f->name,
              (int)v);
        CHECK(v != 0 || zero_allowed(f->name, minor),
              "3.%u: %s is 0 and not on the zero allow-list", minor, f->name);
        if (want_present)
            CHECK(v != PP_OFF_NONE, "3.%u: %s missing", minor, f->name);
        else
            CHECK(v == PP_OFF_NONE, "3.%u: %s = %d, expected PP_OFF_NONE",
                  minor, f->name, (int)v);

        sz = size_field_for(f->name);
        if (sz != NULL && v != PP_OFF_NONE) {
            int32_t s = get(o, sz);
            CHECK(s != PP_OFF_NONE && v < s, "3.%u: %s = %d not < %s = %d",
                  minor, f->name, (int)v, sz->name, (int)s);
        }
    }
}

#define SPOT(minor, field, value)                                             \
    do {                                                                      \
        const struct pp_pyoffsets *o_ = pp_pyoffsets_for(3, minor, false);           \
        CHECK(o_ != NULL && o_->field == (value), "3.%d %s: %d, want %d",     \
              minor, #field, o_ ? (int)o_->field : -99, value);               \
    } while (0)

static void check_spot_values(void)
{
    /* cpython-internals.md §10.2 */
    SPOT(8, frameobj_f_lasti, 104);
    SPOT(8, runtime_ceval_gil, 1152);
    SPOT(8, runtime_gilstate_tstate_current, 1368);
    SPOT(9, interp_modules, 856);
    SPOT(10, frameobj_f_lasti, 96);
    SPOT(10, code_linetable, 120);
    SPOT(11, iframe_is_entry, 68);
    SPOT(11, iframe_owner, 69);
    SPOT(11, code_firsttraceable, 168);
    SPOT(11, tstate_datastack_chunk, 296);
    SPOT(12, tstate_native_thread_id, 144);
    SPOT(12, iframe_owner, 70);
    SPOT(12, interp_gil, 1040);
    SPOT(12, interp_ceval_gil, 384);
    SPOT(12, unicode_ascii_size, 40);
    SPOT(13, tstate_current_frame, 72);
    SPOT(13, tstate_status, 32);
    SPOT(13, runtime_interpreters_head, 632);
    SPOT(13, code_code_adaptive, 200);
    SPOT(13, gen_gi_iframe, 72);
    /* 3.14 / 3.15 (Debian's 3.14.10 / 3.15.2 headers; debug tables agree) */
    SPOT(14, iframe_owner, 74);
    SPOT(14, tuple_ob_item, 32);
    SPOT(15, tstate_native_thread_id, 184);
}

static void check_lookup(void)
{
    CHECK(pp_pyoffsets_for(3, 7, false) == NULL, "3.7 should have no table");
    CHECK(pp_pyoffsets_for(3, 16, false) == NULL, "3.16 should have no table");
    CHECK(pp_pyoffsets_for(2, 8, false) == NULL, "2.8 should have no table");
    CHECK(pp_pyoffsets_for(4, 11, false) == NULL, "4.11 should have no table");
    CHECK(pp_pyoffsets_for(3, 12, true) == NULL, "3.12t should have no table");
    CHECK(pp_pyoffsets_for(3, 14, true) == NULL, "3.14t should have no table (not verified)");
}

/* 3.13t: its own generated table, every object layout moved by the larger
 * object header (ob_tid, ob_flags, ob_mutex, ob_gc_bits, ob_ref_local,
 * ob_ref_shared before ob_type). */
static void check_free_threaded(void)
{
    const struct pp_pyoffsets *d = pp_pyoffsets_for(3, 13, false);
    const struct pp_pyoffsets *t = pp_pyoffsets_for(3, 13, true);

    CHECK(t != NULL && t != d, "3.13t: no table of its own");
    if (!t || !d)
        return;
    CHECK((t->version_hex >> 16) == 0x030d, "3.13t: version_hex 0x%08x", (unsigned)t->version_hex);
    CHECK(t->object_ob_type == 24 && d->object_ob_type == 8, "3.13t ob_type %d, 3.13 %d",
          (int)t->object_ob_type, (int)d->object_ob_type);
    CHECK(t->code_filename == d->code_filename + 16, "3.13t co_filename %d vs 3.13 %d",
          (int)t->code_filename, (int)d->code_filename);
    CHECK(t->unicode_ascii_size == d->unicode_ascii_size + 16, "3.13t ascii size %d",
          (int)t->unicode_ascii_size);
    CHECK(t->gil_locked == d->gil_locked + 8, "3.13t gil locked %d (int enabled first)",
          (int)t->gil_locked);
}

int main(void)
{
    for (unsigned minor = 8; minor <= 15; minor++)
        check_version(minor);
    check_spot_values();
    check_lookup();
    check_free_threaded();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
