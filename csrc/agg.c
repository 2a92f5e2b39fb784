/*
 * agg.c -- interning and counting (layer L4).  See agg.h.
 *
 * Interning maps a 64-bit hash to an id and then compares the real key; on
 * a collision the next hash value is probed, so equal keys always get
 * equal ids and different keys never share one.
 */
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "err.h"

void
pp_agg_init(struct pp_agg *a, struct pp_strtab *strs)
{
    memset(a, 0, sizeof(*a));
    a->strs = strs;
    pp_vec_init(&a->frames, sizeof(struct pp_agg_frame));
    pp_vec_init(&a->stack_off, sizeof(uint32_t));
    pp_vec_init(&a->stack_len, sizeof(uint32_t));
    pp_vec_init(&a->stack_data, sizeof(uint32_t));
    pp_vec_init(&a->threads, sizeof(struct pp_agg_thread));
    pp_vec_init(&a->counts, sizeof(struct pp_agg_count));
    pp_vec_init(&a->samples, sizeof(struct pp_agg_sample));
    pp_hmap_init(&a->frame_ids);
    pp_hmap_init(&a->stack_ids);
    pp_hmap_init(&a->thread_ids);
    pp_hmap_init(&a->count_ids);
}

void
pp_agg_free(struct pp_agg *a)
{
    pp_vec_free(&a->frames);
    pp_vec_free(&a->stack_off);
    pp_vec_free(&a->stack_len);
    pp_vec_free(&a->stack_data);
    pp_vec_free(&a->threads);
    pp_vec_free(&a->counts);
    pp_vec_free(&a->samples);
    pp_hmap_free(&a->frame_ids);
    pp_hmap_free(&a->stack_ids);
    pp_hmap_free(&a->thread_ids);
    pp_hmap_free(&a->count_ids);
}

int
pp_agg_frame(struct pp_agg *a, enum pp_frame_kind kind, uint32_t name_id, uint32_t file_id,
             int line, uint32_t *id)
{
    struct pp_agg_frame f;
    uint64_t h, v;
    int err;

    memset(&f, 0, sizeof(f));
    f.kind = kind;
    f.name_id = name_id;
    f.file_id = file_id;
    f.line = line;
    h = pp_hash_bytes(&f, sizeof(f), 1);
    for (;; h++) {
        if (!pp_hmap_get(&a->frame_ids, h, &v))
            break;
        if (memcmp(pp_vec_at(&a->frames, v - 1), &f, sizeof(f)) == 0) {
            *id = (uint32_t)(v - 1);
            return 0;
        }
    }
    if ((err = pp_vec_append(&a->frames, &f)))
        return err;
    *id = (uint32_t)(a->frames.len - 1);
    return pp_hmap_put(&a->frame_ids, h, a->frames.len);
}

int
pp_agg_stack(struct pp_agg *a, const uint32_t *frames, size_t n, uint32_t *id)
{
    uint64_t h = pp_hash_bytes(frames, n * sizeof(uint32_t), 2), v;
    uint32_t off = (uint32_t)a->stack_data.len, len = (uint32_t)n;
    size_t i;
    int err;

    for (;; h++) {
        uint32_t sl;
        const uint32_t *sf;
        if (!pp_hmap_get(&a->stack_ids, h, &v))
            break;
        sf = pp_agg_stack_frames(a, (uint32_t)(v - 1), &sl);
        if (sl == n && memcmp(sf, frames, n * sizeof(uint32_t)) == 0) {
            *id = (uint32_t)(v - 1);
            return 0;
        }
    }
    for (i = 0; i < n; i++)
        if ((err = pp_vec_append(&a->stack_data, &frames[i])))
            return err;
    if ((err = pp_vec_append(&a->stack_off, &off)) || (err = pp_vec_append(&a->stack_len, &len)))
        return err;
    *id = (uint32_t)(a->stack_off.len - 1);
    return pp_hmap_put(&a->stack_ids, h, a->stack_off.len);
}

