/*
 * tests/c/test_unwind.c -- both native unwinders (unwind.h) on a real
 * stopped process: a forked child of this test parked in a known chain of
 * noinline functions.  Both backends must produce the same PCs, naming
 * the chain in order down to _start; a short stack copy must stop cleanly
 * without live reads and recover everything with them; the depth limit
 * and refresh must work; a signal frame must give the same PCs and exact-PC
 * flags; junk registers and stacks must not crash.
 *
 * libdw and libunwind are installed by tools/deps.sh: a backend that
 * cannot be loaded is a failure here, not a skip.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "pstop.h"
#include "sym.h"
#include "tap.h"
#include "unwind.h"

#define DEPTH 20
#define STACK_CAP 65536

/* ==== the child's known stack ==== */

static volatile int *ready; /* shared with the parent */
volatile uint64_t unwtest_sink;

__attribute__((noinline)) void unwtest_leaf(void);
__attribute__((noinline)) int unwtest_recurse(int n);
__attribute__((noinline)) int unwtest_middle(int n);
__attribute__((noinline)) int unwtest_outer(int n);

void
unwtest_leaf(void)
{
    ready[0] = 1;
    while (!ready[1]) /* never set: the parent kills the child */
        unwtest_sink++;
}

int
unwtest_recurse(int n)
{
    int r;
    if (n == 0) {
        unwtest_leaf();
        return 0;
    }
    r = unwtest_recurse(n - 1);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
    return r + 1;
}

