/*
 * perf.c -- per-thread perf_event_open sampling (see perf.h).
 *
 * Ring-buffer protocol (perf_event_open(2)): data_head is read with
 * acquire semantics, records are parsed from data_tail to data_head
 * (offsets grow forever; a record, even its header, may wrap), and
 * data_tail is stored with release semantics once a record is consumed,
 * so the kernel never overwrites unread data (it emits PERF_RECORD_LOST).
 */
#include "perf.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

/* perf's x86-64 register numbers (asm/perf_regs.h) in the order the
 * kernel writes them (ascending bit), and their DWARF numbers. */
enum {
    PR_AX = 0, PR_BX, PR_CX, PR_DX, PR_SI, PR_DI, PR_BP, PR_SP, PR_IP, PR_FLAGS,
    PR_R8 = 16, PR_R15 = 23
};
static const int dwarf_of_bit[24] = {
    [PR_AX] = 0, [PR_BX] = 3, [PR_CX] = 2, [PR_DX] = 1, [PR_SI] = 4, [PR_DI] = 5,
    [PR_BP] = 6, [PR_SP] = 7, [PR_IP] = 16, [9] = -1, [10] = -1, [11] = -1, [12] = -1,
    [13] = -1, [14] = -1, [15] = -1, [16] = 8, [17] = 9, [18] = 10, [19] = 11, [20] = 12,
    [21] = 13, [22] = 14, [23] = 15,
};
#define REGS_MASK (((1ull << 9) - 1) | (0xffull << 16)) /* AX..IP, R8..R15 */

static void close_thread(struct pp_perf *p, size_t i);

static int
sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group, unsigned long fl)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group, fl);
}

int
pp_perf_init(struct pp_perf *p, const struct pp_event *ev, uint32_t stack_size)
{
    memset(p, 0, sizeof *p);
    if (ev->period == 0 || (ev->cls == PP_EVENT_TRACEPOINT && ev->config == 0))
        return PP_EUSAGE; /* pp_event_set_rate(), pp_event_resolve() first */
    p->ev = *ev;
    stack_size &= ~7u;
    if (stack_size > PP_PERF_STACK_MAX)
        stack_size = PP_PERF_STACK_MAX;
    p->stack_size = stack_size;
    /* room for a few samples between two drains; counting events come in
     * bursts (a memset faulting in 2048 pages, a loop of syscalls): room
     * for 64 of them, else most of a burst is lost */
    p->data_pages = 8;
    while (p->data_pages * 4096 < (ev->jitter ? 8 : 64) * (size_t)(stack_size + 512))
        p->data_pages *= 2;
    p->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() ^ ((uint64_t)time(NULL) << 20);
    p->rec_cap = 1u << 17;
    p->rec = malloc(p->rec_cap);
    if (!p->rec)
        return PP_ENOMEM;
    pp_vec_init(&p->threads, sizeof(struct pp_perf_thread));
    return 0;
}

bool
pp_perf_has(const struct pp_perf *p, int tid)
{
    size_t i;
    for (i = 0; i < p->threads.len; i++)
        if (((const struct pp_perf_thread *)pp_vec_at(&p->threads, i))->tid == tid &&
            !((const struct pp_perf_thread *)pp_vec_at(&p->threads, i))->offcpu)
            return true;
    return false;
}

/*
 * One ring per event.  The --off-cpu event counts context switches (every
 * one: period 1) in kernel mode, where they happen; its sample at the
 * switch-out still holds the thread's user registers and stack (where it
 * blocked), and context_switch adds a record at the switch-in: the time
 * between the two is the time the thread waited.
 */
/* perf_event_open's errno as the caller's PP_E* */
static int
open_error(int err)
{
    if (err == ESRCH)
        return PP_EGONE;
    if (err == EACCES || err == EPERM)
        return PP_EPERM;
    if (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)
        return PP_ENOEVENT;
    return PP_EIO;
}

/* Maps t's ring (pages of data, fewer when the mlock budget is small) and
 * keeps t; on failure t's fd is closed. */
