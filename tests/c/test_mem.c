/*
 * tests/c/test_mem.c -- the memory-reader interface (mem.h): the snapshot
 * backend and its parser, the per-sample page cache, batched reads, the
 * recorder round trip, and the live backend on ourselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "tap.h"

/* ==== building snapshot buffers ==== */

struct sbuf {
    uint8_t *p;
    size_t len, cap;
};

static void
sb_put(struct sbuf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void
sb_u32(struct sbuf *b, uint32_t v)
{
    sb_put(b, &v, 4);
}

static void
sb_u64(struct sbuf *b, uint64_t v)
{
    sb_put(b, &v, 8);
}

static void
sb_header(struct sbuf *b, const char *meta)
{
    memset(b, 0, sizeof *b);
    sb_put(b, "PPSNAP01", 8);
    sb_u32(b, (uint32_t)strlen(meta));
    sb_put(b, meta, strlen(meta));
}

/* Byte at remote address a in every region built here: recognisable and
 * different on every page. */
static uint8_t
pat(uint64_t a)
{
    return (uint8_t)(a * 131u + (a >> 12) * 7u + 1u);
}

static void
sb_region(struct sbuf *b, uint64_t addr, uint64_t len)
{
    uint64_t i;
    sb_u64(b, addr);
    sb_u64(b, len);
    for (i = 0; i < len; i++) {
        uint8_t c = pat(addr + i);
        sb_put(b, &c, 1);
    }
}

static void
sb_end(struct sbuf *b)
{
    sb_u64(b, 0);
    sb_u64(b, 0);
}

static int
pat_ok(const uint8_t *buf, uint64_t addr, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (buf[i] != pat(addr + i))
            return 0;
    return 1;
}

/* The layout used by most tests:
 *   A 0x10000 +100, B 0x10064 +50 (adjacent to A),
 *   C 0x20000 +0x3000 (three whole pages),
 *   D 0x30ff0 +0x20 (crosses a page boundary, not page-covering) */
#define A_ADDR 0x10000ULL
#define B_ADDR (A_ADDR + 100)
#define C_ADDR 0x20000ULL
#define C_LEN 0x3000ULL
#define D_ADDR 0x30ff0ULL

static struct sbuf
std_snapshot(void)
{
    struct sbuf b;
    sb_header(&b, "version_hex=0x030b07f0\nruntime_addr=0x10000\n");
    sb_region(&b, A_ADDR, 100);
    sb_region(&b, B_ADDR, 50);
    sb_region(&b, C_ADDR, C_LEN);
    sb_region(&b, D_ADDR, 0x20);
    sb_end(&b);
    return b;
}

/* ==== snapshot reads ==== */

static void
test_snap_reads(void)
{
    struct sbuf b = std_snapshot();
    struct pp_mem *m = NULL;
    uint8_t buf[0x4000];
    const char *meta;

    CHECK_EQ_INT(pp_mem_snap_from_buffer(b.p, b.len, &m), 0);
    free(b.p); /* the backend keeps its own copy */
    if (!m)
        return;
    meta = pp_mem_snap_meta(m);
    CHECK(meta && strcmp(meta, "version_hex=0x030b07f0\nruntime_addr=0x10000\n") == 0);

    /* inside */
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR, buf, 100), 0);
    CHECK(pat_ok(buf, A_ADDR, 100));
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR + 37, buf, 13), 0);
    CHECK(pat_ok(buf, A_ADDR + 37, 13));
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR + 99, buf, 1), 0);
    CHECK(pat_ok(buf, A_ADDR + 99, 1));
    CHECK_EQ_INT(pp_mem_read(m, B_ADDR, buf, 50), 0);
    CHECK(pat_ok(buf, B_ADDR, 50));
    CHECK_EQ_INT(pp_mem_read(m, C_ADDR + 0xff8, buf, 0x1010), 0);
    CHECK(pat_ok(buf, C_ADDR + 0xff8, 0x1010));
    CHECK_EQ_INT(pp_mem_read(m, C_ADDR, buf, C_LEN), 0);
    CHECK(pat_ok(buf, C_ADDR, C_LEN));
    CHECK_EQ_INT(pp_mem_read(m, D_ADDR, buf, 0x20), 0);
    CHECK(pat_ok(buf, D_ADDR, 0x20));

    /* outside and straddling: all or nothing */
    memset(buf, 0xee, 64);
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR - 1, buf, 1), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR - 1, buf, 2), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, 0x8000, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, B_ADDR + 50, buf, 1), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, B_ADDR + 45, buf, 6), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, A_ADDR + 96, buf, 8), PP_EFAULT); /* A into adjacent B */
    CHECK_EQ_INT(pp_mem_read(m, C_ADDR + C_LEN - 4, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, C_ADDR - 4, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, 0x25000, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, 0xffffffffffff0000ULL, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(m, UINT64_MAX - 3, buf, 8), PP_EFAULT); /* wraps */
    CHECK_EQ_INT(pp_mem_read(m, 0, buf, 8), PP_EFAULT);
    CHECK(buf[0] == 0xee && buf[7] == 0xee); /* failed reads left buf alone */
    CHECK_EQ_INT(pp_mem_read(m, 0x8000, buf, 0), 0); /* nothing to read */

    /* statistics */
    {
        uint64_t r = m->reads, f = m->failures, by = m->bytes;
        CHECK_EQ_INT(pp_mem_read(m, A_ADDR, buf, 10), 0);
        CHECK_EQ_INT(pp_mem_read(m, 0x8000, buf, 10), PP_EFAULT);
        CHECK_EQ_INT(m->reads, r + 2);
        CHECK_EQ_INT(m->failures, f + 1);
        CHECK_EQ_INT(m->bytes, by + 10);
    }
    /* u64 helper */
    {
        uint64_t v = 0, want;
        memcpy(&want, (uint8_t[8]){pat(C_ADDR + 8), pat(C_ADDR + 9), pat(C_ADDR + 10),
                                   pat(C_ADDR + 11), pat(C_ADDR + 12), pat(C_ADDR + 13),
                                   pat(C_ADDR + 14), pat(C_ADDR + 15)},
               8);
        CHECK_EQ_INT(pp_mem_read_u64(m, C_ADDR + 8, &v), 0);
        CHECK(v == want);
    }
    pp_mem_free(m);

    /* no regions at all */
    sb_header(&b, "");
    sb_end(&b);
    CHECK_EQ_INT(pp_mem_snap_from_buffer(b.p, b.len, &m), 0);
    if (m) {
        CHECK(pp_mem_snap_meta(m) && pp_mem_snap_meta(m)[0] == '\0');
        CHECK_EQ_INT(pp_mem_read(m, 0x1000, buf, 1), PP_EFAULT);
        pp_mem_free(m);
    }
    free(b.p);
}

