/*
 * pylocals.h -- the arguments and local variables of one Python frame,
 * rendered as text for `dump --locals` (layer L3).
 *
 * Names come from the frame's code object (co_varnames/co_cellvars/
 * co_freevars up to 3.10, co_localsplusnames/co_localspluskinds from
 * 3.11), values from the frame's localsplus array; both through the layout
 * (py/layout.h), never a version number.  Every read goes through pp_mem,
 * every count is bounded, every pointer is checked by reading it: a value
 * that cannot be read is shown as <unreadable>, a frame whose names cannot
 * be read gets one line saying so.  Nothing here asserts on target data.
 *
 * Values: None, True/False, int (up to PP_PYLOCALS_INT_DIGITS decimal
 * digits, else "<int of N digits>"), float (shortest round-trip repr),
 * str and bytes (quoted, escaped, cut at PP_PYLOCALS_STR_MAX characters
 * with "..."), tuple/list/dict/set/frozenset as "<list of 3>"; anything
 * else "<TYPENAME at 0xADDR>".  Unbound locals are left out.  Cell and
 * free variables show the cell's content (rendered the same way); an
 * empty cell is left out.
 */
#ifndef PP_PYLOCALS_H
#define PP_PYLOCALS_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"
#include "py/layout.h"

#define PP_PYLOCALS_MAX 256       /* locals rendered per frame */
#define PP_PYLOCALS_STR_MAX 80    /* characters of a str or bytes shown */
#define PP_PYLOCALS_INT_DIGITS 40 /* decimal digits of an int shown */
#define PP_PYLOCALS_LINE_MAX 512  /* bytes of one rendered "name = value" */

/* Renders one object's value into buf (NUL-terminated, cut to cap). */
void pp_pylocals_value(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t obj, char *buf,
                       size_t cap);

/* The locals of the frame at frame_addr (a frame object up to 3.10, an
 * interpreter frame from 3.11) whose code object is code_addr: one
 * "name = value\n" line each, in localsplus order (arguments first), in a
 * malloc'd string (*out, "" when there are none).  Returns 0, PP_ENOMEM,
 * or 0 with a "<locals unreadable: WHY>\n" line when the names cannot be
 * read.  *errors (may be NULL) is increased by the values that could not
 * be read. */
int pp_pylocals_frame(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t frame_addr,
                      uint64_t code_addr, char **out, uint64_t *errors);

/* What `dump --locals` keeps of one read: per thread, the rendered locals
 * of its Python frames, root first (the order of the stack's Python
 * frames in the profile). */
struct pp_pylocals_thread {
    int64_t tid;
    char **frames;
    size_t n;
};

struct pp_pylocals {
    struct pp_pylocals_thread *threads;
    size_t n;
    uint64_t errors; /* values shown as <unreadable> */
};

/* Replaces tid's frames with frames[0..n) (root first; ownership of the
 * strings and the array passes to ls). */
int pp_pylocals_set(struct pp_pylocals *ls, int64_t tid, char **frames, size_t n);
const struct pp_pylocals_thread *pp_pylocals_find(const struct pp_pylocals *ls, int64_t tid);
void pp_pylocals_free(struct pp_pylocals *ls);

#endif
