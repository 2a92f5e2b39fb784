/*
 * elf.h -- just enough ELF64 to find CPython's runtime (layer L1).
 *
 * A small, bounds-checked reader over a read-only mapping of the file (or
 * any buffer, for the fuzzer): symbols from .dynsym and .symtab, sections
 * by name, the load bias inputs.  It never trusts a header field before
 * checking it against the buffer size.
 */
#ifndef PP_ELF_H
#define PP_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pp_elf {
    const uint8_t *buf;
    size_t len;
    bool mapped;   /* buf is an mmap we own */
    uint16_t type; /* ET_EXEC, ET_DYN, ... */
    uint64_t first_load_vaddr; /* p_vaddr of the first PT_LOAD, page aligned */
    /* section header table, validated */
    uint64_t shoff;
    uint16_t shnum, shentsize, shstrndx;
};

int pp_elf_open(const char *path, struct pp_elf *out);
int pp_elf_from_buffer(const void *buf, size_t len, struct pp_elf *out);
void pp_elf_close(struct pp_elf *e);

/* Looks name up in .dynsym, then .symtab.  0, or PP_ENOTFOUND. */
int pp_elf_find_symbol(const struct pp_elf *e, const char *name, uint64_t *value,
                       uint64_t *size);
/* Section by name: its address and size.  0, or PP_ENOTFOUND. */
int pp_elf_find_section(const struct pp_elf *e, const char *name, uint64_t *addr,
                        uint64_t *size);
/* The file bytes of section name (for scanning .rodata), bounded. */
int pp_elf_section_data(const struct pp_elf *e, const char *name, const uint8_t **data,
                        size_t *len);

#endif
