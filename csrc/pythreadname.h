/*
 * pythreadname.h -- Python thread names of a target CPython (layer L3).
 *
 * threading.Thread.name lives only in Python objects: the interpreter's
 * modules dict holds "threading", whose module dict holds "_active", a
 * dict from thread ident (the pthread_t that threading.get_ident() and
 * tstate->thread_id give) to the Thread object, whose instance dict holds
 * "_name".  pp_pythreadname_read() follows that path with a bounded,
 * read-only dict reader (combined, split and managed/inline-values dicts
 * of 3.8 - 3.13) and returns (ident, name) pairs.  It is not a hot path:
 * the caller re-reads only when it meets an ident it has no name for.
 */
#ifndef PP_PYTHREADNAME_H
#define PP_PYTHREADNAME_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "py/layout.h"

#define PP_PYTHREADNAME_LEN 64        /* bytes of a name kept, NUL included */
#define PP_PYTHREADNAME_MAX 4096      /* threads read from threading._active */
#define PP_PYTHREADNAME_DICT_MAX 65536 /* entries of any dict walked */

struct pp_pythreadname {
    uint64_t ident; /* pthread_t, as tstate->thread_id */
    char name[PP_PYTHREADNAME_LEN]; /* UTF-8, NUL-terminated, maybe cut */
};

/* A zeroed list is a valid empty list. */
struct pp_pythreadname_list {
    struct pp_pythreadname *items;
    size_t len, cap;
};

void pp_pythreadname_list_free(struct pp_pythreadname_list *l);

/* The name of ident in l, or NULL. */
const char *pp_pythreadname_find(const struct pp_pythreadname_list *l, uint64_t ident);

/*
 * Replaces out's contents with every entry of threading._active in the
 * interpreter at interp_addr.  PP_ENOTFOUND when threading is not
 * imported there; PP_EBADDATA / PP_EFAULT / PP_EGONE when the path cannot
 * be read (out is then empty).  A single Thread whose name cannot be read
 * is left out, not an error.
 */
int pp_pythreadname_read(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t interp_addr,
                         struct pp_pythreadname_list *out);

#endif
