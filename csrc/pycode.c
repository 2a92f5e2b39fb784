/*
 * pycode.c -- read code objects, strings and bytes from a target CPython
 * (layer L3).  Every size read from the target is capped before use.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "linetable.h"
#include "pycode.h"

#define CODE_HEADER_MAX 512

void
pp_pycode_init(struct pp_pycode *c, struct pp_strtab *strs)
{
    memset(c, 0, sizeof(*c));
    pp_hmap_init(&c->by_addr);
    pp_hmap_init(&c->seen);
    pp_vec_init(&c->infos, sizeof(struct pp_pycode_info));
    pp_vec_init(&c->free_slots, sizeof(size_t));
    c->strs = strs;
}

/* The byte range [lo, lo+len) of a code object compared as fingerprint. */
void
pp_pycode_fp_range(const struct pp_pylayout *L, int32_t *lo, size_t *len)
{
    const struct pp_pyoffsets *o = &L->o;
    int32_t f[] = {o->code_firstlineno, o->code_filename, o->code_name, o->code_qualname,
                   o->code_linetable};
    int32_t a = INT32_MAX, b = 0;
    size_t i;
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i] < 0)
            continue;
        if (f[i] < a)
            a = f[i];
        if (f[i] + 8 > b)
            b = f[i] + 8;
    }
    if (b - a > PP_CODE_FP_MAX)
        b = a + PP_CODE_FP_MAX;
    *lo = a;
    *len = (size_t)(b - a);
}

void
pp_pycode_free(struct pp_pycode *c)
{
    pp_hmap_free(&c->seen);
    size_t i;
    for (i = 0; i < c->infos.len; i++)
        free(((struct pp_pycode_info *)pp_vec_at(&c->infos, i))->linetable);
    pp_vec_free(&c->infos);
    pp_vec_free(&c->free_slots);
    pp_hmap_free(&c->by_addr);
}

/* ==== strings ==== */

static size_t
put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp >= 0xd800 && cp < 0xe000)
        cp = 0xfffd; /* lone surrogate */
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp > 0x10ffff)
        cp = 0xfffd;
    if (cp < 0x10000)
        return put_utf8(out, cp);
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int
pp_pystr_read(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t str_addr, char *buf,
              size_t cap, size_t *len)
{
    const struct pp_pyoffsets *o = &L->o;
    uint8_t hdr[128];
    uint8_t raw[PP_PYSTR_MAX * 4];
    int64_t n;
    uint32_t state;
    unsigned kind;
    uint64_t data_addr;
    size_t out = 0, i, hdr_len = (size_t)o->unicode_compact_size;
    int err;

    if (cap < 8 || hdr_len > sizeof(hdr))
        return PP_EINTERNAL;
    err = pp_mem_read_cached(mem, str_addr, hdr, hdr_len);
    if (err)
        return err;
    memcpy(&n, hdr + o->unicode_length, 8);
    memcpy(&state, hdr + o->unicode_state, 4);
    kind = (state >> 2) & 7;
    if (n < 0 || (kind != 1 && kind != 2 && kind != 4))
        return PP_EBADDATA;
    if (n > PP_PYSTR_MAX)
        n = PP_PYSTR_MAX;
    if (state & 0x20) { /* compact */
        data_addr = str_addr + (uint64_t)((state & 0x40) ? o->unicode_ascii_size
                                                          : o->unicode_compact_size);
    } else {
        if (o->unicode_data < 0 || (size_t)o->unicode_data + 8 > sizeof(hdr))
            return PP_EBADDATA;
        err = pp_mem_read_cached(mem, str_addr + (uint64_t)o->unicode_data, &data_addr, 8);
        if (err)
            return err;
    }
    err = pp_mem_read_cached(mem, data_addr, raw, (size_t)n * kind);
    if (err)
        return err;
    for (i = 0; i < (size_t)n; i++) {
        uint32_t cp;
        char tmp[4];
        size_t k;
        if (kind == 1)
            cp = raw[i];
        else if (kind == 2)
            cp = (uint32_t)raw[2 * i] | ((uint32_t)raw[2 * i + 1] << 8);
        else
            memcpy(&cp, raw + 4 * i, 4);
        k = put_utf8(tmp, cp);
        if (out + k + 1 > cap)
            break;
        memcpy(buf + out, tmp, k);
        out += k;
    }
    buf[out] = '\0';
    *len = out;
    return 0;
}

static int
read_bytes(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t addr, uint8_t **out,
           size_t *len)
{
    int64_t n;
    uint8_t *b;
    int err = pp_mem_read_cached(mem, addr + (uint64_t)L->o.bytes_ob_size, &n, 8);
    if (err)
        return err;
    if (n < 0)
        return PP_EBADDATA;
    if (n > PP_LINETABLE_MAX)
        n = PP_LINETABLE_MAX;
    b = malloc(n ? (size_t)n : 1);
    if (!b)
        return PP_ENOMEM;
    err = pp_mem_read(mem, addr + (uint64_t)L->o.bytes_ob_sval, b, (size_t)n);
    if (err) {
        free(b);
        return err;
    }
    *out = b;
    *len = (size_t)n;
    return 0;
}

