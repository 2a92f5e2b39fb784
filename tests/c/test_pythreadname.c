/*
 * tests/c/test_pythreadname.c -- pp_pythreadname_read() on synthetic
 * memory images, one per layout 3.8 - 3.13.
 *
 * Each image holds an interpreter whose modules dict maps "threading" to
 * a module whose dict holds "_active": ident (int) -> Thread.  The Thread
 * objects cover every instance-dict shape of that version (tp_dictoffset
 * with split and combined dicts; 3.11 values pointer or dict; 3.12 tagged
 * values or dict; 3.13 inline values or dict whose ma_values has the 3.13
 * header).  Idents need two and three 30-bit digits.  A deleted entry and
 * a non-int key are skipped.  Then the error paths: no threading module,
 * an unreadable interpreter, an oversized dict, an int key too large.
 * The image is served by the snapshot backend, as a live process would be.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "py/layout.h"
#include "pythreadname.h"
#include "tap.h"

#define BASE 0x10000000ULL
#define SIZE (256u << 10)

#define F_INLINE (1ULL << 2)
#define F_MANAGED (1ULL << 4)
#define F_HEAP (1ULL << 9)
#define F_LONG (1ULL << 24)
#define F_STR (1ULL << 28)
#define F_DICT (1ULL << 29)

struct img {
    uint8_t *buf;
    uint64_t top;
    const struct pp_pylayout *L;
    unsigned minor;
    uint64_t str_t, int_t, dict_t, mod_t;
};

static uint64_t
alloc(struct img *m, size_t n)
{
    uint64_t a = BASE + m->top;
    m->top += (n + 15) & ~(size_t)15;
    if (m->top > SIZE) {
        fprintf(stderr, "image full\n");
        exit(2);
    }
    return a;
}

static void
put(struct img *m, uint64_t addr, const void *p, size_t n)
{
    memcpy(m->buf + (addr - BASE), p, n);
}

static void
put64(struct img *m, uint64_t addr, uint64_t v)
{
    put(m, addr, &v, 8);
}

static uint64_t
new_type(struct img *m, uint64_t flags, int64_t dictoffset, int64_t basicsize)
{
    const struct pp_pyoffsets *o = &m->L->o;
    uint64_t t = alloc(m, 1024);
    put64(m, t, 1);
    put64(m, t + (uint64_t)o->type_tp_flags, flags);
    put64(m, t + (uint64_t)o->type_tp_dictoffset, (uint64_t)dictoffset);
    put64(m, t + (uint64_t)o->type_tp_basicsize, (uint64_t)basicsize);
    return t;
}

static uint64_t
new_obj(struct img *m, uint64_t type, size_t size)
{
    uint64_t a = alloc(m, size);
    put64(m, a, 1);
    put64(m, a + (uint64_t)m->L->o.object_ob_type, type);
    return a;
}

static uint64_t
new_str(struct img *m, const char *s)
{
    const struct pp_pyoffsets *o = &m->L->o;
    size_t n = strlen(s);
    uint64_t a = new_obj(m, m->str_t, (size_t)o->unicode_ascii_size + n + 1);
    uint32_t state = (1u << 2) | 0x20 | 0x40; /* kind 1, compact, ascii */
    put64(m, a + (uint64_t)o->unicode_length, n);
    put(m, a + (uint64_t)o->unicode_state, &state, 4);
    put(m, a + (uint64_t)o->unicode_ascii_size, s, n);
    return a;
}

static uint64_t
new_int(struct img *m, uint64_t v)
{
    const struct pp_pyoffsets *o = &m->L->o;
    uint32_t d[3];
    size_t n = 0;
    uint64_t a = new_obj(m, m->int_t, (size_t)o->long_ob_digit + 12);
    while (v) {
        d[n++] = (uint32_t)(v & 0x3fffffff);
        v >>= 30;
    }
    if (o->long_lv_tag >= 0)
        put64(m, a + (uint64_t)o->long_lv_tag, n ? (uint64_t)n << 3 : 1);
    else
        put64(m, a + (uint64_t)o->varobject_ob_size, n);
    put(m, a + (uint64_t)o->long_ob_digit, d, n * 4);
    return a;
}

