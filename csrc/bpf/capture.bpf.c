/*
 * capture.bpf.c -- the BPF capture program (layer L1; built with
 * clang -target bpf, embedded in the sampler, loaded by bpf.c).
 *
 * Attached to each target thread's task-clock perf event.  In the same
 * interrupt that would copy the stack for PERF_SAMPLE_STACK_USER it
 * writes one ring-buffer record (capture.h) with
 *   - the thread's user registers (task_pt_regs: also right when the
 *     sample lands in a system call),
 *   - a copy of its user stack from SP, page by page up to stack_size
 *     (a page that cannot be read ends the copy, as the kernel's own copy
 *     ends at the stack's last mapped page),
 *   - the thread's Python frame chain, walked with bounded reads from the
 *     thread state the sampler registered for this tid.
 * Under -a the program is attached to per-CPU cpu-clock events instead and
 * runs for whoever is on the CPU: a process without a configuration of its
 * own gets the "defaults" one (registers and stack, no Python walk), so the
 * sampler sees its first samples and can set one up.
 * The thread is interrupted while this runs, so the frames and the native
 * stack are of one instant.  Reads that fault end the walk and are
 * flagged; nothing here loops without a bound.  Returns 0: the perf event
 * itself writes nothing.
 *
 * No libbpf headers: the few helpers are declared here by number
 * (include/uapi/linux/bpf.h), so clang alone builds it.
 */
#include <stdint.h>

#include "capture.h"

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name

/* include/uapi/linux/bpf.h */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_ANY 0

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static uint64_t (*bpf_ktime_get_ns)(void) = (void *)5;
static uint64_t (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_probe_read_user)(void *dst, uint32_t size, const void *src) = (void *)112;
static long (*bpf_probe_read_kernel)(void *dst, uint32_t size, const void *src) = (void *)113;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, uint64_t size, uint64_t flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, uint64_t flags) = (void *)132;
static void *(*bpf_get_current_task_btf)(void) = (void *)158;
static long (*bpf_task_pt_regs)(void *task) = (void *)175;
static long (*bpf_loop)(uint32_t nr_loops, void *callback_fn, void *callback_ctx,
                        uint64_t flags) = (void *)181;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);            /* -a: every Python process of the machine */
    __type(key, uint32_t);                /* tgid */
    __type(value, struct pp_bpf_config);
} configs SEC(".maps");

/* -a: the configuration of a process without its own (stack_size 0: none,
 * the program does nothing for it) */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, struct pp_bpf_config);
} defaults SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, PP_BPF_MAX_THREADS);
    __type(key, uint32_t);                /* tid */
    __type(value, uint64_t);              /* thread state address */
} threads SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16u << 20);       /* the sampler may resize it */
} ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, PP_BPF_CNT_N);
    __type(key, uint32_t);
    __type(value, uint64_t);
} counters SEC(".maps");

struct scratch {
    uint8_t b[2 * PP_BPF_FRAME_READ_MAX]; /* a field read at offset < 256 stays inside */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, struct scratch);
} scratch SEC(".maps");

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_* are GPL-only */

static __attribute__((always_inline)) void
count(uint32_t which)
{
    uint64_t *c = bpf_map_lookup_elem(&counters, &which);
    if (c)
        *c += 1;
}

static __attribute__((always_inline)) uint64_t
word_at(const uint8_t *b, int32_t off)
{
    return *(const uint64_t *)(b + (off & (PP_BPF_FRAME_READ_MAX - 1)));
}

static __attribute__((always_inline)) int32_t
byte_at(const uint8_t *b, int32_t off)
{
    return (int8_t)b[off & (PP_BPF_FRAME_READ_MAX - 1)];
}

static __attribute__((always_inline)) uint64_t
read_word(uint64_t addr)
{
    uint64_t v = 0;
    if (bpf_probe_read_user(&v, sizeof v, (const void *)addr))
        return 0;
    return v;
}

static __attribute__((always_inline)) void
copy_stack(struct pp_bpf_record *r, uint64_t sp, uint64_t size)
{
    uint64_t copied = 0; /* 64-bit: no zero-extended copies the verifier cannot follow */
    int i;

    for (i = 0; i < (int)(PP_BPF_STACK_MAX / 4096 + 1); i++) {
        uint64_t chunk = 4096 - ((sp + copied) & 4095);
        if (copied >= size)
            break;
        if (chunk > size - copied)
            chunk = size - copied;
        /* the compiler knows chunk <= 4096 on both paths; the verifier
         * must be told again after it forgets */
        __asm__ volatile("" : "+r"(chunk));
        if (chunk == 0 || chunk > 4096)
            break;
        if (bpf_probe_read_user(r->stack + (copied & (PP_BPF_STACK_MAX - 1)), (uint32_t)chunk,
                                (const void *)(sp + copied)))
            break;
        copied += chunk;
    }
    r->stack_len = (uint32_t)copied;
}

/* The state of one frame-chain walk, for bpf_loop's callback: the loop
 * body is verified once, not once per frame (128 unrolled copies took the
 * verifier ~0.3 s of CPU at every start). */
struct walk_ctx {
    struct pp_bpf_record *r;
    const struct pp_bpf_config *c;
    uint8_t *buf;
    uint64_t f, base;
    uint32_t len, max;
};

