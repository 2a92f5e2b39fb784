/*
 * py/runtime.h -- find CPython's _PyRuntime in a process and tell its
 * version (layer L2).
 *
 * Search order: a mapped libpython3.X.so*, else the main executable (as
 * in Debian's static, non-PIE, stripped /usr/bin/python3.X, which keeps
 * _PyRuntime in .dynsym).  Symbol first, then the .PyRuntime section.
 * Version: the debug-offsets cookie (3.13+), then Py_Version (3.11+), then
 * the file name plus a version string in .rodata.
 */
#ifndef PP_PY_RUNTIME_H
#define PP_PY_RUNTIME_H

#include <stdint.h>

#include "../maps.h"
#include "../mem.h"

struct pp_pyruntime {
    uint64_t runtime_addr;
    uint32_t version_hex;  /* 0x030b07f0; patch may be 0 when unknown */
    char path[4096];       /* the object that holds _PyRuntime */
    char version_str[32];  /* "3.11.7" */
};

/* 0, PP_ENOTPY (no runtime in any candidate), PP_EVERSION (found but the
 * version cannot be told), or a memory error. */
int pp_pyruntime_find(int pid, const struct pp_maps *maps, struct pp_mem *mem,
                      struct pp_pyruntime *out);

#endif
