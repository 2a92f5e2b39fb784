/*
 * mem_snap.c -- snapshot memory backend and the recorder that makes
 * snapshots (layer L1).
 *
 * A snapshot is a set of captured regions of a target's memory.  Replaying
 * one through the same pp_mem interface lets the decoders run on fixtures
 * and fuzz inputs exactly as they run on a live process.  A read must lie
 * wholly inside one region, else it is PP_EFAULT, as for unmapped memory.
 *
 * File format (little-endian):
 *   "PPSNAP01"
 *   u32 meta_len, meta_len bytes of text (free-form "key=value" lines)
 *   { u64 addr, u64 len, len bytes }*   sorted by addr, non-overlapping
 *   u64 0, u64 0
 * The parser treats the buffer as hostile: every length is bounds-checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "util.h"

#define SNAP_MAGIC "PPSNAP01"
#define SNAP_MAX_REGION (64u << 20)

struct region {
    uint64_t addr;
    uint64_t len;
    uint8_t *data;
};

/* ==== replay ==== */

struct mem_snap {
    struct pp_mem base;
    struct region *regions;
    size_t n;
    char *meta;
};

static int
snap_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    struct mem_snap *s = (struct mem_snap *)m;
    size_t lo = 0, hi = s->n;

    /* last region with r.addr <= addr */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->regions[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return PP_EFAULT;
    {
        const struct region *r = &s->regions[lo - 1];
        uint64_t off = addr - r->addr;
        if (off > r->len || len > r->len - off)
            return PP_EFAULT;
        memcpy(buf, r->data + off, len);
    }
    return 0;
}

static void
snap_destroy(struct pp_mem *m)
{
    struct mem_snap *s = (struct mem_snap *)m;
    size_t i;
    for (i = 0; i < s->n; i++)
        free(s->regions[i].data);
    free(s->regions);
    free(s->meta);
    free(s);
}

static const struct pp_mem_ops snap_ops = {snap_read, NULL, snap_destroy};

static int
take(const uint8_t **p, const uint8_t *end, void *out, size_t n)
{
    if ((size_t)(end - *p) < n)
        return PP_EBADDATA;
    memcpy(out, *p, n);
    *p += n;
    return 0;
}

int
pp_mem_snap_from_buffer(const void *buf, size_t len, struct pp_mem **out)
{
    const uint8_t *p = buf, *end = p + len;
    struct mem_snap *s;
    uint32_t meta_len;
    uint64_t prev_end = 0;
    size_t cap = 0;
    int err = PP_EBADDATA;

    if (len < 8 || memcmp(p, SNAP_MAGIC, 8) != 0)
        return PP_EBADDATA;
    p += 8;
    s = calloc(1, sizeof(*s));
    if (!s)
        return PP_ENOMEM;
    s->base.ops = &snap_ops;
    if (take(&p, end, &meta_len, 4) || meta_len > (size_t)(end - p))
        goto fail;
    s->meta = malloc((size_t)meta_len + 1);
    if (!s->meta)
        goto nomem;
    memcpy(s->meta, p, meta_len);
    s->meta[meta_len] = '\0';
    p += meta_len;
    for (;;) {
        uint64_t addr, rlen;
        struct region *r;
        if (take(&p, end, &addr, 8) || take(&p, end, &rlen, 8))
            goto fail;
        if (addr == 0 && rlen == 0)
            break;
        if (rlen == 0 || rlen > SNAP_MAX_REGION || rlen > (uint64_t)(end - p) ||
            addr < prev_end || addr + rlen < addr)
            goto fail;
        if (s->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct region *nr = realloc(s->regions, ncap * sizeof(*nr));
            if (!nr)
                goto nomem;
            s->regions = nr;
            cap = ncap;
        }
        r = &s->regions[s->n];
        r->addr = addr;
        r->len = rlen;
        r->data = malloc((size_t)rlen);
        if (!r->data)
            goto nomem;
        memcpy(r->data, p, (size_t)rlen);
        s->n++;
        p += rlen;
        prev_end = addr + rlen;
    }
    *out = &s->base;
    return 0;
nomem:
    err = PP_ENOMEM;
fail:
    snap_destroy(&s->base);
    return err;
}

