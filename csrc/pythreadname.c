/*
 * pythreadname.c -- threading._active of a target CPython, read as
 * (ident, Thread.name) pairs (layer L3).
 *
 * A small read-only dict reader does the work.  Keys objects:
 *   3.8 - 3.10  dk_size, dk_lookup, dk_usable, dk_nentries, dk_indices[]:
 *               index width 1/2/4/8 bytes by dk_size, then PyDictKeyEntry
 *               {hash, key, value} entries;
 *   3.11+       dk_log2_size, dk_log2_index_bytes, dk_kind, ...: indices
 *               take 1 << dk_log2_index_bytes bytes, then PyDictKeyEntry
 *               (kind 0, general) or PyDictUnicodeEntry {key, value}
 *               (kind 1 unicode, 2 split).
 * A split table keeps its values apart (ma_values), indexed like the
 * entries; 3.13's PyDictValues has a 4-byte header (capacity, size,
 * embedded, valid) padded to 8 before values[].  The reader walks the
 * entries in order and never the hash index, so it needs no hashes: a str
 * key is compared by length, then by content.
 *
 * Instance dicts (Thread objects):
 *   3.8 - 3.10  PyObject * at obj + tp_dictoffset;
 *   3.11        managed (Py_TPFLAGS_MANAGED_DICT): dict at obj - 24, or,
 *               when NULL, a PyDictValues * at obj - 32 whose keys are the
 *               type's ht_cached_keys;
 *   3.12        one tagged word at obj - 24: a dict, or values - 1 (low
 *               bit set) with the keys in ht_cached_keys;
 *   3.13        dict at obj - 24, or, when NULL and the type has
 *               Py_TPFLAGS_INLINE_VALUES, PyDictValues inline at
 *               obj + tp_basicsize (used only when its `valid` byte is set).
 * Those encodings are not offsets: the layout names them as shape flags
 * (L->instdict, L->dictvalues_hdr), set per version in py/layout.c.
 *
 * Every read is bounded: dicts of at most PP_PYTHREADNAME_DICT_MAX entries,
 * at most PP_PYTHREADNAME_MAX threads, ints of at most three 30-bit
 * digits, strings through pp_pystr_read().  Anything inconsistent is
 * PP_EBADDATA for the whole read, or a skipped entry in _active.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pycode.h"
#include "pythreadname.h"

#define TPFLAGS_INLINE_VALUES (1UL << 2) /* 3.13+ */
#define TPFLAGS_MANAGED_DICT (1UL << 4)  /* 3.11+ */
#define TPFLAGS_HEAPTYPE (1UL << 9)
#define TPFLAGS_LONG_SUBCLASS (1UL << 24)
#define TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define TPFLAGS_DICT_SUBCLASS (1UL << 29)

#define ENTRY_CHUNK 256     /* entries read per process_vm_readv */
#define KEYS_LOG2_MAX 20    /* table size bound (indices) */
#define LONG_DIGITS_MAX 3   /* 90 bits: enough for a uint64_t ident */

struct shape {
    bool old_keys;       /* 3.8 - 3.10 keys object */
    unsigned values_hdr; /* bytes before PyDictValues.values[] */
    enum pp_instdict_shape inst;
};

static void
shape_of(const struct pp_pylayout *L, struct shape *sh)
{
    sh->old_keys = L->o.dictkeys_dk_size >= 0;
    sh->values_hdr = L->dictvalues_hdr;
    sh->inst = L->instdict;
}

struct reader {
    struct pp_mem *mem;
    const struct pp_pylayout *L;
    struct shape sh;
};

static bool
ptr_ok(uint64_t p)
{
    return p >= 4096 && (p & 7) == 0 && p < 0x0000800000000000ULL;
}

static int
read_ptr(struct reader *r, uint64_t addr, uint64_t *out)
{
    int err = pp_mem_read_cached(r->mem, addr, out, 8);
    if (err)
        return err;
    return *out == 0 || ptr_ok(*out) ? 0 : PP_EBADDATA;
}