int
unwtest_middle(int n)
{
    int r = unwtest_recurse(n);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

int
unwtest_outer(int n)
{
    int r = unwtest_middle(n);
    __asm__ volatile("" ::: "memory");
    return r + 1;
}

/* The second child is parked in a signal handler:
 * unwtest_sigleaf <- unwtest_handler <- __restore_rt <- unwtest_wait
 * (interrupted: an exact PC) <- unwtest_sigouter <- main. */
__attribute__((noinline)) void unwtest_sigleaf(void);
__attribute__((noinline)) void unwtest_handler(int sig);
__attribute__((noinline)) void unwtest_wait(void);
__attribute__((noinline)) int unwtest_sigouter(void);

void
unwtest_sigleaf(void)
{
    ready[2] = 1;
    while (!ready[1])
        unwtest_sink++;
}

void
unwtest_handler(int sig)
{
    (void)sig;
    unwtest_sigleaf();
    __asm__ volatile("" ::: "memory");
}

void
unwtest_wait(void)
{
    ready[3] = 1;
    while (!ready[1])
        unwtest_sink++;
}

int
unwtest_sigouter(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = unwtest_handler;
    sigaction(SIGUSR1, &sa, NULL);
    unwtest_wait();
    __asm__ volatile("" ::: "memory");
    return 1;
}

/* ==== helpers ==== */

struct result {
    struct pp_unwind_frame f[PP_UNWIND_MAX];
    size_t n;
    unsigned status;
    int err;
};

static void
run(struct pp_unwinder *u, const struct pp_unwind_input *in, size_t max, struct result *r)
{
    memset(r, 0, sizeof *r);
    r->err = pp_unwind(u, in, r->f, max, &r->n, &r->status);
}

static bool
same_frames(const struct result *a, const struct result *b)
{
    size_t i;
    if (a->n != b->n)
        return false;
    for (i = 0; i < a->n; i++)
        if (a->f[i].pc != b->f[i].pc || a->f[i].flags != b->f[i].flags ||
            a->f[i].sp != b->f[i].sp || a->f[i].sp == 0 || (i > 0 && a->f[i].sp <= a->f[i - 1].sp))
            return false; /* the SPs: the same, known, growing towards the root */
    return true;
}

static const char *
name_of(struct pp_symbolizer *s, uint64_t pc)
{
    struct pp_sym_info si;
    if (pp_sym_lookup(s, pc, &si) != 0 || !si.name)
        return "?";
    return si.name;
}

static void
print_stack(const char *label, struct pp_symbolizer *s, const struct result *r)
{
    size_t i;
    fprintf(stderr, "# %s: %zu frames, status %#x, err %d\n", label, r->n, r->status, r->err);
    for (i = 0; i < r->n; i++)
        fprintf(stderr, "#   %2zu %#llx %s%s\n", i, (unsigned long long)r->f[i].pc,
                s ? name_of(s, r->f[i].pc) : "",
                r->f[i].flags & PP_UF_ACTIVATION ? " (activation)" : "");
}

/* The chain the child is parked in, innermost first, down to _start. */
static void
check_names(const char *label, struct pp_symbolizer *s, const struct result *r)
{
    size_t i = 0, k;
    int ok = 1;

    if (r->n < DEPTH + 6) {
        fprintf(stderr, "# %s: %zu frames, expected at least %d\n", label, r->n, DEPTH + 6);
        CHECK(0);
        return;
    }
#define EXPECT(want)                                                                      \
    do {                                                                                  \
        const char *got_ = name_of(s, r->f[i].pc);                                        \
        if (strcmp(got_, want) != 0) {                                                    \
            fprintf(stderr, "# %s: frame %zu is %s, expected %s\n", label, i, got_, want); \
            ok = 0;                                                                       \
        }                                                                                 \
        i++;                                                                              \
    } while (0)
    EXPECT("unwtest_leaf");
    for (k = 0; k <= DEPTH; k++)
        EXPECT("unwtest_recurse");
    EXPECT("unwtest_middle");
    EXPECT("unwtest_outer");
    EXPECT("main");
#undef EXPECT
    /* glibc's start files, whatever their names in this version */
    CHECK(strcmp(name_of(s, r->f[r->n - 1].pc), "_start") == 0);
    CHECK(r->n - i <= 4);
    CHECK(ok);
    if (!ok)
        print_stack(label, s, r);
    CHECK(r->f[0].flags & PP_UF_ACTIVATION);
    for (k = 1; k < r->n; k++)
        if (r->f[k].flags & PP_UF_ACTIVATION)
            break;
    CHECK_EQ_INT(k, r->n); /* no signal frames here */
}

/* Junk must end an unwind, never the process. */
static void
check_junk(struct pp_unwinder *u, const uint64_t *regs0, const uint8_t *stack, size_t len)
{
    static uint8_t junk[4096];
    struct result *r = malloc(sizeof *r);
    uint64_t regs[PP_UNWIND_NREGS];
    unsigned seed = 12345;
    int i, crashed = 0;
    size_t j;

    if (!r) {
        CHECK(0);
        return;
    }
    for (i = 0; i < 200; i++) {
        struct pp_unwind_input in;
        for (j = 0; j < sizeof junk; j++) {
            seed = seed * 1103515245u + 12345u;
            junk[j] = (uint8_t)(seed >> 16);
        }
        /* mostly real return addresses of the sample, shuffled */
        if (i % 2 == 0 && len >= sizeof junk)
            for (j = 0; j + 8 <= sizeof junk; j += 8)
                if (junk[j] & 1)
                    memcpy(junk + j, stack + (((junk[j + 1] * 8u) % (len - 8)) & ~7u), 8);
        memcpy(regs, regs0, sizeof regs);
        if (i % 3 == 0)
            regs[16] = regs0[16] + junk[0]; /* pc a little off */
        else if (i % 3 == 1)
            memcpy(&regs[16], junk + 8, 8); /* pc anywhere */
        memcpy(&regs[6], junk + 16, 8); /* rbp anywhere */
        in.tid = 0;
        in.regs = regs;
        in.stack = junk;
        in.stack_len = (size_t)(junk[3] % 2 ? sizeof junk : junk[4] * 8u);
        run(u, &in, PP_UNWIND_MAX, r);
        if (r->n > PP_UNWIND_MAX)
            crashed = 1;
    }
    CHECK(!crashed);
    free(r);
}

static int
wait_ready(int which)
{
    struct timespec ts = {0, 1000000};
    int i;
    for (i = 0; i < 10000 && !ready[which]; i++)
        nanosleep(&ts, NULL);
    return ready[which] ? 0 : -1;
}

static size_t
find_name(struct pp_symbolizer *s, const struct result *r, const char *name)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        if (strcmp(name_of(s, r->f[i].pc), name) == 0)
            return i;
    return (size_t)-1;
}

/* Through a signal frame: both backends agree on PCs and on which are
 * exact (the trampoline's and the interrupted frame's). */
