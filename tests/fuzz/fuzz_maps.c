/*
 * fuzz_maps.c -- libFuzzer target for the /proc/PID/maps parser: any text
 * parses into sorted, well-formed mappings (start < end) or is skipped.
 */
#include <stdint.h>
#include <stdlib.h>

#include "maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pp_maps m;
    size_t i;

    if (pp_maps_parse((const char *)data, size, &m) != 0)
        return 0;
    for (i = 0; i < m.n; i++) {
        if (m.v[i].start >= m.v[i].end || !m.v[i].path)
            abort();
        (void)pp_maps_find(&m, m.v[i].start);
        (void)pp_maps_file_base(&m, m.v[i].path);
    }
    pp_maps_free(&m);
    return 0;
}
