/*
 * pylocals.c -- a frame's arguments and locals as text (`dump --locals`).
 * See pylocals.h.  The target's memory is hostile: names and values are
 * read through pp_mem with every count bounded, and a type is recognised
 * only by a built-in (non-heap) type's tp_name read from its ob_type.
 */
#include "pylocals.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pycode.h"

#define TYPE_NAME_MAX 64
#define INT_DIGITS_MAX 1000 /* 30-bit digits converted exactly (~9000 decimal digits) */
#define TPFLAGS_HEAPTYPE (1UL << 9)

/* 3.11+ co_localspluskinds bits (Include/internal/pycore_code.h) */
#define CO_FAST_HIDDEN 0x10
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80

struct sbuf {
    char *p;
    size_t len, cap;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + 1 >= b->cap)
        return;
    if (n > b->cap - 1 - b->len)
        n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A value that could not be read: shown so, and counted (errors may be NULL). */
static void
unreadable(struct sbuf *b, uint64_t *errors)
{
    sb_put(b, "<unreadable>", 12);
    if (errors)
        (*errors)++;
}

static bool
off_ok(int32_t off)
{
    return off >= 0;
}

static int
read_ptr(struct pp_mem *mem, uint64_t addr, uint64_t *out)
{
    return pp_mem_read_cached(mem, addr, out, 8);
}

/* ob_type's tp_name into name (printable ASCII, NUL-terminated) and its
 * flags.  PP_EBADDATA for a name that is not a plausible C string. */
static int
type_of(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, uint64_t *type,
        char *name, unsigned long *flags)
{
    const struct pp_pyoffsets *o = &L->o;
    uint64_t tp_name, fl = 0;
    char raw[TYPE_NAME_MAX];
    size_t i;
    int err;

    if (!off_ok(o->object_ob_type) || !off_ok(o->type_tp_name))
        return PP_EVERSION;
    if ((err = read_ptr(mem, obj + (uint64_t)o->object_ob_type, type)))
        return err;
    if (!*type || (*type & 7))
        return PP_EBADDATA;
    if ((err = read_ptr(mem, *type + (uint64_t)o->type_tp_name, &tp_name)))
        return err;
    if (!tp_name)
        return PP_EBADDATA;
    /* the name may end close to the end of a mapping: read it in two
     * halves so a short name near a page end is still read */
    size_t got = sizeof raw;
    memset(raw, 0, sizeof raw);
    if (pp_mem_read_cached(mem, tp_name, raw, sizeof raw)) {
        if ((err = pp_mem_read_cached(mem, tp_name, raw, 16)))
            return err;
        got = 16; /* the NUL must be among these */
    }
    for (i = 0; i < got; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == 0)
            break;
        if (c < 0x21 || c > 0x7e)
            return PP_EBADDATA;
    }
    if (i == 0 || i == got)
        return PP_EBADDATA;
    memcpy(name, raw, i + 1);
    if (off_ok(o->type_tp_flags) &&
        pp_mem_read_cached(mem, *type + (uint64_t)o->type_tp_flags, &fl, 8))
        fl = 0;
    *flags = (unsigned long)fl;
    return 0;
}

/* Digits (30-bit) and sign of an int; *nd may exceed the digits read. */
static int
long_shape(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, int *sign, uint64_t *nd)
{
    const struct pp_pyoffsets *o = &L->o;
    int err;
    if (off_ok(o->long_lv_tag)) { /* 3.12+: ndigits << 3 | sign (0 +, 1 zero, 2 -) */
        uint64_t tag;
        if ((err = pp_mem_read_cached(mem, obj + (uint64_t)o->long_lv_tag, &tag, 8)))
            return err;
        if ((tag & 3) == 3)
            return PP_EBADDATA;
        *sign = (tag & 3) == 2 ? -1 : (tag & 3) == 1 ? 0 : 1;
        *nd = tag >> 3;
        if (*sign == 0 && *nd > 1)
            return PP_EBADDATA;
        if (*sign == 0)
            *nd = 0;
        return 0;
    }
    if (off_ok(o->varobject_ob_size)) {
        int64_t size;
        if ((err = pp_mem_read_cached(mem, obj + (uint64_t)o->varobject_ob_size, &size, 8)))
            return err;
        if (size == INT64_MIN)
            return PP_EBADDATA;
        *sign = size < 0 ? -1 : size > 0;
        *nd = (uint64_t)(size < 0 ? -size : size);
        return 0;
    }
    return PP_EVERSION;
}