static int
map_ring(struct pp_perf *p, struct pp_perf_thread *t, size_t pages, int *why)
{
    int err;
    for (;;) { /* unprivileged users have a small mlock budget: shrink */
        void *m = mmap(NULL, (pages + 1) * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
        if (m != MAP_FAILED) {
            t->base = m;
            t->data_size = pages * 4096;
            break;
        }
        err = errno;
        if (pages <= 2 || (err != EPERM && err != ENOMEM)) {
            close(t->fd);
            if (why)
                *why = err;
            return err == EPERM ? PP_EPERM : PP_ENOMEM;
        }
        pages /= 2;
    }
    if ((err = pp_vec_append(&p->threads, t))) {
        munmap(t->base, t->data_size + 4096);
        close(t->fd);
        return err;
    }
    p->opened++;
    return 0;
}

static int
open_one(struct pp_perf *p, int tid, bool offcpu, int *why)
{
    struct perf_event_attr attr;
    struct pp_perf_thread t;
    size_t pages = p->data_pages;
    int fd, err;

    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = offcpu ? PERF_TYPE_SOFTWARE : p->ev.type;
    attr.config = offcpu ? PERF_COUNT_SW_CONTEXT_SWITCHES : p->ev.config;
    attr.sample_period = offcpu ? 1 : p->ev.period;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                       PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = REGS_MASK;
    attr.sample_stack_user = p->stack_size;
    /* kernel-side events (switches, tracepoints) are delivered in kernel
     * mode; their sample still carries the thread's user registers and stack */
    attr.exclude_kernel = offcpu ? 0 : p->ev.user_only;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.wakeup_events = 1; /* read each sample at once: the Python side is read then */
    if (offcpu) {
        attr.context_switch = 1;
        attr.sample_id_all = 1; /* the switch records carry tid and time */
    }
    fd = sys_perf_event_open(&attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
        err = errno;
        if (why)
            *why = err;
        return open_error(err);
    }
    memset(&t, 0, sizeof t);
    t.tid = tid;
    t.cpu = -1;
    t.fd = fd;
    t.offcpu = offcpu;
    return map_ring(p, &t, pages, why);
}

int
pp_perf_add(struct pp_perf *p, int tid, int *why)
{
    int err;

    if (why)
        *why = 0;
    if (pp_perf_has(p, tid))
        return 0;
    if ((err = open_one(p, tid, false, why)))
        return err;
    if (p->offcpu && (err = open_one(p, tid, true, why))) {
        close_thread(p, p->threads.len - 1); /* both or neither */
        return err;
    }
    return 0;
}

/*
 * System-wide (-a): one cpu-clock event per CPU (pid -1) samples whoever
 * runs there.  The same sample layout as pp_perf_add's, so pp_perf_next
 * reads both; with kernel, the kernel's callchain too.
 */
int
pp_perf_add_cpu(struct pp_perf *p, int cpu, bool kernel, int *why)
{
    struct perf_event_attr attr;
    struct pp_perf_thread t;
    size_t pages = p->data_pages;
    int fd, err;

    if (why)
        *why = 0;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK; /* the CPU's time, whoever runs */
    attr.sample_period = p->ev.period;
    attr.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
                       PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    attr.sample_regs_user = REGS_MASK;
    attr.sample_stack_user = p->stack_size;
    attr.exclude_kernel = !kernel;
    attr.exclude_hv = 1;
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.wakeup_events = 1;
    if (kernel) {
        attr.sample_type |= PERF_SAMPLE_CALLCHAIN;
        attr.exclude_callchain_user = 1; /* the user part is unwound from the copy */
        p->callchain = true;
    }
    fd = sys_perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
        err = errno;
        if (why)
            *why = err;
        return err == EACCES || err == EPERM ? PP_EPERM : PP_EIO;
    }
    memset(&t, 0, sizeof t);
    t.tid = -1;
    t.cpu = cpu;
    t.fd = fd;
    return map_ring(p, &t, pages, why);
}

static void
close_thread(struct pp_perf *p, size_t i)
{
    struct pp_perf_thread *t = pp_vec_at(&p->threads, i);
    munmap(t->base, t->data_size + 4096);
    close(t->fd);
    memmove(t, t + 1, (p->threads.len - i - 1) * sizeof *t);
    p->threads.len--;
    p->closed++;
    if (p->next > i)
        p->next--;
}

static uint64_t
ring_head(const struct pp_perf_thread *t)
{
    const struct perf_event_mmap_page *pc = (const void *)t->base;
    return __atomic_load_n(&pc->data_head, __ATOMIC_ACQUIRE);
}

static uint64_t
ring_tail(const struct pp_perf_thread *t)
{
    const struct perf_event_mmap_page *pc = (const void *)t->base;
    return pc->data_tail;
}

static void
ring_set_tail(struct pp_perf_thread *t, uint64_t tail)
{
    struct perf_event_mmap_page *pc = (void *)t->base;
    __atomic_store_n(&pc->data_tail, tail, __ATOMIC_RELEASE);
}