/* ==== parser ==== */

static int
parse(const struct sbuf *b)
{
    struct pp_mem *m = NULL;
    int err = pp_mem_snap_from_buffer(b->p, b->len, &m);
    if (err == 0)
        pp_mem_free(m);
    return err;
}

static void
test_snap_parser(void)
{
    struct sbuf b, good = std_snapshot();
    size_t cut, bad = 0;

    CHECK_EQ_INT(parse(&good), 0);
    /* every truncation of a good snapshot is refused (ASan: the parser
     * reads an exact-size copy, so one byte too far is caught) */
    for (cut = 0; cut < good.len; cut++) {
        struct sbuf t;
        struct pp_mem *m = NULL;
        t.p = malloc(cut ? cut : 1);
        memcpy(t.p, good.p, cut);
        t.len = cut;
        if (pp_mem_snap_from_buffer(t.p, t.len, &m) == 0) {
            bad++;
            pp_mem_free(m);
        }
        free(t.p);
    }
    CHECK_EQ_INT(bad, 0);

    /* bad magic */
    b.p = malloc(good.len);
    memcpy(b.p, good.p, good.len);
    b.len = good.len;
    b.p[7] = '2';
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* meta longer than the file */
    sb_header(&b, "abc");
    memcpy(b.p + 8, &(uint32_t){0xfffffff0u}, 4);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* a region whose length runs past the end */
    sb_header(&b, "");
    sb_u64(&b, 0x1000);
    sb_u64(&b, 64);
    sb_put(&b, "0123456789", 10);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* oversized region (more than the backend allows), even if "present" */
    sb_header(&b, "");
    sb_u64(&b, 0x1000);
    sb_u64(&b, 1ULL << 40);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* zero-length region that is not the terminator */
    sb_header(&b, "");
    sb_u64(&b, 0x1000);
    sb_u64(&b, 0);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* overlapping regions */
    sb_header(&b, "");
    sb_region(&b, 0x1000, 0x100);
    sb_region(&b, 0x10ff, 0x10);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* unsorted regions */
    sb_header(&b, "");
    sb_region(&b, 0x2000, 0x10);
    sb_region(&b, 0x1000, 0x10);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* a region that wraps around the address space */
    sb_header(&b, "");
    sb_region(&b, UINT64_MAX - 7, 16);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* no terminator */
    sb_header(&b, "");
    sb_region(&b, 0x1000, 0x10);
    CHECK_EQ_INT(parse(&b), PP_EBADDATA);
    free(b.p);

    /* adjacent (touching) regions are fine */
    sb_header(&b, "");
    sb_region(&b, 0x1000, 0x10);
    sb_region(&b, 0x1010, 0x10);
    sb_end(&b);
    CHECK_EQ_INT(parse(&b), 0);
    free(b.p);

    /* random corruption: never a crash, and an accepted buffer reads
     * consistently */
    {
        uint32_t seed = 4242;
        int iter;
        for (iter = 0; iter < 3000; iter++) {
            uint8_t *c = malloc(good.len);
            struct pp_mem *m = NULL;
            int k;
            memcpy(c, good.p, good.len);
            for (k = 0; k < 1 + iter % 5; k++) {
                seed = seed * 1103515245u + 12345u;
                c[(seed >> 8) % good.len] ^= (uint8_t)(seed >> 3);
            }
            if (pp_mem_snap_from_buffer(c, good.len, &m) == 0) {
                uint8_t tmp[64];
                (void)pp_mem_read(m, A_ADDR, tmp, 64);
                (void)pp_mem_read(m, C_ADDR + 0x1000, tmp, 64);
                pp_mem_free(m);
            }
            free(c);
        }
    }
    free(good.p);
}

