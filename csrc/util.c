/*
 * util.c -- vector, hash map, string table, clock (layer L0).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "util.h"

/* ==== vector ==== */

void
pp_vec_init(struct pp_vec *v, size_t elem)
{
    memset(v, 0, sizeof(*v));
    v->elem = elem;
}

void
pp_vec_free(struct pp_vec *v)
{
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

int
pp_vec_push(struct pp_vec *v, void **out)
{
    if (v->len == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 16;
        void *nd = realloc(v->data, ncap * v->elem);
        if (!nd)
            return PP_ENOMEM;
        v->data = nd;
        v->cap = ncap;
    }
    *out = pp_vec_at(v, v->len++);
    memset(*out, 0, v->elem);
    return 0;
}

int
pp_vec_append(struct pp_vec *v, const void *elem)
{
    void *slot;
    int err = pp_vec_push(v, &slot);
    if (err)
        return err;
    memcpy(slot, elem, v->elem);
    return 0;
}

/* ==== hash map ==== */

void
pp_hmap_init(struct pp_hmap *h)
{
    memset(h, 0, sizeof(*h));
}

void
pp_hmap_free(struct pp_hmap *h)
{
    free(h->keys);
    free(h->vals);
    free(h->used);
    memset(h, 0, sizeof(*h));
}

void
pp_hmap_clear(struct pp_hmap *h)
{
    if (h->used)
        memset(h->used, 0, h->cap);
    h->len = 0;
}

static size_t
hmap_find(const struct pp_hmap *h, uint64_t key)
{
    size_t mask = h->cap - 1;
    size_t i = pp_hash_u64(key) & mask;
    while (h->used[i] && h->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

bool
pp_hmap_get(const struct pp_hmap *h, uint64_t key, uint64_t *val)
{
    size_t i;
    if (!h->cap)
        return false;
    i = hmap_find(h, key);
    if (!h->used[i])
        return false;
    if (val)
        *val = h->vals[i];
    return true;
}

static int
hmap_grow(struct pp_hmap *h)
{
    struct pp_hmap n;
    size_t i;

    n.cap = h->cap ? h->cap * 2 : 64;
    n.len = 0;
    n.keys = malloc(n.cap * sizeof(uint64_t));
    n.vals = malloc(n.cap * sizeof(uint64_t));
    n.used = calloc(n.cap, 1);
    if (!n.keys || !n.vals || !n.used) {
        free(n.keys);
        free(n.vals);
        free(n.used);
        return PP_ENOMEM;
    }
    for (i = 0; i < h->cap; i++) {
        if (h->used[i]) {
            size_t j = hmap_find(&n, h->keys[i]);
            n.used[j] = 1;
            n.keys[j] = h->keys[i];
            n.vals[j] = h->vals[i];
            n.len++;
        }
    }
    pp_hmap_free(h);
    *h = n;
    return 0;
}

int
pp_hmap_put(struct pp_hmap *h, uint64_t key, uint64_t val)
{
    size_t i;
    if ((h->len + 1) * 4 >= h->cap * 3) {
        int err = hmap_grow(h);
        if (err)
            return err;
    }
    i = hmap_find(h, key);
    if (!h->used[i]) {
        h->used[i] = 1;
        h->keys[i] = key;
        h->len++;
    }
    h->vals[i] = val;
    return 0;
}

uint64_t
pp_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return pp_hash_u64(h);
}

/* ==== string table ==== */

void
pp_strtab_init(struct pp_strtab *t)
{
    pp_vec_init(&t->strs, sizeof(char *));
    pp_vec_init(&t->lens, sizeof(size_t));
    t->slots = NULL;
    t->cap = 0;
}

void
pp_strtab_free(struct pp_strtab *t)
{
    size_t i;
    for (i = 0; i < t->strs.len; i++)
        free(*(char **)pp_vec_at(&t->strs, i));
    pp_vec_free(&t->strs);
    pp_vec_free(&t->lens);
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
}

static size_t
strtab_slot(const struct pp_strtab *t, const char *s, size_t n, bool *found)
{
    size_t mask = t->cap - 1;
    size_t i = pp_hash_bytes(s, n, 0) & mask;
    for (;;) {
        uint32_t v = t->slots[i];
        if (!v) {
            *found = false;
            return i;
        }
        if (*(size_t *)pp_vec_at(&t->lens, v - 1) == n &&
            memcmp(*(char **)pp_vec_at(&t->strs, v - 1), s, n) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int
strtab_grow(struct pp_strtab *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 256, i;
    uint32_t *ns = calloc(ncap, sizeof(uint32_t));
    if (!ns)
        return PP_ENOMEM;
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    for (i = 0; i < t->strs.len; i++) {
        bool found;
        const char *s = *(char **)pp_vec_at(&t->strs, i);
        size_t n = *(size_t *)pp_vec_at(&t->lens, i);
        t->slots[strtab_slot(t, s, n, &found)] = (uint32_t)i + 1;
    }
    return 0;
}

int
pp_strtab_intern(struct pp_strtab *t, const char *s, size_t n, uint32_t *id)
{
    bool found;
    size_t slot;
    char *copy;
    int err;

    if ((t->strs.len + 1) * 2 >= t->cap && (err = strtab_grow(t)))
        return err;
    slot = strtab_slot(t, s, n, &found);
    if (found) {
        *id = t->slots[slot] - 1;
        return 0;
    }
    copy = malloc(n + 1);
    if (!copy)
        return PP_ENOMEM;
    memcpy(copy, s, n);
    copy[n] = '\0';
    if ((err = pp_vec_append(&t->strs, &copy)) || (err = pp_vec_append(&t->lens, &n))) {
        free(copy);
        return err;
    }
    *id = (uint32_t)(t->strs.len - 1);
    t->slots[slot] = *id + 1;
    return 0;
}

const char *
pp_strtab_get(const struct pp_strtab *t, uint32_t id)
{
    if (id >= t->strs.len)
        return "";
    return *(char **)pp_vec_at(&t->strs, id);
}

uint64_t
pp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t
pp_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
