/*
 * fuzz_linetable.c -- libFuzzer target for the three line-table decoders.
 * Input: 1 byte format selector, 4 bytes first line, 8 bytes offset, then
 * the table bytes.  The decoders must return a line in [0, INT_MAX] and
 * never read out of bounds (ASan) or overflow (UBSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t first;
    int64_t off;
    int line;
    const uint8_t *tab;
    size_t len;
    uint8_t *copy;

    if (size < 13)
        return 0;
    memcpy(&first, data + 1, 4);
    memcpy(&off, data + 5, 8);
    if (first < 0)
        first = -(first + 1);
    len = size - 13;
    copy = malloc(len ? len : 1); /* exact-size buffer so ASan sees overreads */
    memcpy(copy, data + 13, len);
    tab = copy;
    switch (data[0] % 3) {
    case 0:
        line = pp_linetable_lnotab(tab, len, first, off);
        break;
    case 1:
        line = pp_linetable_pep626(tab, len, first, off);
        break;
    default:
        line = pp_linetable_location(tab, len, first, off);
        break;
    }
    free(copy);
    if (line < 0)
        abort();
    return 0;
}