int
pp_mem_snap_load(const char *path, struct pp_mem **out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long sz;
    int err = PP_EIO;

    if (!f)
        return PP_EIO;
    if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        goto out;
    buf = malloc(sz ? (size_t)sz : 1);
    if (!buf) {
        err = PP_ENOMEM;
        goto out;
    }
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
        goto out;
    err = pp_mem_snap_from_buffer(buf, (size_t)sz, out);
out:
    free(buf);
    fclose(f);
    return err;
}

const char *
pp_mem_snap_meta(const struct pp_mem *m)
{
    if (!m || m->ops != &snap_ops)
        return NULL;
    return ((const struct mem_snap *)m)->meta;
}

/* ==== recorder ==== */

struct mem_rec {
    struct pp_mem base;
    struct pp_mem *inner;
    struct pp_vec regions; /* struct region */
};

static int
rec_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    struct mem_rec *r = (struct mem_rec *)m;
    struct region reg;
    int err = pp_mem_read(r->inner, addr, buf, len);

    if (err)
        return err;
    reg.addr = addr;
    reg.len = len;
    reg.data = malloc(len);
    if (!reg.data)
        return 0; /* recording is best effort; the read itself succeeded */
    memcpy(reg.data, buf, len);
    if (pp_vec_append(&r->regions, &reg))
        free(reg.data);
    return 0;
}

static void
rec_destroy(struct pp_mem *m)
{
    struct mem_rec *r = (struct mem_rec *)m;
    size_t i;
    for (i = 0; i < r->regions.len; i++)
        free(((struct region *)pp_vec_at(&r->regions, i))->data);
    pp_vec_free(&r->regions);
    free(r);
}

static const struct pp_mem_ops rec_ops = {rec_read, NULL, rec_destroy};

int
pp_mem_recorder_new(struct pp_mem *inner, struct pp_mem **out)
{
    struct mem_rec *r = calloc(1, sizeof(*r));
    if (!r)
        return PP_ENOMEM;
    r->base.ops = &rec_ops;
    r->inner = inner;
    pp_vec_init(&r->regions, sizeof(struct region));
    *out = &r->base;
    return 0;
}

static int
cmp_region(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Writes the recorded reads, merged into non-overlapping sorted regions;
 * where reads overlap, the later bytes win. */
int
pp_mem_recorder_save(struct pp_mem *m, const char *path, const char *meta)
{
    struct mem_rec *r = (struct mem_rec *)m;
    struct region *regs = r->regions.data;
    size_t n = r->regions.len, i = 0;
    uint32_t meta_len = meta ? (uint32_t)strlen(meta) : 0;
    static const uint64_t zero[2];
    FILE *f;
    int err = 0;

    /* stable order by address keeps "later wins" for equal starts only
     * approximately; regions read within one sample are identical anyway */
    qsort(regs, n, sizeof(*regs), cmp_region);
    f = fopen(path, "wb");
    if (!f)
        return PP_EOUTPUT;
    fwrite(SNAP_MAGIC, 1, 8, f);
    fwrite(&meta_len, 4, 1, f);
    fwrite(meta ? meta : "", 1, meta_len, f);
    while (i < n) {
        uint64_t start = regs[i].addr, end = regs[i].addr + regs[i].len;
        size_t j = i + 1, k;
        uint8_t *buf;
        while (j < n && regs[j].addr <= end) {
            if (regs[j].addr + regs[j].len > end)
                end = regs[j].addr + regs[j].len;
            j++;
        }
        buf = malloc((size_t)(end - start));
        if (!buf) {
            err = PP_ENOMEM;
            break;
        }
        for (k = i; k < j; k++)
            memcpy(buf + (regs[k].addr - start), regs[k].data, (size_t)regs[k].len);
        {
            uint64_t len = end - start;
            fwrite(&start, 8, 1, f);
            fwrite(&len, 8, 1, f);
            fwrite(buf, 1, (size_t)len, f);
        }
        free(buf);
        i = j;
    }
    fwrite(zero, 8, 2, f);
    if (fclose(f) != 0 && !err)
        err = PP_EOUTPUT;
    return err;
}
