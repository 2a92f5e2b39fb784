/*
 * sym.h -- symbolization of native PCs in a target process (layer L2).
 *
 * A Dwfl of its own (not the unwinder's: it also serves the libunwind
 * backend) over the target's mappings.  Per module, the ELF symbol table
 * (.symtab, or the separate debug file's, else .dynsym) is read once into
 * a sorted array: lookups are a binary search, not libdwfl's linear scan.
 * Inline frames come from DWARF when the module has it (its own, a
 * .gnu_debuglink file or /usr/lib/debug/.build-id); the caller caches
 * results per PC, since the DWARF scope walk is expensive.
 */
#ifndef PP_SYM_H
#define PP_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pp_symbolizer;

struct pp_sym_info {
    const char *module; /* basename of the module's file; NULL: PC in no module */
    const char *path;   /* the module's path as the target maps it */
    const char *name;   /* function; NULL when no symbol covers the PC */
    bool interp;        /* the module is the interpreter (libpython, python exe) */
    bool eval;          /* the function is CPython's eval loop */
};

/* debug_dirs: extra debug-info directories, ':'-separated (may be NULL). */
int pp_sym_new(int pid, const char *debug_dirs, bool inlines, struct pp_symbolizer **out,
               char *why, size_t whylen);
/* pc: an adjusted PC (return addresses minus 1).  Strings live as long as
 * the symbolizer. */
int pp_sym_lookup(struct pp_symbolizer *s, uint64_t pc, struct pp_sym_info *out);
/* Functions inlined at pc, innermost first (names live as long as s). */
size_t pp_sym_inlines(struct pp_symbolizer *s, uint64_t pc, const char **names, size_t max);
/* The target's mappings changed: re-read them. */
int pp_sym_refresh(struct pp_symbolizer *s);
/* Modules that were looked up and have no debug info (DWARF), for the
 * summary: calls fn(path) for each. */
void pp_sym_missing_debug(struct pp_symbolizer *s, void (*fn)(const char *path, void *arg),
                          void *arg);
void pp_sym_free(struct pp_symbolizer *s);

/* True for the eval loop's symbol names (pure; used by tests). */
bool pp_sym_is_eval(const char *name);
/* True for an interpreter module's file name (pure). */
bool pp_sym_is_interp_module(const char *basename);

#endif
