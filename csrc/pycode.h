/*
 * pycode.h -- code objects and strings of a target CPython (layer L3).
 *
 * A code object is read once and cached by its remote address: interned
 * qualname/name and filename ids (in the caller's string table), first
 * line, the line table's bytes and the bytecode length.  Repeated frames
 * cost a hash lookup.  An address can be reused after a code object dies:
 * an instruction offset outside the cached bytecode length marks the entry
 * stale and it is read again.
 */
#ifndef PP_PYCODE_H
#define PP_PYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "py/layout.h"
#include "util.h"

#define PP_PYSTR_MAX 1024      /* code points kept of a name */
#define PP_LINETABLE_MAX 65536 /* bytes of line table read */
#define PP_CODE_FP_MAX 128     /* bytes of a code object kept as its fingerprint */
#define PP_VALIDATE_MAX 512    /* distinct code objects re-checked per call */
/* A cached code object is re-verified against the target at most this
 * often; in between, only the instruction-in-range check guards it, so a
 * code object dying and another taking its address can be misnamed for
 * at most this long. */
#define PP_CODE_RECHECK_NS (10ULL * 1000000ULL)

struct pp_pycode_info {
    uint64_t code_addr;
    uint32_t name_id, file_id;
    int firstlineno;
    int firsttraceable; /* code units; 3.11+, else 0 */
    int64_t code_bytes; /* bytecode length in bytes, -1 unknown */
    uint8_t *linetable;
    size_t linetable_len;
    /* fingerprint: the code object's bytes from co_firstlineno to the end
     * of its name/filename/linetable pointers, as first read */
    uint8_t fp[PP_CODE_FP_MAX];
    uint64_t checked_ns; /* last time the fingerprint was verified */
};

/* Code objects cached at once.  A forgotten (stale) entry's slot is
 * reused; a cache that fills up is emptied and refilled by the next
 * samples.  ~200 bytes per entry plus its line table. */
#define PP_CODE_CACHE_MAX 65536

struct pp_pycode {
    struct pp_hmap by_addr; /* code_addr -> index + 1 in infos */
    struct pp_vec infos;    /* struct pp_pycode_info */
    struct pp_vec free_slots; /* size_t: indexes of forgotten entries */
    uint64_t flushes;         /* times the full cache was emptied */
    struct pp_strtab *strs;
    uint64_t code_type_addr; /* PyCode_Type in the target, once seen */
    struct pp_hmap seen;     /* scratch for pp_pycode_validate */
    uint64_t now_ns;         /* time of the current tick (set by the walker) */
    uint64_t lookups, misses, stale;
};

void pp_pycode_init(struct pp_pycode *c, struct pp_strtab *strs);
void pp_pycode_free(struct pp_pycode *c);

/* Reads (or finds cached) the code object at code_addr.  *out stays valid
 * until the next call.  Hot path. */
int pp_pycode_get(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
                  uint64_t code_addr, const struct pp_pycode_info **out);
/*
 * Code addresses are reused once a code object dies (a module body after
 * import, say), so a cache keyed by address alone would name frames after
 * the dead object.  This re-reads the fingerprint of every distinct cached
 * code object among addrs in ONE batched read and drops the entries whose
 * bytes changed.  Hot path: call once per thread sample, before naming.
 */
int pp_pycode_validate(struct pp_pycode *c, struct pp_mem *mem, const struct pp_pylayout *L,
                       const uint64_t *addrs, size_t n);
/* True when code_addr is cached and due for a fingerprint re-check. */
bool pp_pycode_due(const struct pp_pycode *c, uint64_t code_addr);
/* Starts a thread sample: forgets which code objects were checked. */
void pp_pycode_begin_sample(struct pp_pycode *c);
/* Checks a fingerprint read ahead of time (bytes at code_addr + lo, see
 * pp_pycode_fp_range); drops the entry if it changed.  Marks code_addr
 * checked, so pp_pycode_validate skips it in this sample. */
void pp_pycode_check_fp(struct pp_pycode *c, const struct pp_pylayout *L, uint64_t code_addr,
                        const uint8_t *bytes);
void pp_pycode_fp_range(const struct pp_pylayout *L, int32_t *lo, size_t *len);
/* Drops a cached entry (used when it proved stale). */
void pp_pycode_forget(struct pp_pycode *c, uint64_t code_addr);

/* Line for an instruction offset: byte offset for the lnotab and pep626
 * tables, code-unit index for the location table (the layout says which). */
int pp_pycode_line(const struct pp_pylayout *L, const struct pp_pycode_info *info,
                   int64_t offset);

/* Reads a str object as UTF-8 into buf (NUL-terminated), at most
 * PP_PYSTR_MAX code points.  *len gets the byte length. */
int pp_pystr_read(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t str_addr,
                  char *buf, size_t cap, size_t *len);

#endif
