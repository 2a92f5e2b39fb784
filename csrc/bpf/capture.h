/*
 * bpf/capture.h -- what the BPF capture program (capture.bpf.c) and the
 * sampler (bpf.c, mode_bpf.c) agree on: the configuration the sampler
 * writes before sampling, and the record the program writes per sample
 * (layer L1).
 *
 * Versions stay data: the program knows the three frame-chain shapes and
 * nothing else; every offset comes from the target's struct pp_pylayout.
 * Compiled for the host (the sampler) and for -target bpf (freestanding
 * <stdint.h>): fixed-width fields only, every struct padded by hand.
 */
#ifndef PP_BPF_CAPTURE_H
#define PP_BPF_CAPTURE_H

#include <stdint.h>

#define PP_BPF_MAX_FRAMES 128          /* Python frames per sample */
#define PP_BPF_STACK_MAX (32u << 10)   /* user stack bytes per sample (a power of two) */
#define PP_BPF_FRAME_READ_MAX 256      /* bytes read per Python frame */
#define PP_BPF_MAX_THREADS 16384       /* tid -> thread state entries */
#define PP_BPF_NPTREGS 21              /* x86-64 struct pt_regs, in words */

enum pp_bpf_shape {
    PP_BPF_OBJECTS = 0, /* <=3.10: tstate->frame, f_back */
    PP_BPF_CFRAME = 1,  /* 3.11-3.12: tstate->cframe->current_frame, previous */
    PP_BPF_CURRENT = 2, /* 3.13+: tstate->current_frame, previous */
    PP_BPF_NOWALK = 3,  /* registers and stack only (-a: a process without its own config) */
    PP_BPF_SKIP = 4,    /* no record at all (-a: the sampler and its CLI) */
};

/* One per target process (key: its tgid in the sampler's PID namespace);
 * -a also sets the "defaults" entry, used for every process without one. */
struct pp_bpf_config {
    uint32_t shape;        /* enum pp_bpf_shape */
    uint32_t frame_read;   /* bytes of each frame to read (<= PP_BPF_FRAME_READ_MAX) */
    uint32_t stack_size;   /* user stack bytes to copy (<= PP_BPF_STACK_MAX) */
    uint32_t max_frames;   /* <= PP_BPF_MAX_FRAMES */
    int32_t tstate_top;    /* tstate_frame, tstate_cframe or tstate_current_frame */
    int32_t cframe_current; /* PP_BPF_CFRAME: cframe_current_frame */
    int32_t tstate_base;   /* 3.15+: the thread's base frame pointer, or -1 */
    int32_t f_back;        /* frame_previous / f_back */
    int32_t f_code;        /* f_code / f_executable */
    int32_t f_instr;       /* f_lasti (int32) / prev_instr / instr_ptr (word) */
    int32_t f_owner;       /* 3.11+: owner byte, or -1 */
    int32_t f_is_entry;    /* 3.11: is_entry byte, or -1 */
    int32_t f_state;       /* <=3.10: f_state / f_executing byte, or -1 */
    int32_t f_gen;         /* <=3.10: f_gen word, or -1 */
    uint64_t code_mask;    /* 3.14+: clears the _PyStackRef tag bits */
};

/* rec.flags */
#define PP_BPF_REC_TSTATE 1u   /* the thread had a known thread state */
#define PP_BPF_REC_PYFAULT 2u  /* a Python frame could not be read: the chain is cut */
#define PP_BPF_REC_PYTRUNC 4u  /* more than max_frames frames */
#define PP_BPF_REC_REGS 8u     /* user registers were read */
#define PP_BPF_REC_PYBASE 16u  /* the chain ended at the thread's base frame (3.15+) */

/* One Python frame as the kernel saw it (a struct pp_pyframe_raw without
 * the flags, which the sampler derives from owner/is_entry). */
struct pp_bpf_frame {
    uint64_t frame;
    uint64_t code;    /* tag bits cleared */
    int64_t instr;    /* f_lasti (sign-extended) or the instruction pointer */
    int32_t owner;    /* 3.11+: owner; <=3.10: f_state / f_executing */
    int32_t is_entry; /* 3.11: is_entry; <=3.10: f_back == 0 && f_gen != 0 (torn) */
};

/* The ring-buffer record of one sample. */
struct pp_bpf_record {
    uint32_t pid, tid;        /* the sampler's PID namespace */
    uint64_t time_ns;         /* CLOCK_MONOTONIC */
    uint32_t flags;           /* PP_BPF_REC_* */
    uint32_t nframes;         /* frames[0..nframes), innermost first */
    uint32_t stack_len;       /* stack[0..stack_len) copied from regs sp */
    uint32_t pad;
    uint64_t tstate;
    uint64_t top_ptr;         /* PP_BPF_CFRAME: the _PyCFrame the top frame came from */
    uint64_t regs[PP_BPF_NPTREGS]; /* struct pt_regs of the user context */
    struct pp_bpf_frame frames[PP_BPF_MAX_FRAMES];
    uint8_t stack[PP_BPF_STACK_MAX + 4096]; /* + one page: the verifier's bound */
};

/* Per-CPU counters (array map "counters"). */
enum {
    PP_BPF_CNT_RUNS = 0,   /* program runs for a target thread */
    PP_BPF_CNT_LOST,       /* the ring was full */
    PP_BPF_CNT_N
};

#endif
