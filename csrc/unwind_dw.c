/*
 * unwind_dw.c -- the libdw unwinder backend (see unwind.h).
 *
 * One Dwfl per target address space, built once from /proc/PID/maps
 * (dwfl_linux_proc_report: modules are only recorded, files are opened on
 * first use) and attached once with our own thread callbacks: the only
 * thread is the sampled one, its registers are the sample's, its memory
 * is the sample's stack copy.  libdwfl caches each module's ELF and CFI;
 * a refresh re-reports the maps inside begin/end, which keeps unchanged
 * modules and their caches and drops unmapped ones.
 */
#include "unwind.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dw.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#if PP_HAVE_LIBDW

/*
 * The row cache.  libdwfl interprets the CFI program of every frame anew
 * and allocates as it goes (~1.2 us per frame here).  Almost every row
 * GCC emits on x86-64 is "CFA = rsp or rbp + k; return address at CFA - 8;
 * rbp unchanged or saved at CFA + j": such rows are computed once per PC
 * (with libdw) and replayed from this table.  A stack with any other row
 * (a signal frame, a DWARF expression, realigned frames, no FDE) is
 * unwound by libdwfl from the start, as before.
 */
#define ROWS (1u << 15)
enum { ROW_EMPTY, ROW_SIMPLE, ROW_COMPLEX };
enum { BP_SAME, BP_SAVED, BP_UNDEF };

struct row {
    uint64_t pc;    /* adjusted PC */
    uint8_t kind;   /* ROW_* */
    uint8_t cfa_bp; /* CFA from rbp (else rsp) */
    uint8_t bp;     /* BP_* */
    uint8_t ra_undef; /* the outermost frame */
    int32_t cfa_off, ra_off, bp_off;
};

struct dwu {
    struct pp_unwinder base;
    struct row *rows;
    uint64_t fast, slow;
    Dwfl *dwfl;
    Dwfl_Callbacks cbs;
    char *debuginfo_path;
    bool attached;
    /* the sample being unwound */
    const struct pp_unwind_input *cur;
    struct pp_unwind_frame *out;
    size_t max, n;
    unsigned status;
    uint64_t last_sp;
    bool read_failed; /* libdwfl ends a walk on a failed read as if complete */
};

static pid_t
next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    struct dwu *u = arg;
    (void)dwfl;
    if (*thread_argp != NULL || !u->cur)
        return 0;
    *thread_argp = u;
    return u->cur->tid;
}

static bool
get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    struct dwu *u = arg;
    (void)dwfl;
    if (!u->cur || tid != u->cur->tid)
        return false;
    *thread_argp = u;
    return true;
}

static bool
memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    struct dwu *u = arg;
    const struct pp_unwind_input *in = u->cur;
    uint64_t sp;
    (void)dwfl;

    if (!in)
        return false;
    sp = in->regs[7];
    if (addr >= sp && addr - sp + 8 <= in->stack_len) {
        memcpy(result, in->stack + (addr - sp), 8);
        return true;
    }
    if (!u->base.allow_live || !u->base.mem) {
        u->read_failed = true;
        return false;
    }
    u->base.live_reads++;
    u->status |= PP_US_LIVE;
    if (pp_mem_read_cached(u->base.mem, addr, result, 8) != 0) {
        u->base.failed_reads++;
        u->read_failed = true;
        return false;
    }
    return true;
}

static bool
set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    struct dwu *u = arg;
    Dwarf_Word regs[16];
    int i;

    for (i = 0; i < 16; i++)
        regs[i] = u->cur->regs[i];
    if (!pp_dw.dwfl_thread_state_registers(thread, 0, 16, regs))
        return false;
    pp_dw.dwfl_thread_state_register_pc(thread, u->cur->regs[16]);
    return true;
}

static const Dwfl_Thread_Callbacks thread_cbs = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

static int
frame_cb(Dwfl_Frame *state, void *arg)
{
    struct dwu *u = arg;
    Dwarf_Addr pc;
    Dwarf_Word sp = 0;
    bool act = false;

    if (!pp_dw.dwfl_frame_pc(state, &pc, &act)) {
        u->status |= PP_US_TRUNCATED;
        return DWARF_CB_ABORT;
    }
    if (!act && pc > 0)
        pc--; /* a return address: look up the call instruction */
    if (pc == 0) { /* outermost frame with a zeroed return address */
        return DWARF_CB_ABORT;
    }
    if (u->n > 0 && !pp_dw.dwfl_addrmodule(u->dwfl, pc)) {
        u->status |= PP_US_NOMODULE | PP_US_TRUNCATED;
        return DWARF_CB_ABORT;
    }
    if (pp_dw.dwfl_frame_reg(state, 7, &sp) == 0) {
        if (u->n > 0 && sp <= u->last_sp) { /* no progress: a loop or junk */
            u->status |= PP_US_TRUNCATED;
            return DWARF_CB_ABORT;
        }
        u->last_sp = sp;
    }
    if (u->n >= u->max) {
        u->status |= PP_US_DEPTH;
        return DWARF_CB_ABORT;
    }
    u->out[u->n].pc = pc;
    u->out[u->n].sp = sp;
    u->out[u->n].flags = act ? PP_UF_ACTIVATION : 0;
    u->n++;
    return DWARF_CB_OK;
}