/* obj's type and tp_flags. */
static int
obj_type(struct reader *r, uint64_t obj, uint64_t *type, uint64_t *flags)
{
    int err;
    if (!ptr_ok(obj))
        return PP_EBADDATA;
    if ((err = read_ptr(r, obj + (uint64_t)r->L->o.object_ob_type, type)))
        return err;
    if (!*type)
        return PP_EBADDATA;
    return pp_mem_read_cached(r->mem, *type + (uint64_t)r->L->o.type_tp_flags, flags, 8);
}

static int
check_flag(struct reader *r, uint64_t obj, uint64_t flag)
{
    uint64_t type, flags;
    int err = obj_type(r, obj, &type, &flags);
    if (err)
        return err;
    return (flags & flag) ? 0 : PP_EBADDATA;
}

/* ==== tables ==== */

struct table {
    uint64_t keys_addr;
    uint64_t values_addr; /* values[] of a split table; 0 for a combined one */
    size_t values_cap;    /* slots values[] has */
};

/* Calls fn(arg, key, value) for each live entry; fn returns 0 to go on,
 * 1 to stop, or a negative error that ends the walk. */
static int
table_each(struct reader *r, const struct table *t,
           int (*fn)(void *arg, uint64_t key, uint64_t value), void *arg)
{
    const struct pp_pyoffsets *o = &r->L->o;
    uint8_t hdr[64];
    uint8_t ents[ENTRY_CHUNK * 24];
    uint64_t vals[ENTRY_CHUNK];
    uint64_t size, index_bytes, entries_addr;
    int64_t nentries;
    size_t esize, koff, voff, n, i;
    int err;

    if (!ptr_ok(t->keys_addr) || o->dictkeys_dk_indices <= 0 ||
        (size_t)o->dictkeys_dk_indices > sizeof(hdr))
        return PP_EBADDATA;
    if ((err = pp_mem_read_cached(r->mem, t->keys_addr, hdr, (size_t)o->dictkeys_dk_indices)))
        return err;
    memcpy(&nentries, hdr + o->dictkeys_dk_nentries, 8);
    esize = (size_t)o->dictkeyentry_size;
    koff = (size_t)o->dictkeyentry_me_key;
    voff = (size_t)o->dictkeyentry_me_value;
    if (r->sh.old_keys) {
        int64_t dk_size;
        memcpy(&dk_size, hdr + o->dictkeys_dk_size, 8);
        if (dk_size < 8 || dk_size > (1 << KEYS_LOG2_MAX) || (dk_size & (dk_size - 1)))
            return PP_EBADDATA;
        size = (uint64_t)dk_size;
        index_bytes = size * (size <= 0xff ? 1 : size <= 0xffff ? 2 : 4);
    } else {
        unsigned log2 = hdr[o->dictkeys_dk_log2_size];
        unsigned log2_ib = hdr[o->dictkeys_dk_log2_index_bytes];
        unsigned kind = hdr[o->dictkeys_dk_kind];
        if (log2 > KEYS_LOG2_MAX || log2_ib < log2 || log2_ib > log2 + 3 || kind > 2)
            return PP_EBADDATA;
        size = 1ULL << log2;
        index_bytes = 1ULL << log2_ib;
        if (kind != 0) {
            esize = (size_t)o->dictunicodeentry_size;
            koff = (size_t)o->dictunicodeentry_me_key;
            voff = (size_t)o->dictunicodeentry_me_value;
        }
    }
    if (esize == 0 || esize > 24 || koff + 8 > esize || voff + 8 > esize)
        return PP_EBADDATA;
    if (nentries < 0 || (uint64_t)nentries > size || nentries > PP_PYTHREADNAME_DICT_MAX)
        return PP_EBADDATA;
    n = (size_t)nentries;
    if (t->values_addr && n > t->values_cap)
        n = t->values_cap;
    entries_addr = t->keys_addr + (uint64_t)o->dictkeys_dk_indices + index_bytes;
    for (i = 0; i < n; i += ENTRY_CHUNK) {
        size_t m = n - i < ENTRY_CHUNK ? n - i : ENTRY_CHUNK, j;
        if ((err = pp_mem_read(r->mem, entries_addr + i * esize, ents, m * esize)))
            return err;
        if (t->values_addr &&
            (err = pp_mem_read(r->mem, t->values_addr + i * 8, vals, m * 8)))
            return err;
        for (j = 0; j < m; j++) {
            uint64_t key, value;
            memcpy(&key, ents + j * esize + koff, 8);
            if (t->values_addr)
                value = vals[j];
            else
                memcpy(&value, ents + j * esize + voff, 8);
            if (!key || !value) /* free or deleted slot */
                continue;
            if (!ptr_ok(key) || !ptr_ok(value))
                return PP_EBADDATA;
            if ((err = fn(arg, key, value)))
                return err < 0 ? err : 0;
        }
    }
    return 0;
}