/* A keys object with n entries; kind: 0 general, 1 unicode, 2 split
 * (values then go elsewhere: me_value NULL).  nentries_override < 0: n. */
static uint64_t
new_keys(struct img *m, int kind, const uint64_t *keys, const uint64_t *vals, size_t n,
         int64_t nentries_override)
{
    const struct pp_pyoffsets *o = &m->L->o;
    size_t size = 8, esize, koff, voff, i;
    uint64_t k, entries;
    int64_t ne = nentries_override >= 0 ? nentries_override : (int64_t)n;

    while (n > size * 2 / 3)
        size *= 2;
    if (o->dictkeys_dk_size < 0 && kind != 0) {
        esize = (size_t)o->dictunicodeentry_size;
        koff = (size_t)o->dictunicodeentry_me_key;
        voff = (size_t)o->dictunicodeentry_me_value;
    } else {
        esize = (size_t)o->dictkeyentry_size;
        koff = (size_t)o->dictkeyentry_me_key;
        voff = (size_t)o->dictkeyentry_me_value;
    }
    k = alloc(m, (size_t)o->dictkeys_dk_indices + size + size * esize);
    put64(m, k, 1);
    if (o->dictkeys_dk_size >= 0) {
        put64(m, k + (uint64_t)o->dictkeys_dk_size, size);
    } else {
        uint8_t log2 = 0, kb = (uint8_t)kind;
        while (((size_t)1 << log2) < size)
            log2++;
        put(m, k + (uint64_t)o->dictkeys_dk_log2_size, &log2, 1);
        put(m, k + (uint64_t)o->dictkeys_dk_log2_index_bytes, &log2, 1);
        put(m, k + (uint64_t)o->dictkeys_dk_kind, &kb, 1);
    }
    put64(m, k + (uint64_t)o->dictkeys_dk_nentries, (uint64_t)ne);
    memset(m->buf + (k + (uint64_t)o->dictkeys_dk_indices - BASE), 0xff, size);
    entries = k + (uint64_t)o->dictkeys_dk_indices + size;
    for (i = 0; i < n; i++) {
        put64(m, entries + i * esize + koff, keys[i]);
        if (kind != 2)
            put64(m, entries + i * esize + voff, vals[i]);
    }
    return k;
}

/* A values array for a split table; returns the PyDictValues address (with
 * the 3.13 header before values[]). */
static uint64_t
new_values(struct img *m, const uint64_t *vals, size_t n, size_t cap)
{
    unsigned hdr = m->minor >= 13 ? 8 : 0;
    uint64_t a = alloc(m, hdr + cap * 8);
    if (hdr) {
        uint8_t h[4] = {(uint8_t)cap, (uint8_t)n, 0, 1};
        put(m, a, h, 4);
    }
    put(m, a + hdr, vals, n * 8);
    return a;
}

static uint64_t
new_dict(struct img *m, uint64_t keys, uint64_t values, size_t used)
{
    const struct pp_pyoffsets *o = &m->L->o;
    uint64_t d = new_obj(m, m->dict_t, 64);
    put64(m, d + (uint64_t)o->dict_ma_used, used);
    put64(m, d + (uint64_t)o->dict_ma_keys, keys);
    put64(m, d + (uint64_t)o->dict_ma_values, values);
    return d;
}

static uint64_t
new_combined(struct img *m, int kind, const uint64_t *keys, const uint64_t *vals, size_t n)
{
    return new_dict(m, new_keys(m, kind, keys, vals, n, -1), 0, n);
}

/* A Thread-like instance named name, in shape `variant` (0 or 1, see the
 * file comment); the type carries the shared keys. */