/* ==== page cache ==== */

/* A backend over a mutable local buffer, so stale cache pages show. */
struct mutable_mem {
    struct pp_mem base;
    uint64_t addr;
    uint8_t *data;
    size_t len;
    unsigned calls;
};

static int
mut_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    struct mutable_mem *u = (struct mutable_mem *)m;
    u->calls++;
    if (addr < u->addr || addr - u->addr > u->len || len > u->len - (addr - u->addr))
        return PP_EFAULT;
    memcpy(buf, u->data + (addr - u->addr), len);
    return 0;
}

static void
mut_destroy(struct pp_mem *m)
{
    struct mutable_mem *u = (struct mutable_mem *)m;
    free(u->data);
    free(u);
}

static const struct pp_mem_ops mut_ops = {.read = mut_read, .destroy = mut_destroy};

static struct mutable_mem *
mut_new(uint64_t addr, size_t len)
{
    struct mutable_mem *u = calloc(1, sizeof *u);
    size_t i;
    u->base.ops = &mut_ops;
    u->addr = addr;
    u->len = len;
    u->data = malloc(len);
    for (i = 0; i < len; i++)
        u->data[i] = pat(addr + i);
    return u;
}

static void
test_cache(void)
{
    /* 70 pages so two of them share a direct-mapped slot */
    const uint64_t base = 0x7f0000000000ULL;
    const size_t npages = 70;
    struct mutable_mem *u = mut_new(base, npages * PP_MEM_PAGE);
    struct pp_mem *m = &u->base;
    uint8_t buf[3 * PP_MEM_PAGE], tmp[16];
    unsigned calls;
    uint64_t hits;

    /* without a cache, cached reads are plain reads */
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 5, buf, 8), 0);
    CHECK(pat_ok(buf, base + 5, 8));
    CHECK_EQ_INT(pp_mem_cache_enable(m), 0);
    CHECK_EQ_INT(pp_mem_cache_enable(m), 0); /* twice is fine */

    /* across a page boundary */
    CHECK_EQ_INT(pp_mem_read_cached(m, base + PP_MEM_PAGE - 8, buf, 16), 0);
    CHECK(pat_ok(buf, base + PP_MEM_PAGE - 8, 16));
    /* again: served from the cache, no backend call */
    calls = u->calls;
    hits = m->cache_hits;
    CHECK_EQ_INT(pp_mem_read_cached(m, base + PP_MEM_PAGE - 4, buf, 8), 0);
    CHECK(pat_ok(buf, base + PP_MEM_PAGE - 4, 8));
    CHECK_EQ_INT(u->calls, calls);
    CHECK_EQ_INT(m->cache_hits, hits + 2);
    /* two whole pages, unaligned: three pages touched */
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 3 * PP_MEM_PAGE + 100, buf, 2 * PP_MEM_PAGE), 0);
    CHECK(pat_ok(buf, base + 3 * PP_MEM_PAGE + 100, 2 * PP_MEM_PAGE));
    /* bigger than two pages: bypasses the cache, still right */
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 10 * PP_MEM_PAGE + 1, buf, 3 * PP_MEM_PAGE - 2), 0);
    CHECK(pat_ok(buf, base + 10 * PP_MEM_PAGE + 1, 3 * PP_MEM_PAGE - 2));

    /* within one sample the cache may be stale; after a reset it is not */
    u->data[20] ^= 0xff;
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 16, tmp, 8), 0);
    CHECK(pat_ok(tmp, base + 16, 8)); /* cached old bytes */
    pp_mem_cache_reset(m);
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 16, tmp, 8), 0);
    {
        uint8_t want = pat(base + 20) ^ 0xff;
        CHECK_EQ_INT(tmp[4], want);
    }
    CHECK(pat_ok(tmp, base + 16, 4));
    u->data[20] ^= 0xff;

    /* two pages in the same slot (64 pages apart) evict each other */
    pp_mem_cache_reset(m);
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 2 * PP_MEM_PAGE + 8, tmp, 8), 0);
    CHECK(pat_ok(tmp, base + 2 * PP_MEM_PAGE + 8, 8));
    CHECK_EQ_INT(pp_mem_read_cached(m, base + (2 + PP_MEM_CACHE_PAGES) * PP_MEM_PAGE + 8, tmp, 8),
                 0);
    CHECK(pat_ok(tmp, base + (2 + PP_MEM_CACHE_PAGES) * PP_MEM_PAGE + 8, 8));
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 2 * PP_MEM_PAGE + 8, tmp, 8), 0);
    CHECK(pat_ok(tmp, base + 2 * PP_MEM_PAGE + 8, 8));

    /* generation wrap-around really clears the cache: a page cached at
     * generation 1 long ago must not look fresh when the counter wraps
     * back to 1 */
    m->gen = 1;
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 40, tmp, 8), 0);
    CHECK(pat_ok(tmp, base + 40, 8));
    u->data[40] ^= 0x55;
    m->gen = UINT32_MAX;
    pp_mem_cache_reset(m); /* wraps */
    CHECK(m->gen != 0);
    CHECK_EQ_INT(pp_mem_read_cached(m, base + 40, tmp, 8), 0);
    {
        uint8_t want = pat(base + 40) ^ 0x55;
        CHECK_EQ_INT(tmp[0], want);
    }
    u->data[40] ^= 0x55;

    /* errors: the last page is partly outside the backend; exact reads
     * inside it still work, reads past it fail */
    pp_mem_cache_reset(m);
    u->len -= 100; /* the last page is now short */
    CHECK_EQ_INT(pp_mem_read_cached(m, base + u->len - 8, tmp, 8), 0);
    CHECK(pat_ok(tmp, base + u->len - 8, 8));
    CHECK_EQ_INT(pp_mem_read_cached(m, base + u->len - 4, tmp, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read_cached(m, base - 8, tmp, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read_cached(m, base - 4, tmp, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read_cached(m, 0, tmp, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read_cached(m, UINT64_MAX - 3, tmp, 8), PP_EFAULT);
    pp_mem_free(m);

    /* the cache in front of the snapshot backend, whose regions need not
     * cover whole pages */
    {
        struct sbuf b = std_snapshot();
        struct pp_mem *s = NULL;
        CHECK_EQ_INT(pp_mem_snap_from_buffer(b.p, b.len, &s), 0);
        free(b.p);
        if (s) {
            CHECK_EQ_INT(pp_mem_cache_enable(s), 0);
            CHECK_EQ_INT(pp_mem_read_cached(s, C_ADDR + 0xffc, tmp, 8), 0);
            CHECK(pat_ok(tmp, C_ADDR + 0xffc, 8));
            CHECK_EQ_INT(pp_mem_read_cached(s, D_ADDR + 8, tmp, 16), 0); /* crosses a page */
            CHECK(pat_ok(tmp, D_ADDR + 8, 16));
            CHECK_EQ_INT(pp_mem_read_cached(s, A_ADDR + 10, tmp, 16), 0);
            CHECK(pat_ok(tmp, A_ADDR + 10, 16));
            CHECK_EQ_INT(pp_mem_read_cached(s, A_ADDR + 96, tmp, 8), PP_EFAULT);
            CHECK_EQ_INT(pp_mem_read_cached(s, D_ADDR + 0x1c, tmp, 8), PP_EFAULT);
            pp_mem_free(s);
        }
    }
}

/* ==== batched reads ==== */

static void
test_readv(void)
{
    struct sbuf b = std_snapshot();
    struct pp_mem *m = NULL;
    uint8_t b1[16], b2[16], b3[16];
    bool ok[3];

    CHECK_EQ_INT(pp_mem_snap_from_buffer(b.p, b.len, &m), 0);
    free(b.p);
    if (!m)
        return;
    {
        struct pp_mem_iov iov[3] = {
            {A_ADDR + 4, b1, 16}, {C_ADDR + 0x1ff8, b2, 16}, {D_ADDR, b3, 16}};
        CHECK_EQ_INT(pp_mem_readv(m, iov, 3, ok), 0);
        CHECK(ok[0] && ok[1] && ok[2]);
        CHECK(pat_ok(b1, A_ADDR + 4, 16) && pat_ok(b2, C_ADDR + 0x1ff8, 16) &&
              pat_ok(b3, D_ADDR, 16));
    }
    {
        struct pp_mem_iov iov[3] = {{A_ADDR + 4, b1, 16}, {0x9000, b2, 16}, {D_ADDR, b3, 16}};
        memset(b3, 0, sizeof b3);
        CHECK_EQ_INT(pp_mem_readv(m, iov, 3, ok), PP_EFAULT);
        CHECK(ok[0] && !ok[1] && ok[2]);
        CHECK(pat_ok(b3, D_ADDR, 16));
        CHECK_EQ_INT(pp_mem_readv(m, iov, 3, NULL), PP_EFAULT);
        CHECK_EQ_INT(pp_mem_readv(m, iov, 0, NULL), 0);
    }
    pp_mem_free(m);
}

/* ==== recorder ==== */

static void
test_recorder(void)
{
    struct sbuf b = std_snapshot();
    struct pp_mem *inner = NULL, *rec = NULL, *back = NULL;
    char path[256];
    uint8_t buf[0x3000], buf2[0x3000];
    static const struct {
        uint64_t addr;
        size_t len;
    } reads[] = {
        {A_ADDR, 40},          /* overlapping pair: merged */
        {A_ADDR + 16, 40},
        {A_ADDR + 56, 24},     /* touching the previous one */
        {B_ADDR + 10, 8},      /* separate */
        {C_ADDR + 0xff0, 0x20},
        {C_ADDR + 0xff0, 0x20}, /* the same read twice */
        {C_ADDR + 0x2000, 0x1000},
        {D_ADDR, 0x20},
    };
    size_t i;

    CHECK_EQ_INT(pp_mem_snap_from_buffer(b.p, b.len, &inner), 0);
    free(b.p);
    if (!inner)
        return;
    CHECK_EQ_INT(pp_mem_recorder_new(inner, &rec), 0);
    for (i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        CHECK_EQ_INT(pp_mem_read(rec, reads[i].addr, buf, reads[i].len), 0);
        CHECK(pat_ok(buf, reads[i].addr, reads[i].len));
    }
    /* failures pass through and are not recorded */
    CHECK_EQ_INT(pp_mem_read(rec, 0x9000, buf, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_read(rec, A_ADDR + 96, buf, 8), PP_EFAULT);

    snprintf(path, sizeof path, "%s/pyprof-test-rec-%d.snap",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    CHECK_EQ_INT(pp_mem_recorder_save(rec, path, "version_hex=0x030c01f0\nruntime_addr=0x10\n"),
                 0);
    CHECK_EQ_INT(pp_mem_snap_load(path, &back), 0);
    unlink(path);
    if (back) {
        const char *meta = pp_mem_snap_meta(back);
        CHECK(meta && strcmp(meta, "version_hex=0x030c01f0\nruntime_addr=0x10\n") == 0);
        for (i = 0; i < sizeof reads / sizeof reads[0]; i++) {
            memset(buf2, 0, reads[i].len);
            CHECK_EQ_INT(pp_mem_read(back, reads[i].addr, buf2, reads[i].len), 0);
            CHECK(pat_ok(buf2, reads[i].addr, reads[i].len));
        }
        /* merged: one read across the overlapping and touching reads */
        CHECK_EQ_INT(pp_mem_read(back, A_ADDR, buf2, 80), 0);
        CHECK(pat_ok(buf2, A_ADDR, 80));
        /* only what was read is there */
        CHECK_EQ_INT(pp_mem_read(back, A_ADDR + 80, buf2, 1), PP_EFAULT);
        CHECK_EQ_INT(pp_mem_read(back, B_ADDR, buf2, 1), PP_EFAULT);
        CHECK_EQ_INT(pp_mem_read(back, C_ADDR, buf2, 1), PP_EFAULT);
        CHECK_EQ_INT(pp_mem_read(back, C_ADDR + 0x1000, buf2, 0x1000), PP_EFAULT);
        CHECK_EQ_INT(pp_mem_read(back, 0x9000, buf2, 8), PP_EFAULT);
        CHECK(pp_mem_snap_meta(rec) == NULL); /* a recorder is not a snapshot */
        pp_mem_free(back);
    }
    /* a path that cannot be written */
    CHECK_EQ_INT(pp_mem_recorder_save(rec, "/nonexistent-dir/x.snap", ""), PP_EOUTPUT);
    pp_mem_free(rec);
    pp_mem_free(inner);

    /* loading: missing file, garbage file */
    CHECK(pp_mem_snap_load("/nonexistent-dir/x.snap", &back) != 0);
    snprintf(path, sizeof path, "%s/pyprof-test-garbage-%d.snap",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    {
        FILE *f = fopen(path, "wb");
        if (f) {
            fputs("PPSNAP01 not really", f);
            fclose(f);
        }
        CHECK_EQ_INT(pp_mem_snap_load(path, &back), PP_EBADDATA);
        unlink(path);
    }
}

/* ==== live backend, on ourselves ==== */

static void
test_live_self(void)
{
    struct pp_mem *m = NULL;
    static uint8_t src[10000];
    uint8_t dst[10000];
    size_t i;

    for (i = 0; i < sizeof src; i++)
        src[i] = pat(i);
    CHECK_EQ_INT(pp_mem_live_new(getpid(), &m), 0);
    if (!m)
        return;
    CHECK_EQ_INT(pp_mem_read(m, (uint64_t)(uintptr_t)src, dst, sizeof src), 0);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    CHECK_EQ_INT(pp_mem_read(m, 0x1000, dst, 8), PP_EFAULT);
    CHECK_EQ_INT(pp_mem_cache_enable(m), 0);
    CHECK_EQ_INT(pp_mem_read_cached(m, (uint64_t)(uintptr_t)src + 4090, dst, 16), 0);
    CHECK(memcmp(src + 4090, dst, 16) == 0);
    pp_mem_free(m);
}

int
main(void)
{
    test_snap_reads();
    test_snap_parser();
    test_cache();
    test_readv();
    test_recorder();
    test_live_self();
    TEST_DONE();
}