static long
walk_step(uint64_t i, void *arg)
{
    struct walk_ctx *w = arg;
    const struct pp_bpf_config *c = w->c;
    struct pp_bpf_record *r = w->r;
    struct pp_bpf_frame *out;
    uint8_t *buf = w->buf;
    uint64_t f = w->f;
    uint32_t len = w->len;

    if (!f)
        return 1;
    if (f == w->base) {
        r->flags |= PP_BPF_REC_PYBASE;
        return 1;
    }
    if (i >= w->max) {
        r->flags |= PP_BPF_REC_PYTRUNC;
        return 1;
    }
    if (len == 0 || len > PP_BPF_FRAME_READ_MAX ||
        bpf_probe_read_user(buf, len, (const void *)f)) {
        r->flags |= PP_BPF_REC_PYFAULT;
        return 1;
    }
    out = &r->frames[i & (PP_BPF_MAX_FRAMES - 1)];
    out->frame = f;
    out->code = word_at(buf, c->f_code) & c->code_mask;
    if (c->shape == PP_BPF_OBJECTS) {
        out->instr = *(const int32_t *)(buf + (c->f_instr & (PP_BPF_FRAME_READ_MAX - 1)));
        out->owner = c->f_state >= 0 ? byte_at(buf, c->f_state) : 0;
        f = word_at(buf, c->f_back);
        out->is_entry = !f && c->f_gen >= 0 && word_at(buf, c->f_gen) != 0;
    } else {
        out->instr = (int64_t)word_at(buf, c->f_instr);
        out->owner = c->f_owner >= 0 ? byte_at(buf, c->f_owner) : 0;
        out->is_entry = c->f_is_entry >= 0 ? byte_at(buf, c->f_is_entry) : 0;
        f = word_at(buf, c->f_back);
    }
    r->nframes = (uint32_t)(i + 1);
    w->f = f;
    return 0;
}

static __attribute__((always_inline)) void
walk(struct pp_bpf_record *r, const struct pp_bpf_config *c, uint64_t ts, uint8_t *buf)
{
    struct walk_ctx w;

    w.r = r;
    w.c = c;
    w.buf = buf;
    w.len = c->frame_read;
    w.max = c->max_frames > PP_BPF_MAX_FRAMES ? PP_BPF_MAX_FRAMES : c->max_frames;
    w.base = 0;
    w.f = read_word(ts + c->tstate_top);
    if (c->shape == PP_BPF_CFRAME) {
        r->top_ptr = w.f;
        w.f = w.f ? read_word(w.f + c->cframe_current) : 0;
    }
    if (c->tstate_base >= 0)
        w.base = read_word(ts + c->tstate_base);
    /* one more turn than frames: the last one sees the end or the limit */
    bpf_loop(PP_BPF_MAX_FRAMES + 1, walk_step, &w, 0);
}

SEC("perf_event")
int
pp_capture(void *ctx)
{
    uint64_t id = bpf_get_current_pid_tgid();
    uint32_t tgid = (uint32_t)(id >> 32), tid = (uint32_t)id, zero = 0;
    const struct pp_bpf_config *c;
    struct pp_bpf_record *r;
    struct scratch *s;
    uint64_t *ts, sp;
    long regs;

    (void)ctx;
    if (tgid == 0)
        return 0; /* the idle task */
    c = bpf_map_lookup_elem(&configs, &tgid);
    if (!c) { /* a process whose session ended, or -a's any process */
        c = bpf_map_lookup_elem(&defaults, &zero);
        if (!c || c->stack_size == 0)
            return 0;
    }
    if (c->shape == PP_BPF_SKIP)
        return 0;
    count(PP_BPF_CNT_RUNS);
    s = bpf_map_lookup_elem(&scratch, &zero);
    if (!s)
        return 0;
    r = bpf_ringbuf_reserve(&ring, sizeof(*r), 0);
    if (!r) {
        count(PP_BPF_CNT_LOST);
        return 0;
    }
    r->pid = tgid;
    r->tid = tid;
    r->time_ns = bpf_ktime_get_ns();
    r->flags = 0;
    r->nframes = 0;
    r->stack_len = 0;
    r->pad = 0;
    r->tstate = 0;
    r->top_ptr = 0;
    regs = bpf_task_pt_regs(bpf_get_current_task_btf());
    if (regs && bpf_probe_read_kernel(r->regs, sizeof r->regs, (const void *)regs) == 0 &&
        (r->regs[17] & 3) == 3) { /* cs: the saved context is user mode */
        r->flags |= PP_BPF_REC_REGS;
        sp = r->regs[19];
        copy_stack(r, sp, c->stack_size > PP_BPF_STACK_MAX ? PP_BPF_STACK_MAX : c->stack_size);
    }
    ts = c->shape <= PP_BPF_CURRENT ? bpf_map_lookup_elem(&threads, &tid) : 0;
    if (ts && *ts) {
        r->tstate = *ts;
        r->flags |= PP_BPF_REC_TSTATE;
        walk(r, c, *ts, s->b);
    }
    bpf_ringbuf_submit(r, 0);
    return 0;
}