/* The rule for DWARF register reg as (kind, offset from CFA). */
static int
reg_rule(Dwarf_Frame *f, int reg, int *off)
{
    Dwarf_Op mem[3], *ops = NULL;
    size_t n = 0;
    if (pp_dw.dwarf_frame_register(f, reg, mem, &ops, &n) != 0)
        return -1;
    if (n == 0)
        return ops == NULL ? BP_SAME : BP_UNDEF;
    if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
        int64_t v = (int64_t)ops[1].number;
        if (v < -4096 || v > 4096)
            return -1;
        *off = (int)v;
        return BP_SAVED;
    }
    return -1;
}

/*
 * A CFA expression of the form "SP + f(PC)", evaluated for one PC (rows
 * are per PC): the .plt entries' rule, rsp + 8 + ((rip & 15) >= 11) * 8,
 * which libdwfl's own walk does not get past.  Only SP, PC and constant
 * arithmetic; anything else is left to libdwfl.  1 and *off on success.
 */
static int
cfa_sp_plus(const Dwarf_Op *ops, size_t n, uint64_t pc, int32_t *off)
{
    int64_t st[8];
    size_t i, k = 0;
    bool sp_seen = false;

    if (n > 16)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned atom = ops[i].atom;
        int64_t a, b;
        if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
            if (k == 8)
                return 0;
            st[k++] = (int64_t)(atom - DW_OP_lit0);
            continue;
        }
        switch (atom) {
        case DW_OP_breg7: /* rsp: must be the first term, counted once */
            if (sp_seen || k != 0)
                return 0;
            sp_seen = true;
            st[k++] = (int64_t)ops[i].number;
            continue;
        case DW_OP_breg16: /* rip */
            if (k == 8)
                return 0;
            st[k++] = (int64_t)pc + (int64_t)ops[i].number;
            continue;
        case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u:
        case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s:
            if (k == 8)
                return 0;
            st[k++] = (int64_t)ops[i].number;
            continue;
        default:
            break;
        }
        if (k < 2)
            return 0;
        b = st[--k];
        a = st[k - 1];
        switch (atom) {
        case DW_OP_and: a &= b; break;
        case DW_OP_plus: a += b; break;
        case DW_OP_minus: a -= b; break;
        case DW_OP_ge: a = a >= b; break;
        case DW_OP_gt: a = a > b; break;
        case DW_OP_shl: if (b < 0 || b > 16) return 0; a <<= b; break;
        default: return 0;
        }
        st[k - 1] = a;
    }
    /* the bottom of the stack holds SP's offset plus every term added */
    if (!sp_seen || k != 1 || st[0] < 0 || st[0] > 4096)
        return 0;
    *off = (int32_t)st[0];
    return 1;
}

static void
compute_row(struct dwu *u, uint64_t pc, struct row *r)
{
    Dwfl_Module *mod = pp_dw.dwfl_addrmodule(u->dwfl, pc);
    Dwarf_Addr bias, start, end;
    Dwarf_CFI *cfi;
    Dwarf_Frame *f = NULL;
    Dwarf_Op *ops;
    size_t n;
    bool signal = false;
    int k, off = 0;

    memset(r, 0, sizeof(*r));
    r->pc = pc;
    r->kind = ROW_COMPLEX;
    if (!mod || !(cfi = pp_dw.dwfl_module_eh_cfi(mod, &bias)) ||
        pp_dw.dwarf_cfi_addrframe(cfi, pc - bias, &f) != 0)
        return;
    if (pp_dw.dwarf_frame_info(f, &start, &end, &signal) < 0 || signal)
        goto out;
    if (pp_dw.dwarf_frame_cfa(f, &ops, &n) != 0 || n == 0)
        goto out;
    if (n > 1) {
        if (!cfa_sp_plus(ops, n, pc, &r->cfa_off))
            goto out;
    } else if (ops[0].atom == DW_OP_bregx && (ops[0].number == 6 || ops[0].number == 7)) {
        r->cfa_bp = ops[0].number == 6;
        r->cfa_off = (int32_t)(int64_t)ops[0].number2;
    } else if (ops[0].atom == DW_OP_breg6 || ops[0].atom == DW_OP_breg7) {
        r->cfa_bp = ops[0].atom == DW_OP_breg6;
        r->cfa_off = (int32_t)(int64_t)ops[0].number;
    } else {
        goto out;
    }
    if (r->cfa_off < 0 || r->cfa_off > (1 << 20))
        goto out;
    k = reg_rule(f, 16, &off);
    if (k == BP_UNDEF)
        r->ra_undef = 1;
    else if (k == BP_SAVED)
        r->ra_off = off;
    else
        goto out;
    k = reg_rule(f, 6, &off);
    if (k < 0)
        goto out;
    r->bp = (uint8_t)k;
    r->bp_off = off;
    r->kind = ROW_SIMPLE;
out:
    free(f);
}