/* The table of a dict object. */
static int
dict_table(struct reader *r, uint64_t dict, struct table *t)
{
    const struct pp_pyoffsets *o = &r->L->o;
    uint64_t values;
    int err;

    if ((err = check_flag(r, dict, TPFLAGS_DICT_SUBCLASS)) ||
        (err = read_ptr(r, dict + (uint64_t)o->dict_ma_keys, &t->keys_addr)) ||
        (err = read_ptr(r, dict + (uint64_t)o->dict_ma_values, &values)))
        return err;
    t->values_addr = 0;
    t->values_cap = 0;
    if (values) {
        t->values_addr = values + r->sh.values_hdr;
        t->values_cap = PP_PYTHREADNAME_DICT_MAX;
        if (r->sh.values_hdr) { /* 3.13: capacity is the first byte */
            uint8_t cap;
            if ((err = pp_mem_read_cached(r->mem, values, &cap, 1)))
                return err;
            t->values_cap = cap;
        }
    }
    return 0;
}

struct find_str {
    struct reader *r;
    const char *want;
    size_t want_len;
    uint64_t value;
};

static int
find_str_fn(void *arg, uint64_t key, uint64_t value)
{
    struct find_str *f = arg;
    const struct pp_pyoffsets *o = &f->r->L->o;
    char buf[PP_PYTHREADNAME_LEN];
    int64_t len;
    size_t n;

    /* an unreadable key is some other key: skip it */
    if (pp_mem_read_cached(f->r->mem, key + (uint64_t)o->unicode_length, &len, 8) ||
        len != (int64_t)f->want_len)
        return 0;
    if (check_flag(f->r, key, TPFLAGS_UNICODE_SUBCLASS) ||
        pp_pystr_read(f->r->mem, f->r->L, key, buf, sizeof(buf), &n) || n != f->want_len ||
        memcmp(buf, f->want, n) != 0)
        return 0;
    f->value = value;
    return 1;
}

/* t[want] (want: ASCII, shorter than PP_PYTHREADNAME_LEN); PP_ENOTFOUND. */
static int
table_find_str(struct reader *r, const struct table *t, const char *want, uint64_t *value)
{
    struct find_str f = {r, want, strlen(want), 0};
    int err = table_each(r, t, find_str_fn, &f);
    if (err)
        return err;
    if (!f.value)
        return PP_ENOTFOUND;
    *value = f.value;
    return 0;
}

static int
dict_find_str(struct reader *r, uint64_t dict, const char *want, uint64_t *value)
{
    struct table t;
    int err = dict_table(r, dict, &t);
    if (err)
        return err;
    return table_find_str(r, &t, want, value);
}

/* ==== objects ==== */

/* A managed instance without a dict object: its values with the type's
 * shared keys. */
static int
shared_keys_table(struct reader *r, uint64_t type, uint64_t flags, uint64_t values_arr,
                  size_t cap, struct table *t)
{
    int err;
    if (!(flags & TPFLAGS_HEAPTYPE) || r->L->o.heaptype_ht_cached_keys < 0)
        return PP_EBADDATA;
    if ((err = read_ptr(r, type + (uint64_t)r->L->o.heaptype_ht_cached_keys, &t->keys_addr)))
        return err;
    if (!t->keys_addr || !ptr_ok(values_arr))
        return PP_EBADDATA;
    t->values_addr = values_arr;
    t->values_cap = cap;
    return 0;
}