/* ==== code objects ==== */

static uint64_t
get_ptr(const uint8_t *hdr, int32_t off)
{
    uint64_t v;
    memcpy(&v, hdr + off, 8);
    return v;
}

static int
intern_str(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
           uint64_t addr, uint32_t *id)
{
    char buf[PP_PYSTR_MAX * 4 + 1];
    size_t len;
    int err = pp_pystr_read(mem, L, addr, buf, sizeof(buf), &len);
    if (err)
        return err;
    return pp_strtab_intern(c->strs, buf, len, id);
}

/* The object's type must be PyCode_Type: learnt from the first object
 * whose type is named "code", then compared by address. */
static int
check_code_type(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
                uint64_t type_addr)
{
    uint64_t name_addr;
    char name[8];
    int err;

    if (c->code_type_addr)
        return type_addr == c->code_type_addr ? 0 : PP_EBADDATA;
    if (!type_addr || (type_addr & 7))
        return PP_EBADDATA;
    err = pp_mem_read_cached(mem, type_addr + (uint64_t)L->o.type_tp_name, &name_addr, 8);
    if (!err)
        err = pp_mem_read_cached(mem, name_addr, name, 5);
    if (err)
        return err;
    if (memcmp(name, "code", 5) != 0)
        return PP_EBADDATA;
    c->code_type_addr = type_addr;
    return 0;
}

static int
read_code(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
          uint64_t code_addr, struct pp_pycode_info *info)
{
    const struct pp_pyoffsets *o = &L->o;
    uint8_t hdr[CODE_HEADER_MAX];
    int32_t first;
    size_t hdr_len = (size_t)o->code_size;
    int err;

    if (hdr_len > sizeof(hdr) || hdr_len < 64)
        return PP_EINTERNAL;
    err = pp_mem_read(mem, code_addr, hdr, hdr_len);
    if (err)
        return err;
    memset(info, 0, sizeof(*info));
    info->code_addr = code_addr;
    {
        int32_t lo;
        size_t fplen;
        pp_pycode_fp_range(L, &lo, &fplen);
        memcpy(info->fp, hdr + lo, fplen);
    }
    err = check_code_type(c, mem, L, get_ptr(hdr, o->object_ob_type));
    if (err)
        return err;
    if (o->code_firsttraceable >= 0) {
        int32_t ft;
        memcpy(&ft, hdr + o->code_firsttraceable, 4);
        if (ft < 0 || ft > (1 << 24))
            return PP_EBADDATA;
        info->firsttraceable = ft;
    }
    memcpy(&first, hdr + o->code_firstlineno, 4);
    if (first < 0)
        return PP_EBADDATA;
    info->firstlineno = first;
    err = intern_str(c, mem, L, get_ptr(hdr, L->has_qualname ? o->code_qualname : o->code_name),
                     &info->name_id);
    if (!err)
        err = intern_str(c, mem, L, get_ptr(hdr, o->code_filename), &info->file_id);
    if (err)
        return err;
    info->code_bytes = -1;
    if (o->code_code_adaptive >= 0) {
        int64_t units;
        memcpy(&units, hdr + o->varobject_ob_size, 8); /* PyVarObject: code units */
        if (units >= 0 && units < (1 << 24))
            info->code_bytes = units * 2;
    } else if (o->code_code >= 0) {
        int64_t n;
        if (pp_mem_read_cached(mem, get_ptr(hdr, o->code_code) + (uint64_t)o->bytes_ob_size,
                               &n, 8) == 0 && n >= 0 && n < (1 << 26))
            info->code_bytes = n;
    }
    err = read_bytes(mem, L, get_ptr(hdr, o->code_linetable), &info->linetable,
                     &info->linetable_len);
    if (err) { /* a frame without a line is still worth showing */
        info->linetable = NULL;
        info->linetable_len = 0;
    }
    return 0;
}

int
pp_pycode_get(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
              uint64_t code_addr, const struct pp_pycode_info **out)
{
    uint64_t idx;
    struct pp_pycode_info info, *slot;
    int err;

    c->lookups++;
    if (pp_hmap_get(&c->by_addr, code_addr, &idx) && idx) {
        *out = pp_vec_at(&c->infos, idx - 1);
        return 0;
    }
    c->misses++;
    if (code_addr == 0 || (code_addr & 7))
        return PP_EBADDATA;
    err = read_code(c, mem, L, code_addr, &info);
    if (err)
        return err;
    info.checked_ns = c->now_ns;
    if (c->free_slots.len) { /* a forgotten entry's place */
        size_t i = *(size_t *)pp_vec_at(&c->free_slots, --c->free_slots.len);
        slot = pp_vec_at(&c->infos, i);
        *slot = info;
        err = pp_hmap_put(&c->by_addr, code_addr, i + 1);
        if (err)
            return err;
        *out = slot;
        return 0;
    }
    /* full (or its index full of forgotten addresses): start over */
    if (c->infos.len >= PP_CODE_CACHE_MAX || c->by_addr.len >= 2 * (size_t)PP_CODE_CACHE_MAX) {
        size_t i;
        for (i = 0; i < c->infos.len; i++)
            free(((struct pp_pycode_info *)pp_vec_at(&c->infos, i))->linetable);
        c->infos.len = 0;
        c->free_slots.len = 0;
        pp_hmap_clear(&c->by_addr);
        pp_hmap_clear(&c->seen);
        c->flushes++;
    }
    err = pp_vec_append(&c->infos, &info);
    if (err) {
        free(info.linetable);
        return err;
    }
    slot = pp_vec_at(&c->infos, c->infos.len - 1);
    err = pp_hmap_put(&c->by_addr, code_addr, c->infos.len);
    if (err)
        return err;
    *out = slot;
    return 0;
}