int
pp_agg_thread(struct pp_agg *a, int tid, const char *name, uint32_t *idx)
{
    uint64_t v;
    uint32_t name_id;
    int err = pp_strtab_intern(a->strs, name, strlen(name), &name_id);

    if (err)
        return err;
    if (pp_hmap_get(&a->thread_ids, (uint64_t)(uint32_t)tid, &v)) {
        struct pp_agg_thread *t = pp_vec_at(&a->threads, v - 1);
        t->name_id = name_id;
        *idx = (uint32_t)(v - 1);
        return 0;
    }
    {
        struct pp_agg_thread t = {tid, name_id};
        if ((err = pp_vec_append(&a->threads, &t)))
            return err;
    }
    *idx = (uint32_t)(a->threads.len - 1);
    return pp_hmap_put(&a->thread_ids, (uint64_t)(uint32_t)tid, a->threads.len);
}

int
pp_agg_add(struct pp_agg *a, uint32_t stack_id, uint32_t thread_idx, uint64_t t_ns)
{
    uint64_t key = ((uint64_t)stack_id << 24) ^ thread_idx, v;
    int err;

    if (pp_hmap_get(&a->count_ids, key, &v)) {
        ((struct pp_agg_count *)pp_vec_at(&a->counts, v - 1))->count++;
    } else {
        struct pp_agg_count c = {stack_id, thread_idx, 1};
        if ((err = pp_vec_append(&a->counts, &c)) ||
            (err = pp_hmap_put(&a->count_ids, key, a->counts.len)))
            return err;
    }
    a->total++;
    if (a->keep_timestamps) {
        struct pp_agg_sample s = {stack_id, thread_idx, t_ns};
        if ((err = pp_vec_append(&a->samples, &s)))
            return err;
    }
    return 0;
}

static int
add_count(struct pp_agg *a, uint32_t stack_id, uint32_t thread_idx, uint64_t n)
{
    uint64_t key = ((uint64_t)stack_id << 24) ^ thread_idx, v;
    int err;

    if (pp_hmap_get(&a->count_ids, key, &v)) {
        ((struct pp_agg_count *)pp_vec_at(&a->counts, v - 1))->count += n;
    } else {
        struct pp_agg_count c = {stack_id, thread_idx, n};
        if ((err = pp_vec_append(&a->counts, &c)) ||
            (err = pp_hmap_put(&a->count_ids, key, a->counts.len)))
            return err;
    }
    a->total += n;
    return 0;
}

int
pp_agg_add_n(struct pp_agg *a, uint32_t stack_id, uint32_t thread_idx, uint64_t t_ns, uint64_t n)
{
    int err;
    if (n == 0)
        return 0;
    if ((err = add_count(a, stack_id, thread_idx, n)))
        return err;
    if (a->keep_timestamps) {
        struct pp_agg_sample smp = {stack_id, thread_idx, t_ns};
        if ((err = pp_vec_append(&a->samples, &smp)))
            return err;
    }
    return 0;
}

#define REMAP_MAX 8192

