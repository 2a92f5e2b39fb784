/*
 * maps.c -- parse /proc/PID/maps (layer L1).  No remote memory is read.
 *
 * Line format: "start-end perms offset dev inode   path".  Every field is
 * parsed with explicit bounds; a line that does not fit is skipped, never
 * trusted half-way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "maps.h"

static bool
parse_hex(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end) {
        char c = **p;
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (digits++ >= 16)
            return false;
        v = v * 16 + (uint64_t)d;
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static bool
parse_dec(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (digits++ >= 19)
            return false;
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static bool
expect(const char **p, const char *end, char c)
{
    if (*p < end && **p == c) {
        (*p)++;
        return true;
    }
    return false;
}

static void
skip_spaces(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

static bool
parse_line(const char *p, const char *end, struct pp_map *m)
{
    uint64_t dummy;
    size_t plen;
    static const char deleted[] = " (deleted)";

    memset(m, 0, sizeof(*m));
    if (!parse_hex(&p, end, &m->start) || !expect(&p, end, '-') ||
        !parse_hex(&p, end, &m->end) || m->end <= m->start || !expect(&p, end, ' '))
        return false;
    if (end - p < 4)
        return false;
    m->r = p[0] == 'r';
    m->w = p[1] == 'w';
    m->x = p[2] == 'x';
    p += 4;
    if (!expect(&p, end, ' ') || !parse_hex(&p, end, &m->offset) || !expect(&p, end, ' '))
        return false;
    if (!parse_hex(&p, end, &dummy) || !expect(&p, end, ':') || !parse_hex(&p, end, &dummy) ||
        !expect(&p, end, ' ') || !parse_dec(&p, end, &m->inode))
        return false;
    skip_spaces(&p, end);
    plen = (size_t)(end - p);
    if (plen >= sizeof(deleted) - 1 &&
        memcmp(end - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0) {
        m->deleted = true;
        plen -= sizeof(deleted) - 1;
    }
    m->path = malloc(plen + 1);
    if (!m->path)
        return false;
    memcpy(m->path, p, plen);
    m->path[plen] = '\0';
    return true;
}

int
pp_maps_parse(const char *text, size_t len, struct pp_maps *out)
{
    const char *p = text, *end = text + len;
    size_t cap = 0;

    out->v = NULL;
    out->n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct pp_map m;
        if (parse_line(p, le, &m)) {
            if (out->n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct pp_map *nv = realloc(out->v, ncap * sizeof(*nv));
                if (!nv) {
                    free(m.path);
                    pp_maps_free(out);
                    return PP_ENOMEM;
                }
                out->v = nv;
                cap = ncap;
            }
            out->v[out->n++] = m;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int
pp_maps_read(int pid, struct pp_maps *out)
{
    char path[64];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f;
    int err;

    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? PP_ENOPROC : errno == EACCES ? PP_EPERM : PP_EIO;
    for (;;) {
        size_t n;
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap ? cap * 2 : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return PP_ENOMEM;
            }
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    err = pp_maps_parse(buf ? buf : "", len, out);
    free(buf);
    return err;
}

void
pp_maps_free(struct pp_maps *m)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        free(m->v[i].path);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

const struct pp_map *
pp_maps_find(const struct pp_maps *m, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].end <= addr)
            lo = mid + 1;
        else if (m->v[mid].start > addr)
            hi = mid;
        else
            return &m->v[mid];
    }
    return NULL;
}

const struct pp_map *
pp_maps_file_base(const struct pp_maps *m, const char *path)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        if (m->v[i].offset == 0 && strcmp(m->v[i].path, path) == 0)
            return &m->v[i];
    return NULL;
}
