/*
 * mem.c -- the memory-reader front end and its page cache (layer L1).
 *
 * Backends implement one op, read(); this file adds statistics and a small
 * direct-mapped page cache with a generation counter, so resetting it per
 * sample is O(1).  Reads larger than two pages bypass the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

void
pp_mem_free(struct pp_mem *m)
{
    if (!m)
        return;
    free(m->cache);
    m->cache = NULL;
    m->ops->destroy(m);
}

int
pp_mem_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    int err;
    if (len == 0)
        return 0;
    if (addr == 0 || addr + len < addr)
        return PP_EFAULT;
    m->reads++;
    err = m->ops->read(m, addr, buf, len);
    if (err)
        m->failures++;
    else
        m->bytes += len;
    return err;
}

int
pp_mem_cache_enable(struct pp_mem *m)
{
    if (m->cache)
        return 0;
    m->cache = calloc(PP_MEM_CACHE_PAGES, sizeof(*m->cache));
    if (!m->cache)
        return PP_ENOMEM;
    m->gen = 1;
    return 0;
}

void
pp_mem_cache_reset(struct pp_mem *m)
{
    m->gen++;
    if (m->gen == 0) { /* wrapped: really clear */
        if (m->cache)
            memset(m->cache, 0, PP_MEM_CACHE_PAGES * sizeof(*m->cache));
        m->gen = 1;
    }
}

static int
cached_page(struct pp_mem *m, uint64_t page, const uint8_t **data)
{
    struct pp_mem_page *p = &m->cache[(page / PP_MEM_PAGE) % PP_MEM_CACHE_PAGES];
    int err;

    if (p->addr == page && p->gen == m->gen) {
        m->cache_hits++;
        *data = p->data;
        return 0;
    }
    err = pp_mem_read(m, page, p->data, PP_MEM_PAGE);
    if (err) {
        p->addr = 0;
        return err;
    }
    p->addr = page;
    p->gen = m->gen;
    *data = p->data;
    return 0;
}

int
pp_mem_read_cached(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;

    if (!m->cache || len > 2 * PP_MEM_PAGE)
        return pp_mem_read(m, addr, buf, len);
    if (addr == 0 || addr + len < addr)
        return PP_EFAULT;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PP_MEM_PAGE - 1);
        size_t off = (size_t)(addr - page);
        size_t n = PP_MEM_PAGE - off;
        const uint8_t *data;
        int err;

        if (n > len)
            n = len;
        err = cached_page(m, page, &data);
        if (err)
            return pp_mem_read(m, addr, out, len); /* exact read decides */
        memcpy(out, data + off, n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

int
pp_mem_readv(struct pp_mem *m, const struct pp_mem_iov *iov, size_t n, bool *ok)
{
    bool local_ok[64];
    bool *okp = ok ? ok : (n <= 64 ? local_ok : NULL);
    size_t i;
    int first = 0;

    if (n == 0)
        return 0;
    if (m->ops->readv && okp) {
        int err;
        m->reads++;
        err = m->ops->readv(m, iov, n, okp);
        for (i = 0; i < n; i++) {
            if (okp[i])
                m->bytes += iov[i].len;
            else
                m->failures++;
        }
        return err;
    }
    for (i = 0; i < n; i++) {
        int err = pp_mem_read(m, iov[i].addr, iov[i].buf, iov[i].len);
        if (ok)
            ok[i] = err == 0;
        if (err && !first)
            first = err;
    }
    return first;
}

int
pp_mem_read_u64(struct pp_mem *m, uint64_t addr, uint64_t *out)
{
    return pp_mem_read_cached(m, addr, out, sizeof(*out));
}