/* obj.__dict__[want] for a plain instance; PP_ENOTFOUND when it has none. */
static int
instance_attr(struct reader *r, uint64_t obj, const char *want, uint64_t *value)
{
    const struct pp_pyoffsets *o = &r->L->o;
    uint64_t type, flags, word;
    struct table t;
    int err;

    if ((err = obj_type(r, obj, &type, &flags)))
        return err;
    if (r->sh.inst == PP_INSTDICT_DICTOFFSET || !(flags & TPFLAGS_MANAGED_DICT)) {
        int64_t dictoffset;
        if ((err = pp_mem_read_cached(r->mem, type + (uint64_t)o->type_tp_dictoffset,
                                      &dictoffset, 8)))
            return err;
        if (dictoffset <= 0 || dictoffset > 4096 || (dictoffset & 7)) /* none, or var-sized */
            return PP_ENOTFOUND;
        if ((err = read_ptr(r, obj + (uint64_t)dictoffset, &word)))
            return err;
        if (!word)
            return PP_ENOTFOUND;
        return dict_find_str(r, word, want, value);
    }
    if ((err = pp_mem_read_cached(r->mem, obj - r->L->managed_dict_back, &word, 8)))
        return err;
    switch (r->sh.inst) {
    case PP_INSTDICT_MANAGED_11:
        if (word)
            break;
        if ((err = read_ptr(r, obj - 32, &word)))
            return err;
        if (!word)
            return PP_ENOTFOUND;
        if ((err = shared_keys_table(r, type, flags, word, PP_PYTHREADNAME_DICT_MAX, &t)))
            return err;
        return table_find_str(r, &t, want, value);
    case PP_INSTDICT_MANAGED_12:
        if (!(word & 1))
            break;
        if ((err = shared_keys_table(r, type, flags, word + 1, PP_PYTHREADNAME_DICT_MAX, &t)))
            return err;
        return table_find_str(r, &t, want, value);
    case PP_INSTDICT_MANAGED_13:
        if (word)
            break;
        if (flags & TPFLAGS_INLINE_VALUES) {
            int64_t basicsize;
            uint8_t vh[4]; /* capacity, size, embedded, valid */
            if ((err = pp_mem_read_cached(r->mem, type + (uint64_t)o->type_tp_basicsize,
                                          &basicsize, 8)))
                return err;
            if (basicsize < 16 || basicsize > 4096 || (basicsize & 7))
                return PP_EBADDATA;
            if ((err = pp_mem_read_cached(r->mem, obj + (uint64_t)basicsize, vh, 4)))
                return err;
            if (!vh[3])
                return PP_ENOTFOUND;
            if ((err = shared_keys_table(r, type, flags, obj + (uint64_t)basicsize + 8, vh[0],
                                         &t)))
                return err;
            return table_find_str(r, &t, want, value);
        }
        return PP_ENOTFOUND;
    case PP_INSTDICT_DICTOFFSET:
        break;
    }
    if (!word)
        return PP_ENOTFOUND;
    if (!ptr_ok(word))
        return PP_EBADDATA;
    return dict_find_str(r, word, want, value);
}

