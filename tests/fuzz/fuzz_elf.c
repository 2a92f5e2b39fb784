/*
 * fuzz_elf.c -- libFuzzer target for the ELF reader: a hostile file must
 * never make symbol or section look-ups read outside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pp_elf e;
    uint64_t value, sz;
    const uint8_t *sec;
    size_t seclen;
    uint8_t *copy = malloc(size ? size : 1);

    memcpy(copy, data, size);
    if (pp_elf_from_buffer(copy, size, &e) == 0) {
        (void)pp_elf_find_symbol(&e, "_PyRuntime", &value, &sz);
        (void)pp_elf_find_section(&e, ".PyRuntime", &value, &sz);
        if (pp_elf_section_data(&e, ".rodata", &sec, &seclen) == 0 &&
            (sec < copy || sec + seclen > copy + size))
            abort();
    }
    free(copy);
    return 0;
}