static void
test_signal_frame(void)
{
    struct pp_unwinder *dw = NULL, *lu = NULL;
    struct pp_symbolizer *sym = NULL;
    struct result *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    struct pp_pstop_sample smp;
    struct pp_unwind_input in;
    char why[512];
    size_t h, w;
    int status;
    pid_t pid;

    memset(&smp, 0, sizeof smp);
    smp.buf = malloc(STACK_CAP + PP_PSTOP_SLACK);
    smp.stack_cap = STACK_CAP;
    pid = fork();
    if (pid == 0) {
        unwtest_sigouter();
        _exit(0);
    }
    CHECK(pid > 0 && a && b && smp.buf);
    if (pid <= 0 || !a || !b || !smp.buf)
        goto out;
    CHECK_EQ_INT(wait_ready(3), 0);
    kill(pid, SIGUSR1);
    CHECK_EQ_INT(wait_ready(2), 0);
    if (pp_pstop_seize(pid, NULL) != 0 || pp_pstop_sample(pid, pid, &smp, NULL, NULL) != 0) {
        CHECK(0);
        goto out;
    }
    in.tid = pid;
    in.regs = smp.regs;
    in.stack = smp.stack;
    in.stack_len = smp.stack_len;
    CHECK_EQ_INT(pp_unwind_libdw_new(pid, NULL, NULL, &dw, why, sizeof why), 0);
    CHECK_EQ_INT(pp_unwind_libunwind_new(pid, NULL, NULL, &lu, why, sizeof why), 0);
    CHECK_EQ_INT(pp_sym_new(pid, NULL, false, &sym, why, sizeof why), 0);
    if (!dw || !lu || !sym)
        goto out;
    run(dw, &in, PP_UNWIND_MAX, a);
    run(lu, &in, PP_UNWIND_MAX, b);
    CHECK(same_frames(a, b));
    if (!same_frames(a, b) || getenv("UNWTEST_VERBOSE")) {
        print_stack("libdw, signal", sym, a);
        print_stack("libunwind, signal", sym, b);
    }
    CHECK_EQ_INT(b->status, 0);
    h = find_name(sym, b, "unwtest_handler");
    w = find_name(sym, b, "unwtest_wait");
    CHECK_EQ_INT(find_name(sym, b, "unwtest_sigleaf"), 0);
    CHECK_EQ_INT(h, 1);
    CHECK_EQ_INT(w, 3); /* after the trampoline */
    if (w == 3) {
        CHECK(!(b->f[1].flags & PP_UF_ACTIVATION));
        CHECK(b->f[2].flags & PP_UF_ACTIVATION); /* __restore_rt */
        CHECK(b->f[3].flags & PP_UF_ACTIVATION); /* interrupted: exact */
        CHECK(!(b->f[4].flags & PP_UF_ACTIVATION));
        CHECK(strcmp(name_of(sym, b->f[4].pc), "unwtest_sigouter") == 0);
        CHECK(strcmp(name_of(sym, b->f[b->n - 1].pc), "_start") == 0);
    }
out:
    pp_unwinder_free(dw);
    pp_unwinder_free(lu);
    pp_sym_free(sym);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    free(smp.buf);
    free(a);
    free(b);
}

