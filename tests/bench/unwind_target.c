/*
 * tests/bench/unwind_target.c -- the target of the unwinder benchmark
 * (unwind_bench.c): a deep native stack built with -O2
 * -fomit-frame-pointer (no rbp chain to fall back on).  The recursion
 * crosses exe -> libunwtgt.so -> exe ..., goes once through glibc's qsort
 * with a callback, and ends in a CPU loop:
 *
 *   leaf_work <- leaf_loop <- cmp_cb <- msort... <- qsort_r <- go_qsort
 *   <- exe_step <- lib_step <- exe_step ... <- run <- main <- libc <- _start
 *
 * It writes one byte to stdout when it first reaches the loop.
 */
#include <stdlib.h>
#include <unistd.h>

#define DEPTH 12

int lib_step(int n, int (*cb)(int)); /* libunwtgt.so */
int exe_step(int n);

static volatile unsigned long sink;

__attribute__((noinline, noclone)) void
leaf_work(void)
{
    unsigned long i;
    for (i = 0; i < 20000; i++)
        sink += i * i;
}

__attribute__((noinline, noclone)) void
leaf_loop(void)
{
    static int said;
    if (!said) {
        said = 1;
        if (write(1, "r", 1) != 1)
            _exit(1);
    }
    for (;;) {
        leaf_work();
        __asm__ volatile("" ::: "memory");
    }
}

static int
cmp_cb(const void *a, const void *b)
{
    leaf_loop();
    return *(const int *)a - *(const int *)b;
}

__attribute__((noinline, noclone)) int
go_qsort(void)
{
    int v[2] = {2, 1};
    qsort(v, 2, sizeof v[0], cmp_cb);
    __asm__ volatile("" ::: "memory");
    return v[0];
}

__attribute__((noinline, noclone)) int
exe_step(int n)
{
    int r;
    if (n == 0)
        r = go_qsort();
    else
        r = lib_step(n - 1, exe_step);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

__attribute__((noinline, noclone)) int
run(int depth)
{
    int r = exe_step(depth);
    __asm__ volatile("" ::: "memory");
    return r;
}

int
main(void)
{
    return run(DEPTH) == 0;
}