static uint64_t
new_thread(struct img *m, uint64_t type, uint64_t shared_keys, int variant, const char *name)
{
    const struct pp_pyoffsets *o = &m->L->o;
    uint64_t ks[2] = {new_str(m, "_target"), new_str(m, "_name")};
    uint64_t vs[2] = {new_str(m, "fn"), new_str(m, name)};
    uint64_t pre = alloc(m, 32 + 16 + 64), obj = pre + 32;

    put64(m, obj, 1);
    put64(m, obj + (uint64_t)o->object_ob_type, type);
    if (m->minor <= 10) {
        uint64_t d = variant == 0 ? new_dict(m, shared_keys, new_values(m, vs, 2, 5), 2)
                                  : new_combined(m, 1, ks, vs, 2);
        put64(m, obj + 16, d);
    } else if (m->minor == 11) {
        if (variant == 0)
            put64(m, obj - 32, new_values(m, vs, 2, 5));
        else
            put64(m, obj - 24, new_combined(m, 1, ks, vs, 2));
    } else if (m->minor == 12) {
        if (variant == 0)
            put64(m, obj - 24, new_values(m, vs, 2, 5) - 1);
        else
            put64(m, obj - 24, new_combined(m, 1, ks, vs, 2));
    } else {
        uint8_t h[4] = {5, 2, 1, 1};
        put(m, obj + 16, h, 4);
        put(m, obj + 24, vs, 16);
        if (variant == 1) { /* materialized: the dict shares the inline values */
            h[3] = 0;
            put(m, obj + 16, h, 4);
            put64(m, obj - 24, new_dict(m, shared_keys, obj + 16, 2));
        }
    }
    return obj;
}

struct built {
    uint64_t interp, active_keys, big_int;
};

static void
build(struct img *m, bool with_threading, struct built *b)
{
    const struct pp_pyoffsets *o = &m->L->o;
    uint64_t thread_t, shared, th[3], mod, md, active, modules, k3[5], v3[5];
    uint64_t split_keys[2];
    uint64_t mk[3], mv[3];

    m->str_t = new_type(m, F_STR, 0, 0);
    m->int_t = new_type(m, F_LONG, 0, 0);
    m->dict_t = new_type(m, F_DICT, 0, 0);
    m->mod_t = new_type(m, 0, 0, 0);
    split_keys[0] = new_str(m, "_target");
    split_keys[1] = new_str(m, "_name");
    shared = new_keys(m, 2, split_keys, NULL, 2, -1);
    thread_t = new_type(m,
                        F_HEAP | (m->minor >= 11 ? F_MANAGED : 0) | (m->minor >= 13 ? F_INLINE : 0),
                        m->minor <= 10 ? 16 : -1, 16);
    put64(m, thread_t + (uint64_t)o->heaptype_ht_cached_keys, shared);
    th[0] = new_thread(m, thread_t, shared, 0, "MainThread");
    th[1] = new_thread(m, thread_t, shared, 1, "worker-a");
    th[2] = new_thread(m, thread_t, shared, 0, "worker-b");

    /* _active: 3 threads, one deleted slot, one str key */
    k3[0] = new_int(m, 140000000000000ULL); /* 2 digits */
    v3[0] = th[0];
    k3[1] = new_int(m, 0xfedcba9876543210ULL); /* 3 digits */
    v3[1] = th[1];
    k3[2] = new_int(m, 7);
    v3[2] = 0; /* deleted */
    k3[3] = new_str(m, "not-an-int");
    v3[3] = th[2];
    k3[4] = new_int(m, 4096);
    v3[4] = th[2];
    active = new_combined(m, 0, k3, v3, 5);
    b->big_int = k3[1];
    b->active_keys = *(uint64_t *)(m->buf + (active + (uint64_t)o->dict_ma_keys - BASE));

    mk[0] = new_str(m, "_limbo");
    mv[0] = new_combined(m, 1, NULL, NULL, 0);
    mk[1] = new_str(m, "_active");
    mv[1] = active;
    md = new_combined(m, 1, mk, mv, 2);
    mod = new_obj(m, m->mod_t, 64);
    put64(m, mod + (uint64_t)o->module_md_dict, md);

    mk[0] = new_str(m, "sys");
    mv[0] = new_obj(m, m->mod_t, 64);
    mk[1] = new_str(m, "threadinG"); /* same length, other text */
    mv[1] = new_obj(m, m->mod_t, 64);
    mk[2] = new_str(m, "threading");
    mv[2] = mod;
    modules = new_combined(m, 1, mk, mv, with_threading ? 3 : 2);
    b->interp = alloc(m, (size_t)o->interp_modules + 8);
    put64(m, b->interp + (uint64_t)o->interp_modules, modules);
}