int
main(void)
{
    struct pp_unwinder *dw = NULL, *lu = NULL, *dwl = NULL, *lul = NULL;
    struct pp_symbolizer *sym = NULL;
    struct pp_mem *mem = NULL;
    struct pp_pstop_sample smp;
    struct pp_unwind_input in;
    struct result *a = malloc(sizeof *a), *b = malloc(sizeof *b), *c = malloc(sizeof *c);
    char why[512];
    int err, perr = 0, status;
    pid_t pid;

    ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ready == MAP_FAILED || !a || !b || !c) {
        CHECK(0);
        TEST_DONE();
    }
    pid = fork();
    if (pid == 0) {
        unwtest_outer(DEPTH);
        _exit(0);
    }
    CHECK(pid > 0);
    if (pid <= 0)
        TEST_DONE();
    CHECK_EQ_INT(wait_ready(0), 0);

    memset(&smp, 0, sizeof smp);
    smp.buf = malloc(STACK_CAP + PP_PSTOP_SLACK);
    smp.stack_cap = STACK_CAP;
    err = pp_pstop_seize(pid, &perr);
    CHECK_EQ_INT(err, 0);
    if (err == 0)
        err = pp_pstop_sample(pid, pid, &smp, NULL, NULL);
    CHECK_EQ_INT(err, 0);
    CHECK(smp.stack_len > 1024);
    if (err)
        goto out;
    in.tid = pid;
    in.regs = smp.regs;
    in.stack = smp.stack;
    in.stack_len = smp.stack_len;

    /* Both backends and the symbolizer must load: they are installed. */
    err = pp_unwind_libdw_new(pid, NULL, NULL, &dw, why, sizeof why);
    if (err)
        fprintf(stderr, "# FAIL: the libdw unwinder cannot be used: %s\n", why);
    CHECK_EQ_INT(err, 0);
    err = pp_unwind_libunwind_new(pid, NULL, NULL, &lu, why, sizeof why);
    if (err)
        fprintf(stderr, "# FAIL: the libunwind unwinder cannot be used: %s\n", why);
    CHECK_EQ_INT(err, 0);
    err = pp_sym_new(pid, NULL, false, &sym, why, sizeof why);
    if (err)
        fprintf(stderr, "# FAIL: no symbolizer: %s\n", why);
    CHECK_EQ_INT(err, 0);
    if (!dw || !lu || !sym)
        goto out;
    CHECK(strcmp(dw->ops->name, "libdw") == 0);
    CHECK(strcmp(lu->ops->name, "libunwind") == 0);

    /* 1. the whole stack copy: the same frames, the known chain */
    run(dw, &in, PP_UNWIND_MAX, a);
    run(lu, &in, PP_UNWIND_MAX, b);
    CHECK_EQ_INT(a->err, 0);
    CHECK_EQ_INT(b->err, 0);
    CHECK_EQ_INT(a->status, 0);
    CHECK_EQ_INT(b->status, 0);
    CHECK_EQ_INT(b->n, a->n);
    CHECK(same_frames(a, b));
    if (!same_frames(a, b)) {
        print_stack("libdw", sym, a);
        print_stack("libunwind", sym, b);
    }
    check_names("libdw", sym, a);
    check_names("libunwind", sym, b);
    if (getenv("UNWTEST_VERBOSE"))
        print_stack("libunwind", sym, b);
    CHECK_EQ_INT(lu->live_reads, 0);

    /* warm: the cached path gives the same answer */
    run(lu, &in, PP_UNWIND_MAX, c);
    CHECK(same_frames(b, c));

    /* 2. depth limit */
    run(lu, &in, 5, c);
    CHECK_EQ_INT(c->n, 5);
    CHECK(c->status & PP_US_DEPTH);
    CHECK_EQ_INT(c->f[4].pc, b->f[4].pc);
    run(dw, &in, 5, c);
    CHECK_EQ_INT(c->n, 5);
    CHECK(c->status & PP_US_DEPTH);

    /* 3. refresh keeps working (and flushes libunwind's cache) */
    CHECK_EQ_INT(lu->ops->refresh(lu), 0);
    CHECK_EQ_INT(lu->refreshes, 1);
    run(lu, &in, PP_UNWIND_MAX, c);
    CHECK(same_frames(b, c));

    /* 4. a short copy: a clean, truncated stop without the live target */
    in.stack_len = 256;
    run(lu, &in, PP_UNWIND_MAX, c);
    CHECK(c->n >= 1 && c->n < b->n);
    CHECK(c->status & PP_US_TRUNCATED);
    CHECK(!(c->status & PP_US_LIVE));
    CHECK_EQ_INT(c->f[0].pc, b->f[0].pc);
    run(dw, &in, PP_UNWIND_MAX, c);
    CHECK(c->n >= 1 && c->n < a->n);
    /* libdwfl ends such a walk as if the stack ended; unwind_dw.c notices
     * the failed read and flags it */
    CHECK(c->status & PP_US_TRUNCATED);

    /* ... and everything back through live reads (the child's frames
     * above the leaf have not changed since the sample) */
    CHECK_EQ_INT(pp_mem_live_new(pid, &mem), 0);
    if (mem) {
        CHECK_EQ_INT(pp_unwind_libunwind_new(pid, NULL, mem, &lul, why, sizeof why), 0);
        CHECK_EQ_INT(pp_unwind_libdw_new(pid, NULL, mem, &dwl, why, sizeof why), 0);
    }
    if (lul && dwl) {
        CHECK(lul->allow_live);
        pp_mem_cache_reset(mem);
        run(lul, &in, PP_UNWIND_MAX, c);
        CHECK(same_frames(b, c));
        CHECK(c->status & PP_US_LIVE);
        CHECK(!(c->status & PP_US_TRUNCATED));
        CHECK(lul->live_reads > 0);
        pp_mem_cache_reset(mem);
        run(dwl, &in, PP_UNWIND_MAX, c);
        CHECK(same_frames(a, c));
        CHECK(c->status & PP_US_LIVE);
        /* a stack not copied at all */
        in.stack_len = 0;
        run(lul, &in, PP_UNWIND_MAX, c);
        CHECK(same_frames(b, c));
    }
    in.stack_len = smp.stack_len;

    /* 5. junk registers and stacks, with and without live reads */
    check_junk(lu, smp.regs, smp.stack, smp.stack_len);
    check_junk(dw, smp.regs, smp.stack, smp.stack_len);
    if (lul)
        check_junk(lul, smp.regs, smp.stack, smp.stack_len);
    /* still sane afterwards */
    run(lu, &in, PP_UNWIND_MAX, c);
    CHECK(same_frames(b, c));

    /* 6. through a signal handler */
    test_signal_frame();

out:
    pp_unwinder_free(dw);
    pp_unwinder_free(lu);
    pp_unwinder_free(dwl);
    pp_unwinder_free(lul);
    pp_sym_free(sym);
    if (mem)
        pp_mem_free(mem);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    free(smp.buf);
    free(a);
    free(b);
    free(c);
    munmap((void *)ready, 4096);
    TEST_DONE();
}
