/*
 * tests/bench/unwind_targetlib.c -- the shared-library half of the
 * unwinder benchmark's target (see unwind_target.c).  Built with -O2
 * -fomit-frame-pointer; the alloca switches this frame's CFA rule to rbp,
 * so the unwinders meet both kinds of CFI on one stack.
 */
#include <alloca.h>
#include <string.h>

int lib_step(int n, int (*cb)(int));

__attribute__((noinline)) int
lib_step(int n, int (*cb)(int))
{
    volatile char *buf = alloca(64 + (n & 7) * 16);
    int r;
    buf[0] = (char)n;
    r = cb(n);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
    return r + buf[0];
}