static void
render_int(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, struct sbuf *b,
           uint64_t *errors)
{
    const struct pp_pyoffsets *o = &L->o;
    uint32_t *d = NULL;
    char *dec = NULL;
    uint64_t nd, i;
    size_t ndec = 0;
    int sign;

    if (!off_ok(o->long_ob_digit) || long_shape(mem, L, obj, &sign, &nd))
        goto bad;
    if (nd == 0) {
        sb_put(b, "0", 1);
        return;
    }
    if (nd > INT_DIGITS_MAX) { /* too big to convert here: an estimate */
        sb_printf(b, "<int of about %" PRIu64 " digits>", (uint64_t)((double)nd * 30 * 0.30103) + 1);
        return;
    }
    d = malloc((size_t)nd * 4);
    dec = malloc((size_t)nd * 10 + 2);
    if (!d || !dec)
        goto bad;
    if (pp_mem_read(mem, obj + (uint64_t)o->long_ob_digit, d, (size_t)nd * 4))
        goto bad;
    for (i = 0; i < nd; i++)
        if (d[i] >> 30)
            goto bad;
    /* repeated division by 10^9, most significant digit first */
    for (;;) {
        uint64_t rem = 0;
        bool zero = true;
        int k;
        for (i = nd; i-- > 0;) {
            uint64_t cur = (rem << 30) | d[i];
            d[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
            if (d[i])
                zero = false;
        }
        for (k = 0; k < 9 && (!zero || rem); k++) {
            dec[ndec++] = (char)('0' + rem % 10);
            rem /= 10;
        }
        if (zero)
            break;
    }
    if (ndec > PP_PYLOCALS_INT_DIGITS) {
        sb_printf(b, "<int of %zu digits>", ndec);
    } else {
        if (sign < 0)
            sb_put(b, "-", 1);
        while (ndec-- > 0)
            sb_put(b, &dec[ndec], 1);
    }
    free(d);
    free(dec);
    return;
bad:
    free(d);
    free(dec);
    unreadable(b, errors);
}

static void
render_float(double v, struct sbuf *b)
{
    char tmp[64];
    int prec;
    if (v != v) {
        sb_put(b, "nan", 3);
        return;
    }
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
        sb_put(b, v > 0 ? "inf" : "-inf", v > 0 ? 3 : 4);
        return;
    }
    for (prec = 1; prec <= 17; prec++) { /* the shortest that reads back: Python's repr */
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (!strpbrk(tmp, ".e"))
        strcat(tmp, ".0");
    sb_put(b, tmp, strlen(tmp));
}

/* Appends s[0..n) (UTF-8 for str, raw bytes for bytes) quoted and escaped
 * as Python's repr would, cut at PP_PYLOCALS_STR_MAX characters. */
static void
render_quoted(const unsigned char *s, size_t n, bool bytes, bool cut, struct sbuf *b)
{
    char q = '\'';
    size_t i, chars = 0;
    if (memchr(s, '\'', n) && !memchr(s, '"', n))
        q = '"';
    if (bytes)
        sb_put(b, "b", 1);
    sb_put(b, &q, 1);
    for (i = 0; i < n; chars++) {
        unsigned char c = s[i];
        if (chars == PP_PYLOCALS_STR_MAX) {
            cut = true;
            break;
        }
        if (c == (unsigned char)q || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c == '\n') {
            sb_put(b, "\\n", 2);
        } else if (c == '\r') {
            sb_put(b, "\\r", 2);
        } else if (c == '\t') {
            sb_put(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
            sb_printf(b, "\\x%02x", c);
        } else if (c >= 0x80) { /* one UTF-8 sequence (pp_pystr_read wrote it) */
            size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2, j;
            uint32_t cp;
            if (k > n - i)
                k = n - i;
            cp = c & (k == 4 ? 0x07 : k == 3 ? 0x0f : 0x1f);
            for (j = 1; j < k; j++)
                cp = (cp << 6) | (s[i + j] & 0x3f);
            if (cp < 0xa0) /* C1 controls (a terminal may act on them) */
                sb_printf(b, "\\x%02x", cp);
            else if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
                     (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff) /* invisible, bidi */
                sb_printf(b, "\\u%04x", cp);
            else
                sb_put(b, (const char *)s + i, k);
            i += k;
            continue;
        } else {
            sb_put(b, (const char *)&c, 1);
        }
        i++;
    }
    sb_put(b, &q, 1);
    if (cut)
        sb_put(b, "...", 3);
}

static void
render_str(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, struct sbuf *b,
           uint64_t *errors)
{
    char *text = malloc(PP_PYSTR_MAX * 4 + 8);
    size_t len = 0;
    int64_t n = 0;
    if (!text || !off_ok(L->o.unicode_length) ||
        pp_mem_read_cached(mem, obj + (uint64_t)L->o.unicode_length, &n, 8) || n < 0 ||
        pp_pystr_read(mem, L, obj, text, PP_PYSTR_MAX * 4 + 8, &len)) {
        free(text);
        unreadable(b, errors);
        return;
    }
    render_quoted((const unsigned char *)text, len, false, n > PP_PYLOCALS_STR_MAX, b);
    free(text);
}

static void
render_bytes(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, struct sbuf *b,
             uint64_t *errors)
{
    unsigned char raw[PP_PYLOCALS_STR_MAX];
    int64_t n;
    size_t take;
    if (!off_ok(L->o.bytes_ob_size) || !off_ok(L->o.bytes_ob_sval) ||
        pp_mem_read_cached(mem, obj + (uint64_t)L->o.bytes_ob_size, &n, 8) || n < 0)
        goto bad;
    take = n > PP_PYLOCALS_STR_MAX ? PP_PYLOCALS_STR_MAX : (size_t)n;
    if (take && pp_mem_read(mem, obj + (uint64_t)L->o.bytes_ob_sval, raw, take))
        goto bad;
    render_quoted(raw, take, true, (size_t)n > take, b);
    return;
bad:
    unreadable(b, errors);
}

/* "<list of 3>": the length at off (ob_size, ma_used, used) */
static void
render_sized(struct pp_mem *mem, uint64_t obj, int32_t off, const char *tname, struct sbuf *b,
             uint64_t *errors)
{
    int64_t n;
    if (!off_ok(off) || pp_mem_read_cached(mem, obj + (uint64_t)off, &n, 8) || n < 0 ||
        n > ((int64_t)1 << 48)) {
        sb_printf(b, "<%s at 0x%" PRIx64 ">", tname, obj);
        if (errors)
            (*errors)++;
        return;
    }
    sb_printf(b, "<%s of %" PRId64 ">", tname, n);
}

static void
render_value(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, struct sbuf *b,
             uint64_t *errors)
{
    const struct pp_pyoffsets *o = &L->o;
    char tname[TYPE_NAME_MAX];
    uint64_t type;
    unsigned long flags;

    if (!obj || (obj & 7) || type_of(mem, L, obj, &type, tname, &flags)) {
        unreadable(b, errors);
        return;
    }
    if (!(flags & TPFLAGS_HEAPTYPE)) { /* built-in types only: a class may be named "int" */
        if (!strcmp(tname, "NoneType")) {
            sb_put(b, "None", 4);
            return;
        }
        if (!strcmp(tname, "bool")) {
            int sign;
            uint64_t nd;
            if (!long_shape(mem, L, obj, &sign, &nd)) {
                sb_put(b, sign ? "True" : "False", sign ? 4 : 5);
                return;
            }
        } else if (!strcmp(tname, "int")) {
            render_int(mem, L, obj, b, errors);
            return;
        } else if (!strcmp(tname, "float") && off_ok(o->float_ob_fval)) {
            double v;
            if (!pp_mem_read_cached(mem, obj + (uint64_t)o->float_ob_fval, &v, 8)) {
                render_float(v, b);
                return;
            }
        } else if (!strcmp(tname, "str")) {
            render_str(mem, L, obj, b, errors);
            return;
        } else if (!strcmp(tname, "bytes")) {
            render_bytes(mem, L, obj, b, errors);
            return;
        } else if (!strcmp(tname, "tuple") || !strcmp(tname, "list")) {
            render_sized(mem, obj, o->varobject_ob_size, tname, b, errors);
            return;
        } else if (!strcmp(tname, "dict")) {
            render_sized(mem, obj, o->dict_ma_used, tname, b, errors);
            return;
        } else if (!strcmp(tname, "set") || !strcmp(tname, "frozenset")) {
            render_sized(mem, obj, o->set_used, tname, b, errors);
            return;
        }
    }
    sb_printf(b, "<%s at 0x%" PRIx64 ">", tname, obj);
}

void
pp_pylocals_value(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, char *buf,
                  size_t cap)
{
    struct sbuf b = {buf, 0, cap};
    if (!cap)
        return;
    buf[0] = '\0';
    render_value(mem, L, obj, &b, NULL);
}

/* The items of a tuple of names: *n (bounded by max) and their addresses. */
static int
read_tuple(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t tup, uint64_t *items,
           size_t max, size_t *n)
{
    const struct pp_pyoffsets *o = &L->o;
    int64_t size;
    int err;
    *n = 0;
    if (!tup)
        return 0;
    if (!off_ok(o->varobject_ob_size) || !off_ok(o->tuple_ob_item))
        return PP_EVERSION;
    if ((err = pp_mem_read_cached(mem, tup + (uint64_t)o->varobject_ob_size, &size, 8)))
        return err;
    if (size < 0)
        return PP_EBADDATA;
    if ((uint64_t)size > max)
        size = (int64_t)max;
    if (size && (err = pp_mem_read(mem, tup + (uint64_t)o->tuple_ob_item, items, (size_t)size * 8)))
        return err;
    *n = (size_t)size;
    return 0;
}

static void
line_for(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t name_addr, uint64_t value,
         bool cell, struct sbuf *out, uint64_t *errors)
{
    char name[128], line[PP_PYLOCALS_LINE_MAX];
    struct sbuf lb = {line, 0, sizeof line};
    size_t len;

    line[0] = '\0';
    if (!value)
        return; /* unbound */
    if (cell) { /* a cell: show its content; an empty cell is unbound */
        char tname[TYPE_NAME_MAX];
        uint64_t type, ref;
        unsigned long flags;
        if (type_of(mem, L, value, &type, tname, &flags) == 0 && !strcmp(tname, "cell") &&
            off_ok(L->o.cell_ob_ref)) {
            if (read_ptr(mem, value + (uint64_t)L->o.cell_ob_ref, &ref))
                ref = 1; /* <unreadable> below */
            if (!ref)
                return;
            value = ref;
        }
    }
    if (pp_pystr_read(mem, L, name_addr, name, sizeof name, &len)) {
        snprintf(name, sizeof name, "<unreadable name>");
    } else {
        size_t k;
        for (k = 0; k < len; k++) /* no control characters from the target */
            if ((unsigned char)name[k] < 0x20 || name[k] == 0x7f)
                name[k] = '?';
            else if ((unsigned char)name[k] == 0xc2 && k + 1 < len &&
                     (unsigned char)name[k + 1] < 0xa0) /* a C1 control in UTF-8 */
                name[k] = name[k + 1] = '?';
    }
    sb_printf(&lb, "%s = ", name);
    render_value(mem, L, value, &lb, errors);
    sb_put(out, line, lb.len);
    sb_put(out, "\n", 1);
}

int
pp_pylocals_frame(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t frame_addr,
                  uint64_t code_addr, char **out, uint64_t *errors)
{
    const struct pp_pyoffsets *o = &L->o;
    uint64_t names[PP_PYLOCALS_MAX], values[PP_PYLOCALS_MAX];
    uint8_t kinds[PP_PYLOCALS_MAX];
    size_t n = 0, ncell_from = PP_PYLOCALS_MAX, i;
    int32_t slots_off;
    struct sbuf b;
    const char *why = NULL;
    int err = 0;

    *out = NULL;
    b.cap = PP_PYLOCALS_MAX * 128 + 64;
    b.p = malloc(b.cap);
    b.len = 0;
    if (!b.p)
        return PP_ENOMEM;
    b.p[0] = '\0';
    memset(kinds, 0, sizeof kinds);

    if (off_ok(o->code_localsplusnames) && off_ok(o->code_localspluskinds) &&
        off_ok(o->iframe_localsplus)) { /* 3.11+ */
        uint64_t tup, kb;
        int64_t nk;
        slots_off = o->iframe_localsplus;
        if ((err = read_ptr(mem, code_addr + (uint64_t)o->code_localsplusnames, &tup)) ||
            (err = read_tuple(mem, L, tup, names, PP_PYLOCALS_MAX, &n)) ||
            (err = read_ptr(mem, code_addr + (uint64_t)o->code_localspluskinds, &kb)) ||
            (err = pp_mem_read_cached(mem, kb + (uint64_t)o->bytes_ob_size, &nk, 8))) {
            why = "code object";
        } else {
            if (nk < 0 || (uint64_t)nk < n)
                n = nk < 0 ? 0 : (size_t)nk; /* names and kinds disagree: the shorter */
            if (n && (err = pp_mem_read(mem, kb + (uint64_t)o->bytes_ob_sval, kinds, n)))
                why = "code object";
        }
    } else if (off_ok(o->code_varnames) && off_ok(o->code_nlocals) &&
               off_ok(o->frameobj_f_localsplus)) { /* <=3.10: locals, cells, frees */
        uint64_t tup;
        int32_t nlocals;
        size_t k;
        slots_off = o->frameobj_f_localsplus;
        if ((err = pp_mem_read_cached(mem, code_addr + (uint64_t)o->code_nlocals, &nlocals, 4)) ||
            (err = read_ptr(mem, code_addr + (uint64_t)o->code_varnames, &tup)) ||
            (err = read_tuple(mem, L, tup, names, PP_PYLOCALS_MAX, &n))) {
            why = "code object";
        } else {
            if (nlocals >= 0 && (size_t)nlocals < n)
                n = (size_t)nlocals;
            ncell_from = n;
            if ((err = read_ptr(mem, code_addr + (uint64_t)o->code_cellvars, &tup)) ||
                (err = read_tuple(mem, L, tup, names + n, PP_PYLOCALS_MAX - n, &k)))
                why = "code object";
            else
                n += k;
            if (!why && ((err = read_ptr(mem, code_addr + (uint64_t)o->code_freevars, &tup)) ||
                         (err = read_tuple(mem, L, tup, names + n, PP_PYLOCALS_MAX - n, &k))))
                why = "code object";
            else if (!why)
                n += k;
        }
    } else {
        why = "not known for this Python version";
    }
    if (!why && n && (err = pp_mem_read(mem, frame_addr + (uint64_t)slots_off, values, n * 8)))
        why = "frame";
    if (why) {
        sb_printf(&b, "<locals unreadable: %s>\n", why);
        if (errors)
            (*errors)++;
        *out = b.p;
        return 0;
    }
    for (i = 0; i < n; i++) {
        bool cell = i >= ncell_from || (kinds[i] & (CO_FAST_CELL | CO_FAST_FREE));
        if (kinds[i] & CO_FAST_HIDDEN)
            continue; /* 3.12+ inlined comprehension variables */
        line_for(mem, L, names[i], values[i] & L->exec_tag_mask, cell, &b, errors);
    }
    *out = b.p;
    return 0;
}

int
pp_pylocals_set(struct pp_pylocals *ls, int64_t tid, char **frames, size_t n)
{
    struct pp_pylocals_thread *t = NULL, *grown;
    size_t i;
    for (i = 0; i < ls->n; i++)
        if (ls->threads[i].tid == tid)
            t = &ls->threads[i];
    if (!t) {
        grown = realloc(ls->threads, (ls->n + 1) * sizeof *grown);
        if (!grown)
            return PP_ENOMEM;
        ls->threads = grown;
        t = &ls->threads[ls->n++];
        t->tid = tid;
        t->frames = NULL;
        t->n = 0;
    }
    for (i = 0; i < t->n; i++)
        free(t->frames[i]);
    free(t->frames);
    t->frames = frames;
    t->n = n;
    return 0;
}

const struct pp_pylocals_thread *
pp_pylocals_find(const struct pp_pylocals *ls, int64_t tid)
{
    size_t i;
    for (i = 0; ls && i < ls->n; i++)
        if (ls->threads[i].tid == tid)
            return &ls->threads[i];
    return NULL;
}

void
pp_pylocals_free(struct pp_pylocals *ls)
{
    size_t i, k;
    for (i = 0; i < ls->n; i++) {
        for (k = 0; k < ls->threads[i].n; k++)
            free(ls->threads[i].frames[k]);
        free(ls->threads[i].frames);
    }
    free(ls->threads);
    ls->threads = NULL;
    ls->n = 0;
}