/* A non-negative int object as uint64_t. */
static int
read_u64_int(struct reader *r, uint64_t obj, uint64_t *out)
{
    const struct pp_pyoffsets *o = &r->L->o;
    uint32_t digits[LONG_DIGITS_MAX];
    uint64_t v = 0;
    size_t n, i;
    int err;

    if ((err = check_flag(r, obj, TPFLAGS_LONG_SUBCLASS)))
        return err;
    if (o->long_lv_tag >= 0) { /* 3.12+: ndigits << 3 | sign (0 +, 1 zero, 2 -) */
        uint64_t tag;
        if ((err = pp_mem_read_cached(r->mem, obj + (uint64_t)o->long_lv_tag, &tag, 8)))
            return err;
        if ((tag & 3) == 2 || (tag & 3) == 3)
            return PP_EBADDATA;
        n = (tag & 3) == 1 ? 0 : (size_t)(tag >> 3);
        if (tag >> 3 > LONG_DIGITS_MAX)
            return PP_EBADDATA;
    } else { /* ob_size: signed digit count */
        int64_t size;
        if ((err = pp_mem_read_cached(r->mem, obj + (uint64_t)o->varobject_ob_size, &size, 8)))
            return err;
        if (size < 0 || size > LONG_DIGITS_MAX)
            return PP_EBADDATA;
        n = (size_t)size;
    }
    if (n && (err = pp_mem_read_cached(r->mem, obj + (uint64_t)o->long_ob_digit, digits, n * 4)))
        return err;
    for (i = n; i-- > 0;) {
        if (digits[i] >> 30 || (v >> 34) != 0)
            return PP_EBADDATA; /* not a digit, or past 64 bits */
        v = (v << 30) | digits[i];
    }
    *out = v;
    return 0;
}

/* ==== threading._active ==== */

struct active_ctx {
    struct reader *r;
    struct pp_pythreadname_list *out;
};

static int
list_push(struct pp_pythreadname_list *l, uint64_t ident, const char *name)
{
    struct pp_pythreadname *e;
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct pp_pythreadname *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return PP_ENOMEM;
        l->items = items;
        l->cap = cap;
    }
    e = &l->items[l->len++];
    e->ident = ident;
    snprintf(e->name, sizeof(e->name), "%s", name);
    return 0;
}

static int
active_fn(void *arg, uint64_t key, uint64_t value)
{
    struct active_ctx *c = arg;
    char name[PP_PYTHREADNAME_LEN];
    uint64_t ident, str;
    size_t n;

    if (c->out->len >= PP_PYTHREADNAME_MAX)
        return 1;
    /* a Thread that cannot be read (racing its start or end) is skipped */
    if (read_u64_int(c->r, key, &ident) || instance_attr(c->r, value, "_name", &str) ||
        check_flag(c->r, str, TPFLAGS_UNICODE_SUBCLASS) ||
        pp_pystr_read(c->r->mem, c->r->L, str, name, sizeof(name), &n) || n == 0)
        return 0;
    return list_push(c->out, ident, name);
}

int
pp_pythreadname_read(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t interp_addr,
                     struct pp_pythreadname_list *out)
{
    struct reader r = {mem, L, {0}};
    struct active_ctx c = {&r, out};
    struct table t;
    uint64_t modules, threading, md_dict, active;
    int err;

    out->len = 0;
    shape_of(L, &r.sh);
    if (!ptr_ok(interp_addr) || L->o.interp_modules < 0 || L->o.module_md_dict < 0)
        return PP_EBADDATA;
    if ((err = read_ptr(&r, interp_addr + (uint64_t)L->o.interp_modules, &modules)))
        return err;
    if (!modules)
        return PP_ENOTFOUND; /* interpreter starting or finalizing */
    if ((err = dict_find_str(&r, modules, "threading", &threading)) ||
        (err = read_ptr(&r, threading + (uint64_t)L->o.module_md_dict, &md_dict)))
        return err;
    if (!md_dict)
        return PP_ENOTFOUND;
    if ((err = dict_find_str(&r, md_dict, "_active", &active)) ||
        (err = dict_table(&r, active, &t)))
        return err;
    err = table_each(&r, &t, active_fn, &c);
    if (err)
        out->len = 0;
    return err;
}

const char *
pp_pythreadname_find(const struct pp_pythreadname_list *l, uint64_t ident)
{
    size_t i;
    for (i = 0; i < l->len; i++)
        if (l->items[i].ident == ident)
            return l->items[i].name;
    return NULL;
}

void
pp_pythreadname_list_free(struct pp_pythreadname_list *l)
{
    free(l->items);
    l->items = NULL;
    l->len = l->cap = 0;
}