int
pp_agg_remap(const struct pp_agg *src, struct pp_agg *dst, pp_agg_expand_fn expand, void *arg)
{
    uint32_t *map = NULL, *buf = NULL;
    size_t i;
    int err = PP_ENOMEM;

    dst->keep_timestamps = src->keep_timestamps;
    map = calloc(src->stack_len.len + 1, sizeof *map);
    buf = calloc(REMAP_MAX, sizeof *buf);
    if (!map || !buf)
        goto out;
    for (i = 0; i < src->threads.len; i++) {
        const struct pp_agg_thread *t = pp_vec_at(&src->threads, i);
        uint32_t idx;
        if ((err = pp_agg_thread(dst, t->tid, pp_strtab_get(src->strs, t->name_id), &idx)))
            goto out;
    }
    for (i = 0; i < src->stack_len.len; i++) {
        uint32_t len, j;
        const uint32_t *fr = pp_agg_stack_frames(src, (uint32_t)i, &len);
        size_t n = 0;
        for (j = 0; j < len && n < REMAP_MAX; j++) {
            size_t k = 0;
            if ((err = expand(arg, dst, pp_vec_at(&src->frames, fr[j]), buf + n, REMAP_MAX - n,
                              &k)))
                goto out;
            n += k;
        }
        if ((err = pp_agg_stack(dst, buf, n, &map[i])))
            goto out;
    }
    for (i = 0; i < src->counts.len; i++) {
        const struct pp_agg_count *c = pp_vec_at(&src->counts, i);
        if ((err = add_count(dst, map[c->stack_id], c->thread_idx, c->count)))
            goto out;
    }
    for (i = 0; i < src->samples.len; i++) {
        struct pp_agg_sample smp = *(const struct pp_agg_sample *)pp_vec_at(&src->samples, i);
        smp.stack_id = map[smp.stack_id];
        if ((err = pp_vec_append(&dst->samples, &smp)))
            goto out;
    }
    err = 0;
out:
    free(map);
    free(buf);
    return err;
}

int
pp_agg_append(struct pp_agg *dst, const struct pp_agg *src, uint32_t prefix)
{
    uint32_t *fmap = NULL, *smap = NULL, *tmap = NULL, *buf = NULL;
    size_t i;
    int err = PP_ENOMEM;

    fmap = calloc(src->frames.len + 1, sizeof *fmap);
    smap = calloc(src->stack_len.len + 1, sizeof *smap);
    tmap = calloc(src->threads.len + 1, sizeof *tmap);
    buf = calloc(REMAP_MAX + 1, sizeof *buf);
    if (!fmap || !smap || !tmap || !buf)
        goto out;
    for (i = 0; i < src->frames.len; i++) { /* strings may live in another table */
        const struct pp_agg_frame *f = pp_vec_at(&src->frames, i);
        const char *name = pp_strtab_get(src->strs, f->name_id);
        const char *file = pp_strtab_get(src->strs, f->file_id);
        uint32_t n, fl;
        if ((err = pp_strtab_intern(dst->strs, name, strlen(name), &n)) ||
            (err = pp_strtab_intern(dst->strs, file, strlen(file), &fl)) ||
            (err = pp_agg_frame(dst, (enum pp_frame_kind)f->kind, n, fl, f->line, &fmap[i])))
            goto out;
    }
    for (i = 0; i < src->threads.len; i++) {
        const struct pp_agg_thread *t = pp_vec_at(&src->threads, i);
        if ((err = pp_agg_thread(dst, t->tid, pp_strtab_get(src->strs, t->name_id), &tmap[i])))
            goto out;
    }
    for (i = 0; i < src->stack_len.len; i++) {
        uint32_t len, j, n = 0;
        const uint32_t *fr = pp_agg_stack_frames(src, (uint32_t)i, &len);
        if (prefix != UINT32_MAX)
            buf[n++] = prefix;
        for (j = 0; j < len && n < REMAP_MAX; j++)
            buf[n++] = fmap[fr[j]];
        if ((err = pp_agg_stack(dst, buf, n, &smap[i])))
            goto out;
    }
    for (i = 0; i < src->counts.len; i++) {
        const struct pp_agg_count *c = pp_vec_at(&src->counts, i);
        if ((err = add_count(dst, smap[c->stack_id], tmap[c->thread_idx], c->count)))
            goto out;
    }
    for (i = 0; i < src->samples.len; i++) {
        struct pp_agg_sample smp = *(const struct pp_agg_sample *)pp_vec_at(&src->samples, i);
        smp.stack_id = smap[smp.stack_id];
        smp.thread_idx = tmap[smp.thread_idx];
        if ((err = pp_vec_append(&dst->samples, &smp)))
            goto out;
    }
    err = 0;
out:
    free(fmap);
    free(smap);
    free(tmap);
    free(buf);
    return err;
}
