/*
 * linetable.h -- CPython line-number tables, decoded (layer L3).
 *
 * Pure functions over the table's bytes: they never read remote memory,
 * every step is bounds-checked, and malformed input yields a line, never
 * a crash.  A result of 0 means "no line for this instruction".
 *
 *   lnotab   3.8-3.9   (addr_delta u8, line_delta s8) pairs; key in bytes
 *   pep626   3.10      (length u8, line_delta s8, -128 = no line); key in bytes
 *   location 3.11+     variable-length entries with varints; key in code units
 */
#ifndef PP_LINETABLE_H
#define PP_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

int pp_linetable_lnotab(const uint8_t *tab, size_t len, int firstlineno, int64_t byte_off);
int pp_linetable_pep626(const uint8_t *tab, size_t len, int firstlineno, int64_t byte_off);
int pp_linetable_location(const uint8_t *tab, size_t len, int firstlineno, int64_t unit);

#endif