static struct pp_mem *
snapshot(struct img *m)
{
    size_t len = 8 + 4 + 16 + SIZE + 16;
    uint8_t *blob = calloc(1, len), *p = blob;
    uint64_t addr = BASE, rlen = SIZE;
    struct pp_mem *mem = NULL;

    memcpy(p, "PPSNAP01", 8);
    p += 12; /* meta_len 0 */
    memcpy(p, &addr, 8);
    memcpy(p + 8, &rlen, 8);
    memcpy(p + 16, m->buf, SIZE);
    CHECK_EQ_INT(pp_mem_snap_from_buffer(blob, len, &mem), 0);
    free(blob);
    if (mem)
        CHECK_EQ_INT(pp_mem_cache_enable(mem), 0);
    return mem;
}

static int
read_names(struct img *m, uint64_t interp, struct pp_pythreadname_list *l)
{
    struct pp_mem *mem = snapshot(m);
    int err;
    if (!mem)
        return PP_EINTERNAL;
    err = pp_pythreadname_read(mem, m->L, interp, l);
    pp_mem_free(mem);
    return err;
}

static void
test_version(unsigned minor)
{
    struct pp_pylayout L;
    struct img m = {0};
    struct built b;
    struct pp_pythreadname_list l = {0};
    const char *n;

    printf("# 3.%u\n", minor);
    CHECK_EQ_INT(pp_pylayout_static(0x03000000u | (minor << 16) | 0xf0u, &L), 0);
    m.buf = calloc(1, SIZE);
    m.L = &L;
    m.minor = minor;
    build(&m, true, &b);

    CHECK_EQ_INT(read_names(&m, b.interp, &l), 0);
    CHECK_EQ_INT(l.len, 3);
    n = pp_pythreadname_find(&l, 140000000000000ULL);
    CHECK(n && strcmp(n, "MainThread") == 0);
    n = pp_pythreadname_find(&l, 0xfedcba9876543210ULL);
    CHECK(n && strcmp(n, "worker-a") == 0);
    n = pp_pythreadname_find(&l, 4096);
    CHECK(n && strcmp(n, "worker-b") == 0);
    CHECK(pp_pythreadname_find(&l, 7) == NULL);

    /* an int past 64 bits: that entry is skipped, the others stay */
    {
        const struct pp_pyoffsets *o = &L.o;
        uint32_t top = 0x3fffffff;
        put(&m, b.big_int + (uint64_t)o->long_ob_digit + 8, &top, 4);
        CHECK_EQ_INT(read_names(&m, b.interp, &l), 0);
        CHECK_EQ_INT(l.len, 2);
        CHECK(pp_pythreadname_find(&l, 0xfedcba9876543210ULL) == NULL);
        /* _active with an absurd entry count: bad data, empty list */
        put64(&m, b.active_keys + (uint64_t)o->dictkeys_dk_nentries, 1u << 30);
        CHECK_EQ_INT(read_names(&m, b.interp, &l), PP_EBADDATA);
        CHECK_EQ_INT(l.len, 0);
    }
    /* unreadable interpreter */
    CHECK_EQ_INT(read_names(&m, 0x7f0000000000ULL, &l), PP_EFAULT);
    CHECK_EQ_INT(read_names(&m, 3, &l), PP_EBADDATA);

    /* no threading module */
    memset(m.buf, 0, SIZE);
    m.top = 0;
    build(&m, false, &b);
    CHECK_EQ_INT(read_names(&m, b.interp, &l), PP_ENOTFOUND);
    CHECK_EQ_INT(l.len, 0);

    pp_pythreadname_list_free(&l);
    free(m.buf);
}

int
main(void)
{
    unsigned minor;
    for (minor = 8; minor <= 13; minor++)
        test_version(minor);
    TEST_DONE();
}
