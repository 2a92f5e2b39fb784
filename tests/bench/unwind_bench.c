/*
 * tests/bench/unwind_bench.c -- libdw vs libunwind on the same samples
 * (`make bench-unwind`; not part of the tests).
 *
 * Launches the target (unwind_target: a ~35-frame -O2 -fomit-frame-pointer
 * stack across an executable, a shared library and glibc's qsort), takes
 * SAMPLES ptrace samples of it 1 ms apart (registers + a 16 KiB stack
 * copy, as perf's sample_stack_user would give), stops it (SIGSTOP: it
 * would compete for the CPU), then unwinds every sample with each
 * backend: one warm-up pass, then PASSES timed passes of warm unwinds,
 * the backends taking turns (one long-lived unwinder per backend, the page cache reset
 * per sample as the sampler does).  Prints median / p10 / p90 µs per
 * unwind, mean frames, samples that read the live target, and how many
 * samples the two backends unwound to the same PCs.
 *
 * usage: unwind_bench TARGET [SAMPLES [PASSES [STACK_BYTES]]]
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "pstop.h"
#include "sym.h"
#include "unwind.h"
#include "util.h"

struct bsample {
    uint64_t regs[17];
    uint8_t *stack;
    size_t len;
};

struct bres {
    uint64_t pcs[PP_UNWIND_MAX];
    size_t n;
};

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static pid_t
spawn(const char *path)
{
    int pfd[2];
    char c;
    pid_t pid;

    if (pipe(pfd) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    if (pid > 0 && read(pfd[0], &c, 1) != 1) { /* the target reached its loop */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    close(pfd[0]);
    return pid;
}

struct backend {
    struct pp_unwinder *u;
    uint64_t *t; /* per timed unwind */
    size_t m;
    uint64_t cold_ns, frames, live, trunc, reads0;
    struct bres *res; /* the last pass */
};

/* Unwinds every sample once; timed unless warm-up. */
static void
pass(struct backend *b, struct pp_mem *mem, const struct bsample *s, size_t n, int pid,
     bool timed, bool last)
{
    struct pp_unwind_frame f[PP_UNWIND_MAX];
    size_t i, k;

    for (i = 0; i < n; i++) {
        struct pp_unwind_input in = {pid, s[i].regs, s[i].stack, s[i].len};
        size_t nf = 0;
        unsigned status = 0;
        uint64_t t0, t1;
        pp_mem_cache_reset(mem);
        t0 = pp_now_ns();
        pp_unwind(b->u, &in, f, PP_UNWIND_MAX, &nf, &status);
        t1 = pp_now_ns();
        if (!timed)
            continue;
        b->t[b->m++] = t1 - t0;
        if (last) {
            b->frames += nf;
            b->live += (status & PP_US_LIVE) != 0;
            b->trunc += (status & PP_US_TRUNCATED) != 0;
            b->res[i].n = nf;
            for (k = 0; k < nf; k++)
                b->res[i].pcs[k] = f[k].pc;
        }
    }
}

static void
report(struct backend *b, size_t n, int passes)
{
    uint64_t *t = b->t;
    size_t m = b->m;
    qsort(t, m, sizeof *t, cmp_u64);
    printf("%-10s %8.1f %8.1f %8.1f %8.1f %9.1f %7.2f %6llu %6llu %9.2f\n", b->u->ops->name,
           t[m / 2] / 1e3, t[m / 10] / 1e3, t[m * 9 / 10] / 1e3, t[m - 1] / 1e3,
           b->cold_ns / 1e3, (double)b->frames / (double)n, (unsigned long long)b->live,
           (unsigned long long)b->trunc,
           (double)(b->u->live_reads - b->reads0) / (double)(n * (size_t)(passes + 1)));
}

