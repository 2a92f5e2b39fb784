/*
 * linetable.c -- line-table decoders for every CPython format we support
 * (layer L3).  See linetable.h.  The formats are described in
 * docs/architecture.md and in CPython's Objects/lnotab_notes.txt (3.10) and
 * InternalDocs/code_objects.md (3.11+).
 */
#include "linetable.h"

int
pp_linetable_lnotab(const uint8_t *tab, size_t len, int firstlineno, int64_t byte_off)
{
    int64_t addr = 0, line = firstlineno;
    size_t i;

    if (byte_off < 0)
        return firstlineno;
    for (i = 0; i + 1 < len; i += 2) {
        addr += tab[i];
        if (addr > byte_off)
            break;
        line += (int8_t)tab[i + 1];
    }
    return line < 0 || line > 0x7fffffff ? 0 : (int)line;
}

int
pp_linetable_pep626(const uint8_t *tab, size_t len, int firstlineno, int64_t byte_off)
{
    int64_t start = 0, line = firstlineno;
    size_t i;

    if (byte_off < 0)
        return firstlineno;
    for (i = 0; i + 1 < len; i += 2) {
        int64_t end = start + tab[i];
        int8_t delta = (int8_t)tab[i + 1];
        if (delta != -128)
            line += delta;
        if (byte_off >= start && byte_off < end)
            return delta == -128 || line < 0 || line > 0x7fffffff ? 0 : (int)line;
        start = end;
    }
    return 0;
}

/* 6-bit little-endian groups, bit 6 = continuation. */
static int
read_varint(const uint8_t *tab, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        uint8_t b;
        if (*i >= len || shift > 60)
            return -1;
        b = tab[(*i)++];
        v |= (uint64_t)(b & 0x3f) << shift;
        shift += 6;
        if (!(b & 0x40))
            break;
    }
    *out = v;
    return 0;
}

static int
read_svarint(const uint8_t *tab, size_t len, size_t *i, int64_t *out)
{
    uint64_t u;
    if (read_varint(tab, len, i, &u) || (u >> 1) > 0x7fffffff)
        return -1; /* truncated, or no real line delta: keeps line in range */
    *out = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
    return 0;
}

int
pp_linetable_location(const uint8_t *tab, size_t len, int firstlineno, int64_t unit)
{
    int64_t addr = 0, line = firstlineno;
    size_t i = 0;

    if (unit < 0)
        return firstlineno;
    while (i < len) {
        uint8_t first = tab[i++];
        int code, length;
        int has_line = 1;
        int64_t delta = 0;
        uint64_t skip;

        if (!(first & 0x80))
            return 0; /* lost sync: not an entry start */
        code = (first >> 3) & 15;
        length = (first & 7) + 1;
        if (code <= 9) {
            i += 1;
        } else if (code <= 12) {
            delta = code - 10;
            i += 2;
        } else if (code == 13) {
            if (read_svarint(tab, len, &i, &delta))
                return 0;
        } else if (code == 14) {
            if (read_svarint(tab, len, &i, &delta) || read_varint(tab, len, &i, &skip) ||
                read_varint(tab, len, &i, &skip) || read_varint(tab, len, &i, &skip))
                return 0;
        } else {
            has_line = 0; /* 15: no location */
        }
        line += delta;
        if (unit >= addr && unit < addr + length) {
            if (!has_line || line < 0 || line > 0x7fffffff)
                return 0;
            return (int)line;
        }
        addr += length;
    }
    return 0;
}
