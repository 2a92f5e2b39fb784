/*
 * mem.h -- the one interface through which every decoder reads the target
 * (layer L1).
 *
 * Backends: live (process_vm_readv on a PID, batched iovecs) and snapshot
 * (regions captured earlier and replayed from a file or buffer; used by
 * the unit tests, the fixtures and the fuzzers).  Both sit behind the same
 * vtable, and a small page cache sits in front of either: within one
 * sample, repeated small reads of the same page cost one syscall.  Call
 * pp_mem_cache_reset() at the start of each sample so stale data never
 * crosses samples.
 *
 * Addresses are remote: uint64_t, never pointers.  A read is all or
 * nothing: it returns 0 and fills the whole buffer, or a negative PP_E*
 * (PP_EFAULT for unmapped memory, PP_EGONE when the process is gone,
 * PP_EPERM when access is refused).
 */
#ifndef PP_MEM_H
#define PP_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pp_mem;

struct pp_mem_iov {
    uint64_t addr;
    void *buf;
    size_t len;
};

struct pp_mem_ops {
    /* Read len bytes at addr into buf; all or nothing. */
    int (*read)(struct pp_mem *m, uint64_t addr, void *buf, size_t len);
    /* Optional: many reads in one call.  Sets ok[i] per range; returns 0
     * only if every one succeeded. */
    int (*readv)(struct pp_mem *m, const struct pp_mem_iov *iov, size_t n, bool *ok);
    void (*destroy)(struct pp_mem *m);
};

#define PP_MEM_PAGE 4096u
#define PP_MEM_CACHE_PAGES 64u

struct pp_mem_page {
    uint64_t addr; /* page-aligned; 0 = empty slot */
    uint32_t gen;
    uint8_t data[PP_MEM_PAGE];
};

struct pp_mem {
    const struct pp_mem_ops *ops;
    /* statistics */
    uint64_t reads, bytes, cache_hits, failures;
    /* page cache, direct-mapped by page number */
    uint32_t gen;
    struct pp_mem_page *cache; /* PP_MEM_CACHE_PAGES entries, or NULL */
};

/* Live backend on pid.  *out is owned by the caller: pp_mem_free(). */
int pp_mem_live_new(int pid, struct pp_mem **out);

/* Snapshot backend (see mem_snap.c for the file format). */
int pp_mem_snap_load(const char *path, struct pp_mem **out);
int pp_mem_snap_from_buffer(const void *buf, size_t len, struct pp_mem **out);
/* The meta text a snapshot was saved with ("key=value" lines), or NULL
 * when m is not a snapshot.  Owned by m. */
const char *pp_mem_snap_meta(const struct pp_mem *m);

/*
 * Recording wrapper: forwards reads to inner and remembers every region
 * read, so a live sample can be saved as a snapshot fixture.
 */
int pp_mem_recorder_new(struct pp_mem *inner, struct pp_mem **out);
int pp_mem_recorder_save(struct pp_mem *rec, const char *path, const char *meta);

void pp_mem_free(struct pp_mem *m);

/* Uncached read (exact bytes now). */
int pp_mem_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len);
/* Read through the per-sample page cache: for small, repeated reads. */
int pp_mem_read_cached(struct pp_mem *m, uint64_t addr, void *buf, size_t len);
/* Many reads at once (one process_vm_readv on the live backend, plus one
 * more per failed range).  ok[i] (ok may be NULL) says which succeeded;
 * returns 0 when all did, else the first error. */
int pp_mem_readv(struct pp_mem *m, const struct pp_mem_iov *iov, size_t n, bool *ok);
int pp_mem_read_u64(struct pp_mem *m, uint64_t addr, uint64_t *out);
void pp_mem_cache_reset(struct pp_mem *m);
int pp_mem_cache_enable(struct pp_mem *m);

#endif