static const struct row *
row_of(struct dwu *u, uint64_t pc)
{
    struct row *r = &u->rows[pp_hash_u64(pc) & (ROWS - 1)];
    if (r->kind == ROW_EMPTY || r->pc != pc)
        compute_row(u, pc, r); /* a collision just replaces the entry */
    return r;
}

static bool
read_word(struct dwu *u, const struct pp_unwind_input *in, uint64_t addr, uint64_t *v)
{
    uint64_t sp = in->regs[7];
    if (addr >= sp && addr - sp + 8 <= in->stack_len) {
        memcpy(v, in->stack + (addr - sp), 8);
        return true;
    }
    if (!u->base.allow_live || !u->base.mem)
        return false;
    u->base.live_reads++;
    u->status |= PP_US_LIVE;
    if (pp_mem_read_cached(u->base.mem, addr, v, 8) != 0) {
        u->base.failed_reads++;
        return false;
    }
    return true;
}

/* 1: unwound from the row cache; 0: a row it cannot replay (use libdwfl). */
static int
fast_unwind(struct dwu *u, const struct pp_unwind_input *in, struct pp_unwind_frame *out,
            size_t max, size_t *n)
{
    uint64_t pc = in->regs[16], sp = in->regs[7], bp = in->regs[6];
    bool activation = true, bp_known = true;

    *n = 0;
    u->status = 0;
    for (;;) {
        uint64_t adj = activation || pc == 0 ? pc : pc - 1, cfa, ra;
        const struct row *r;
        if (*n >= max) {
            u->status |= PP_US_DEPTH;
            return 1;
        }
        r = row_of(u, adj);
        if (r->kind != ROW_SIMPLE) {
            if (*n > 0 && !pp_dw.dwfl_addrmodule(u->dwfl, adj)) {
                u->status |= PP_US_NOMODULE | PP_US_TRUNCATED;
                return 1; /* as the libdwfl walk would stop */
            }
            return 0;
        }
        out[*n].pc = adj;
        out[*n].sp = sp;
        out[*n].flags = activation ? PP_UF_ACTIVATION : 0;
        (*n)++;
        if (r->ra_undef)
            return 1; /* the outermost frame */
        if (r->cfa_bp && !bp_known)
            return 0;
        cfa = (r->cfa_bp ? bp : sp) + (uint64_t)(int64_t)r->cfa_off;
        if (cfa <= sp && *n > 1)
            return 0; /* no progress: let libdwfl judge */
        if (!read_word(u, in, cfa + (uint64_t)(int64_t)r->ra_off, &ra)) {
            u->status |= PP_US_TRUNCATED;
            return 1;
        }
        if (r->bp == BP_SAVED) {
            if (!read_word(u, in, cfa + (uint64_t)(int64_t)r->bp_off, &bp)) {
                u->status |= PP_US_TRUNCATED;
                return 1;
            }
        } else if (r->bp == BP_UNDEF) {
            bp_known = false;
        }
        if (ra == 0)
            return 1;
        sp = cfa;
        pc = ra;
        activation = false;
    }
}

static int
dwu_refresh(struct pp_unwinder *base)
{
    struct dwu *u = (struct dwu *)base;
    int r;

    pp_dw_target(base->pid);
    if (u->rows) /* rows of unmapped modules must not survive */
        memset(u->rows, 0, ROWS * sizeof(*u->rows));
    pp_dw.dwfl_report_begin(u->dwfl);
    r = pp_dw.dwfl_linux_proc_report(u->dwfl, base->pid);
    if (pp_dw.dwfl_report_end(u->dwfl, NULL, NULL) != 0 || r != 0)
        return r > 0 ? PP_EGONE : PP_EIO;
    base->refreshes++;
    return 0;
}

