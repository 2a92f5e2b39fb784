/*
 * util.h -- containers for the sampler (layer L0): a growable vector, an
 * open-addressing hash map from uint64_t keys to uint64_t values, and a
 * string table that interns byte strings to dense ids.
 *
 * All allocation failures are reported as PP_ENOMEM; nothing here aborts.
 */
#ifndef PP_UTIL_H
#define PP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ==== vector of fixed-size elements ==== */

struct pp_vec {
    void *data;
    size_t len, cap, elem;
};

void pp_vec_init(struct pp_vec *v, size_t elem);
void pp_vec_free(struct pp_vec *v);
/* Appends one zeroed element; *out points at it (valid until next push). */
int pp_vec_push(struct pp_vec *v, void **out);
int pp_vec_append(struct pp_vec *v, const void *elem);
static inline void *
pp_vec_at(const struct pp_vec *v, size_t i)
{
    return (char *)v->data + i * v->elem;
}

/* ==== hash map uint64 -> uint64 ==== */

struct pp_hmap {
    uint64_t *keys;
    uint64_t *vals;
    uint8_t *used;
    size_t cap, len;
};

void pp_hmap_init(struct pp_hmap *h);
void pp_hmap_free(struct pp_hmap *h);
void pp_hmap_clear(struct pp_hmap *h);
bool pp_hmap_get(const struct pp_hmap *h, uint64_t key, uint64_t *val);
int pp_hmap_put(struct pp_hmap *h, uint64_t key, uint64_t val);

uint64_t pp_hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t
pp_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ==== string table: interned strings with dense ids ==== */

struct pp_strtab {
    struct pp_vec strs;  /* char * (owned, NUL-terminated) */
    struct pp_vec lens;  /* size_t */
    uint32_t *slots;     /* open addressing: id + 1, 0 = empty */
    size_t cap;
};

void pp_strtab_init(struct pp_strtab *t);
void pp_strtab_free(struct pp_strtab *t);
/* Interns s[0..n) and returns its id in *id. */
int pp_strtab_intern(struct pp_strtab *t, const char *s, size_t n, uint32_t *id);
const char *pp_strtab_get(const struct pp_strtab *t, uint32_t id);
static inline size_t
pp_strtab_count(const struct pp_strtab *t)
{
    return t->strs.len;
}

/* ==== time ==== */

uint64_t pp_now_ns(void); /* CLOCK_MONOTONIC */
uint64_t pp_thread_cpu_ns(void); /* CLOCK_THREAD_CPUTIME_ID: this thread's CPU time */

#endif