static void
ring_copy(const struct pp_perf_thread *t, uint64_t off, void *dst, size_t n)
{
    const uint8_t *data = t->base + 4096;
    size_t pos = (size_t)(off % t->data_size);
    size_t first = t->data_size - pos < n ? t->data_size - pos : n;
    memcpy(dst, data + pos, first);
    memcpy((uint8_t *)dst + first, data, n - first);
}

size_t
pp_perf_pollfds(struct pp_perf *p, struct pollfd *fds, size_t max, bool *ready)
{
    size_t i, n = p->threads.len < max ? p->threads.len : max;
    for (i = 0; i < n; i++) {
        struct pp_perf_thread *t = pp_vec_at(&p->threads, i);
        if (ring_head(t) != ring_tail(t))
            *ready = true;
        fds[i].fd = t->fd;
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    return n;
}

void
pp_perf_after_poll(struct pp_perf *p, const struct pollfd *fds, size_t n)
{
    size_t i;
    if (n > p->threads.len)
        n = p->threads.len;
    for (i = n; i-- > 0;) {
        struct pp_perf_thread *t = pp_vec_at(&p->threads, i);
        if (t->fd != fds[i].fd)
            continue;
        if (fds[i].revents & (POLLHUP | POLLERR)) {
            t->hup = true;
            if (ring_head(t) == ring_tail(t))
                close_thread(p, i);
        }
    }
}

/* Parses one PERF_RECORD_SAMPLE body (after the header). */
static int
parse_sample(struct pp_perf *p, const uint8_t *b, size_t len, struct pp_perf_sample *out)
{
    size_t off = 0, bit, k = 0;
    uint64_t abi, size, dyn;

#define TAKE(dst, n)                                                                      \
    do {                                                                                  \
        if (off + (n) > len)                                                              \
            return PP_EBADDATA;                                                           \
        memcpy((dst), b + off, (n));                                                      \
        off += (n);                                                                       \
    } while (0)
    uint64_t ip;
    uint32_t pt[2];
    TAKE(&ip, 8);
    TAKE(pt, 8);
    out->pid = (int)pt[0];
    out->tid = (int)pt[1];
    TAKE(&out->time_ns, 8);
    out->kernel_pcs = NULL;
    out->nkernel = 0;
    if (p->callchain) { /* PERF_SAMPLE_CALLCHAIN: nr, then nr PCs with context markers */
        uint64_t nr, i, pc;
        TAKE(&nr, 8);
        if (nr > (len - off) / 8)
            return PP_EBADDATA;
        for (i = 0; i < nr; i++) {
            memcpy(&pc, b + off + i * 8, 8);
            if (pc == (uint64_t)PERF_CONTEXT_KERNEL) {
                out->kernel_pcs = (const uint64_t *)(b + off + (i + 1) * 8);
            } else if (pc >= (uint64_t)PERF_CONTEXT_MAX) {
                if (out->kernel_pcs)
                    break; /* the end of the kernel part */
            } else if (out->kernel_pcs) {
                out->nkernel++;
            }
        }
        off += nr * 8;
    }
    TAKE(&abi, 8);
    memset(out->regs, 0, sizeof out->regs);
    out->have_regs = abi != PERF_SAMPLE_REGS_ABI_NONE;
    if (out->have_regs) {
        for (bit = 0; bit < 24; bit++) {
            uint64_t v;
            if (!(REGS_MASK & (1ull << bit)))
                continue;
            TAKE(&v, 8);
            if (dwarf_of_bit[bit] >= 0)
                out->regs[dwarf_of_bit[bit]] = v;
            k++;
        }
    }
    TAKE(&size, 8);
    out->stack = NULL;
    out->stack_len = 0;
    if (size) {
        if (off + size + 8 > len)
            return PP_EBADDATA;
        out->stack = b + off;
        off += size;
        TAKE(&dyn, 8);
        out->stack_len = dyn <= size ? dyn : size;
    }
#undef TAKE
    return 0;
}

/*
 * A fixed period locks onto a periodic workload: a loop whose iteration
 * divides the period in CPU time is always sampled at the same phase (seen:
 * a 0.3 ms C call sampled 60x less often than its share).  So every sample
 * draws the next period from an exponential distribution with the same
 * mean, as the timer of Python-only mode does.  One ioctl per sample.
 */
uint64_t
pp_perf_jitter(uint64_t *rng, uint64_t period_ns)
{
    double u, v;
    uint64_t period;

    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    u = ((double)(*rng >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    v = -log(u) * (double)period_ns;
    if (v > 10.0 * (double)period_ns)
        v = 10.0 * (double)period_ns;
    period = (uint64_t)v;
    return period < 10000 ? 10000 : period;
}

static void
rearm(struct pp_perf *p, struct pp_perf_thread *t)
{
    uint64_t period;
    if (!p->ev.jitter)
        return; /* -c N, counting events: every N events exactly */
    if (t->cpu >= 0) {
        /* A per-CPU event (-a) samples whoever runs: a short period would
         * land in the reader itself, woken by the last sample, and
         * re-arming after that one asks for more (seen: a storm at 30 us).
         * Its period is uniform in [0.5, 1.5) means: still no phase lock,
         * never short. */
        double u;
        p->rng ^= p->rng << 13;
        p->rng ^= p->rng >> 7;
        p->rng ^= p->rng << 17;
        u = ((double)(p->rng >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
        period = (uint64_t)((0.5 + (1.0 - u)) * (double)p->ev.period);
    } else {
        period = pp_perf_jitter(&p->rng, p->ev.period);
    }
    if (ioctl(t->fd, PERF_EVENT_IOC_PERIOD, &period) == 0)
        p->rearmed++;
}

int
pp_perf_open_counter(int tid, int cpu, const struct pp_event *ev, uint64_t period, int *why)
{
    struct perf_event_attr attr;
    int fd;

    *why = 0;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = ev->type;
    attr.config = ev->config;
    attr.sample_period = period ? period : 1;
    if (ev->cls == PP_EVENT_CLOCK && attr.sample_period < 10000)
        attr.sample_period = 10000;
    attr.exclude_kernel = ev->user_only;
    attr.exclude_hv = 1;
    attr.disabled = 1;
    fd = sys_perf_event_open(&attr, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0)
        return fd;
    *why = errno;
    return open_error(*why);
}

int
pp_perf_next(struct pp_perf *p, struct pp_perf_sample *out)
{
    size_t scanned;

    for (scanned = 0; scanned < p->threads.len; scanned++) {
        struct pp_perf_thread *t;
        uint64_t head, tail;
        if (p->next >= p->threads.len)
            p->next = 0;
        t = pp_vec_at(&p->threads, p->next);
        head = ring_head(t);
        tail = ring_tail(t);
        while (tail != head) {
            struct perf_event_header h;
            if (head - tail < sizeof h || head - tail > t->data_size) {
                ring_set_tail(t, head); /* cannot happen; resynchronise */
                break;
            }
            ring_copy(t, tail, &h, sizeof h);
            if (h.size < sizeof h || h.size > head - tail) {
                ring_set_tail(t, head);
                break;
            }
            if (h.size > p->rec_cap) { /* cannot happen: 16-bit size */
                tail += h.size;
                ring_set_tail(t, tail);
                continue;
            }
            ring_copy(t, tail, p->rec, h.size);
            tail += h.size;
            ring_set_tail(t, tail); /* copied out: the kernel may reuse it */
            p->records++;
            switch (h.type) {
            case PERF_RECORD_SAMPLE:
                if (parse_sample(p, p->rec + sizeof h, h.size - sizeof h, out) == 0) {
                    out->kind = PP_PERF_SAMPLE;
                    out->offcpu = t->offcpu;
                    out->preempt = false;
                    if (!t->offcpu)
                        rearm(p, t);
                    p->next++; /* round robin: the next call starts with the next thread */
                    return 1;
                }
                break;
            case PERF_RECORD_SWITCH: {
                /* sample_id_all: {pid, tid} then time */
                uint32_t pt[2];
                if (h.size < sizeof h + 16)
                    break;
                memcpy(pt, p->rec + sizeof h, 8);
                memcpy(&out->time_ns, p->rec + sizeof h + 8, 8);
                out->kind = (h.misc & PERF_RECORD_MISC_SWITCH_OUT) ? PP_PERF_SWITCH_OUT
                                                                  : PP_PERF_SWITCH_IN;
                out->preempt = (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0;
                out->offcpu = true;
                out->pid = (int)pt[0];
                out->tid = (int)pt[1];
                out->have_regs = false;
                out->stack = NULL;
                out->stack_len = 0;
                p->next++;
                return 1;
            }
            case PERF_RECORD_LOST: {
                uint64_t lost[2];
                if (h.size >= sizeof h + 16) {
                    memcpy(lost, p->rec + sizeof h, 16);
                    p->lost += lost[1];
                }
                break;
            }
            case PERF_RECORD_THROTTLE:
                p->throttled++;
                break;
            default:
                break;
            }
        }
        if (t->hup) {
            close_thread(p, p->next);
            continue;
        }
        p->next++;
    }
    return 0;
}

void
pp_perf_free(struct pp_perf *p)
{
    while (p->threads.len)
        close_thread(p, p->threads.len - 1);
    pp_vec_free(&p->threads);
    free(p->rec);
    p->rec = NULL;
}