static int
dwu_unwind(struct pp_unwinder *base, const struct pp_unwind_input *in,
           struct pp_unwind_frame *out, size_t max, size_t *n, unsigned *status)
{
    struct dwu *u = (struct dwu *)base;
    int r;

    *n = 0;
    *status = 0;
    if (!u->attached) {
        pp_dw_target(base->pid);
        if (!pp_dw.dwfl_attach_state(u->dwfl, NULL, base->pid, &thread_cbs, u)) {
            pp_log_debug("dwfl_attach_state: %s", pp_dw.dwfl_errmsg(-1));
            return PP_EIO;
        }
        u->attached = true;
    }
    if (max > PP_UNWIND_MAX)
        max = PP_UNWIND_MAX;
    pp_dw_target(base->pid);
    if (u->rows && fast_unwind(u, in, out, max, n)) {
        u->fast++;
        *status = u->status;
        base->unwinds++;
        base->frames += *n;
        return *n ? 0 : PP_EBADDATA;
    }
    if (!pp_dw.dwfl_addrmodule(u->dwfl, in->regs[16])) {
        /* the sampled PC itself is in no module we know: a library
         * loaded since the maps were read (the caller re-reads them) */
        *n = 0;
        *status = PP_US_NOMODULE | PP_US_TRUNCATED;
        out[0].pc = in->regs[16];
        out[0].sp = in->regs[7];
        out[0].flags = PP_UF_ACTIVATION;
        *n = 1;
        base->unwinds++;
        return 0;
    }
    u->slow++;
    u->cur = in;
    u->out = out;
    u->max = max;
    u->n = 0;
    u->status = 0;
    u->last_sp = 0;
    u->read_failed = false;
    pp_dw_target(base->pid);
    r = pp_dw.dwfl_getthread_frames(u->dwfl, in->tid, frame_cb, u);
    if ((r == -1 || u->read_failed) && !(u->status & PP_US_DEPTH))
        u->status |= PP_US_TRUNCATED; /* CFI missing or a read failed */
    u->cur = NULL;
    *n = u->n;
    *status = u->status;
    base->unwinds++;
    base->frames += u->n;
    return u->n ? 0 : PP_EBADDATA;
}

static void
dwu_destroy(struct pp_unwinder *base)
{
    struct dwu *u = (struct dwu *)base;
    if (u->dwfl)
        pp_dw.dwfl_end(u->dwfl);
    pp_log_debug("libdw unwinder: %llu stacks from the row cache, %llu by libdwfl",
                 (unsigned long long)u->fast, (unsigned long long)u->slow);
    free(u->rows);
    free(u);
}

static const struct pp_unwinder_ops dwu_ops = {
    .name = "libdw",
    .unwind = dwu_unwind,
    .refresh = dwu_refresh,
    .destroy = dwu_destroy,
};

static char *dwu_debuginfo_path = NULL;

int
pp_unwind_libdw_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                    char *why, size_t whylen)
{
    struct dwu *u;
    int err;
    (void)root;

    *out = NULL;
    if ((err = pp_dw_load(why, whylen)))
        return err;
    u = calloc(1, sizeof *u);
    if (!u)
        return PP_ENOMEM;
    u->base.ops = &dwu_ops;
    u->base.pid = pid;
    u->base.mem = mem;
    u->base.allow_live = mem != NULL;
    if (!getenv("PYPROF_NO_ROW_CACHE")) /* the tests compare both paths */
        u->rows = calloc(ROWS, sizeof(*u->rows));
    u->cbs.find_elf = pp_dw_find_elf;
    u->cbs.find_debuginfo = pp_dw.dwfl_standard_find_debuginfo;
    u->cbs.debuginfo_path = &dwu_debuginfo_path;
    u->dwfl = pp_dw.dwfl_begin(&u->cbs);
    if (!u->dwfl) {
        snprintf(why, whylen, "dwfl_begin: %s", pp_dw.dwfl_errmsg(-1));
        free(u);
        return PP_EIO;
    }
    if ((err = dwu_refresh(&u->base))) {
        snprintf(why, whylen, "cannot read the mappings of process %d", pid);
        dwu_destroy(&u->base);
        return err;
    }
    u->base.refreshes = 0;
    *out = &u->base;
    return 0;
}

#else /* !PP_HAVE_LIBDW */

int
pp_unwind_libdw_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                    char *why, size_t whylen)
{
    (void)pid;
    (void)root;
    (void)mem;
    *out = NULL;
    return pp_dw_load(why, whylen);
}

#endif

void
pp_unwinder_free(struct pp_unwinder *u)
{
    if (u)
        u->ops->destroy(u);
}
