/*
 * unwind_lu.c -- the libunwind unwinder backend (see unwind.h).
 */
#include "unwind.h"

#include <stdio.h>

#include "err.h"

int
pp_unwind_libunwind_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                        char *why, size_t whylen)
{
    (void)pid;
    (void)root;
    (void)mem;
    *out = NULL;
    snprintf(why, whylen, "the libunwind backend is not built yet");
    return PP_ENOTFOUND;
}