int
main(int argc, char **argv)
{
    const char *target = argc > 1 ? argv[1] : "build/bench/unwind_target";
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 500, i, k, same = 0;
    int passes = argc > 3 ? atoi(argv[3]) : 5;
    size_t cap = argc > 4 ? strtoul(argv[4], NULL, 10) : 16384;
    struct timespec gap = {0, 1000000};
    struct bsample *s;
    struct bres *rdw, *rlu;
    struct pp_unwinder *dw = NULL, *lu = NULL;
    struct pp_symbolizer *sym = NULL;
    struct pp_mem *mem = NULL;
    char why[512];
    uint64_t t0;
    pid_t pid;
    int err, perr = 0;

    if (n == 0 || passes <= 0 || cap < 64) {
        fprintf(stderr, "usage: %s TARGET [SAMPLES [PASSES [STACK_BYTES]]]\n", argv[0]);
        return 2;
    }
    s = calloc(n, sizeof *s);
    rdw = calloc(n, sizeof *rdw);
    rlu = calloc(n, sizeof *rlu);
    if (!s || !rdw || !rlu)
        return 1;
    if ((pid = spawn(target)) <= 0) {
        fprintf(stderr, "unwind_bench: cannot start %s\n", target);
        return 1;
    }
    if ((err = pp_pstop_seize(pid, &perr))) {
        fprintf(stderr, "unwind_bench: cannot ptrace %d: %s\n", pid, strerror(perr));
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct pp_pstop_sample smp;
        memset(&smp, 0, sizeof smp);
        smp.buf = s[i].stack = malloc(cap + PP_PSTOP_SLACK);
        smp.stack_cap = cap;
        if (!smp.buf || pp_pstop_sample(pid, pid, &smp, NULL, NULL) != 0) {
            fprintf(stderr, "unwind_bench: sample %zu failed\n", i);
            goto out;
        }
        memcpy(s[i].regs, smp.regs, sizeof s[i].regs);
        s[i].len = smp.stack_len;
        nanosleep(&gap, NULL);
    }
    /* The target would compete for the CPU with the unwinds: park it
     * (stopped, still there for the maps, the files and live reads). */
    pp_pstop_detach(pid);
    kill(pid, SIGSTOP);
    if ((err = pp_mem_live_new(pid, &mem)) || (err = pp_mem_cache_enable(mem))) {
        fprintf(stderr, "unwind_bench: no live memory backend\n");
        goto out;
    }

    printf("target %s: %zu samples, %zu-byte stack copies (first: %zu bytes used), %d passes\n",
           target, n, cap, s[0].len, passes);
    printf("%-10s %8s %8s %8s %8s %9s %7s %6s %6s %9s\n", "unwinder", "median", "p10", "p90",
           "max", "cold", "frames", "live", "trunc", "reads/uw");
    printf("%-10s %8s %8s %8s %8s %9s\n", "", "us", "us", "us", "us", "us(new+1)");
    {
        struct pp_unwind_frame f[PP_UNWIND_MAX];
        struct pp_unwind_input in = {pid, s[0].regs, s[0].stack, s[0].len};
        struct backend be[2];
        size_t nf, nb = 0, j;
        unsigned st;
        int p;

        memset(be, 0, sizeof be);
        t0 = pp_now_ns();
        if (pp_unwind_libdw_new(pid, NULL, mem, &dw, why, sizeof why) == 0) {
            pp_unwind(dw, &in, f, PP_UNWIND_MAX, &nf, &st);
            be[nb].cold_ns = pp_now_ns() - t0;
            be[nb].u = dw;
            be[nb++].res = rdw;
        } else {
            printf("libdw: %s\n", why);
        }
        t0 = pp_now_ns();
        if (pp_unwind_libunwind_new(pid, NULL, mem, &lu, why, sizeof why) == 0) {
            pp_unwind(lu, &in, f, PP_UNWIND_MAX, &nf, &st);
            be[nb].cold_ns = pp_now_ns() - t0;
            be[nb].u = lu;
            be[nb++].res = rlu;
        } else {
            printf("libunwind: %s\n", why);
        }
        for (j = 0; j < nb; j++) {
            be[j].reads0 = be[j].u->live_reads;
            if (!(be[j].t = malloc(sizeof *be[j].t * n * (size_t)passes)))
                return 1;
        }
        /* the backends take turns, pass by pass: drift hits both alike */
        for (p = -1; p < passes; p++)
            for (j = 0; j < nb; j++)
                pass(&be[j], mem, s, n, pid, p >= 0, p == passes - 1);
        for (j = 0; j < nb; j++) {
            report(&be[j], n, passes);
            free(be[j].t);
        }
    }
    if (dw && lu) {
        for (i = 0; i < n; i++)
            if (rdw[i].n == rlu[i].n && memcmp(rdw[i].pcs, rlu[i].pcs, rdw[i].n * 8) == 0)
                same++;
        printf("same PCs from both backends: %zu of %zu samples\n", same, n);
        for (i = 0; i < n && same < n; i++) {
            if (rdw[i].n == rlu[i].n && memcmp(rdw[i].pcs, rlu[i].pcs, rdw[i].n * 8) == 0)
                continue;
            printf("first difference: sample %zu (libdw %zu frames, libunwind %zu)\n", i,
                   rdw[i].n, rlu[i].n);
            break;
        }
    }
    if ((dw || lu) && pp_sym_new(pid, NULL, false, &sym, why, sizeof why) == 0) {
        struct bres *r = dw ? rdw : rlu;
        printf("sample 0 (%s):", dw ? "libdw" : "libunwind");
        for (k = 0; k < r[0].n; k++) {
            struct pp_sym_info si;
            printf("%s%s", k ? " <- " : " ",
                   pp_sym_lookup(sym, r[0].pcs[k], &si) == 0 && si.name ? si.name : "?");
        }
        printf("\n");
    }
out:
    pp_sym_free(sym);
    pp_unwinder_free(dw);
    pp_unwinder_free(lu);
    if (mem)
        pp_mem_free(mem);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (i = 0; i < n; i++)
        free(s[i].stack);
    free(s);
    free(rdw);
    free(rlu);
    return err ? 1 : 0;
}