int
pp_pycode_validate(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
                   const uint64_t *addrs, size_t n)
{
    static uint8_t bufs[PP_VALIDATE_MAX][PP_CODE_FP_MAX];
    static struct pp_mem_iov iov[PP_VALIDATE_MAX]; /* single-threaded sampler */
    static uint64_t which[PP_VALIDATE_MAX];
    static bool ok[PP_VALIDATE_MAX];
    size_t i, k = 0, fplen;
    int32_t lo;
    int err;

    pp_pycode_fp_range(L, &lo, &fplen);
    for (i = 0; i < n && k < PP_VALIDATE_MAX; i++) {
        uint64_t idx;
        if (!pp_hmap_get(&c->by_addr, addrs[i], &idx) || !idx ||
            pp_hmap_get(&c->seen, addrs[i], NULL))
            continue;
        if (c->now_ns - ((struct pp_pycode_info *)pp_vec_at(&c->infos, idx - 1))->checked_ns <
            PP_CODE_RECHECK_NS)
            continue;
        if ((err = pp_hmap_put(&c->seen, addrs[i], 1)))
            return err;
        iov[k].addr = addrs[i] + (uint64_t)lo;
        iov[k].buf = bufs[k];
        iov[k].len = fplen;
        which[k] = idx - 1;
        k++;
    }
    if (k == 0)
        return 0;
    pp_mem_readv(mem, iov, k, ok);
    for (i = 0; i < k; i++) {
        struct pp_pycode_info *info = pp_vec_at(&c->infos, which[i]);
        if (!ok[i] || memcmp(info->fp, bufs[i], fplen) != 0) {
            c->stale++;
            pp_pycode_forget(c, info->code_addr);
        } else {
            info->checked_ns = c->now_ns;
        }
    }
    return 0;
}

bool
pp_pycode_due(const struct pp_pycode *c, uint64_t code_addr)
{
    uint64_t idx;
    if (!pp_hmap_get(&c->by_addr, code_addr, &idx) || !idx)
        return false;
    return c->now_ns - ((const struct pp_pycode_info *)pp_vec_at(&c->infos, idx - 1))->checked_ns >=
           PP_CODE_RECHECK_NS;
}

void
pp_pycode_begin_sample(struct pp_pycode *c)
{
    if (c->seen.len)
        pp_hmap_clear(&c->seen);
}

void
pp_pycode_check_fp(struct pp_pycode *c, const struct pp_pylayout *L, uint64_t code_addr,
                   const uint8_t *bytes)
{
    uint64_t idx;
    int32_t lo;
    size_t fplen;

    if (!pp_hmap_get(&c->by_addr, code_addr, &idx) || !idx)
        return;
    pp_pycode_fp_range(L, &lo, &fplen);
    if (memcmp(((struct pp_pycode_info *)pp_vec_at(&c->infos, idx - 1))->fp, bytes, fplen) !=
        0) {
        c->stale++;
        pp_pycode_forget(c, code_addr);
        return;
    }
    ((struct pp_pycode_info *)pp_vec_at(&c->infos, idx - 1))->checked_ns = c->now_ns;
    pp_hmap_put(&c->seen, code_addr, 1);
}

void
pp_pycode_forget(struct pp_pycode *c, uint64_t code_addr)
{
    uint64_t idx;
    if (pp_hmap_get(&c->by_addr, code_addr, &idx) && idx) {
        struct pp_pycode_info *info = pp_vec_at(&c->infos, idx - 1);
        size_t i = (size_t)(idx - 1);
        free(info->linetable);
        info->linetable = NULL;
        info->linetable_len = 0;
        pp_hmap_put(&c->by_addr, code_addr, 0);
        (void)pp_vec_append(&c->free_slots, &i); /* no room: the slot stays unused */
    }
}

int
pp_pycode_line(const struct pp_pylayout *L, const struct pp_pycode_info *info, int64_t offset)
{
    switch (L->linetable) {
    case PP_LINETABLE_LNOTAB:
        return pp_linetable_lnotab(info->linetable, info->linetable_len, info->firstlineno,
                                   offset);
    case PP_LINETABLE_PEP626:
        return pp_linetable_pep626(info->linetable, info->linetable_len, info->firstlineno,
                                   offset);
    case PP_LINETABLE_LOCATION:
        return pp_linetable_location(info->linetable, info->linetable_len, info->firstlineno,
                                     offset);
    }
    return 0;
}
