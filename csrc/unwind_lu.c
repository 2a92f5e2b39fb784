/*
 * unwind_lu.c -- the libunwind unwinder backend (see unwind.h).
 *
 * nongnu libunwind (1.6.2, Debian's libunwind8) is dlopen()ed like libdw:
 * the sampler must run where it is not installed.  One remote address
 * space per target with our own accessors, the way perf's
 * unwind-libunwind-local.c does it:
 *
 *  - find_proc_info: the mapping of the IP (our copy of /proc/PID/maps),
 *    its file opened and mmapped once per module, the binary-search table
 *    of .eh_frame_hdr handed to libunwind as a REMOTE_TABLE;
 *  - access_mem: the sample's stack copy, else the mmapped file image for
 *    a read-only file mapping (.eh_frame, the FDE table, code), else the
 *    live target when allowed (counted, and the sample flagged);
 *  - access_reg: the sample's registers (UNW_X86_64_* equal DWARF numbers).
 *
 * UNW_CACHE_GLOBAL matters: with REMOTE_TABLE libunwind reads the table and
 * the FDEs through access_mem one word at a time (thousands of calls per
 * unwind); its per-IP register-state cache skips all of that on a warm
 * IP.  A refresh flushes that cache, since a library mapped where another
 * one was makes every cached IP stale.
 *
 * Nothing here trusts the files or the target: every header field is
 * checked against the image before use, every read is bounded.
 */
#include "unwind.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dl.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "maps.h"
#include "proc.h"

#if defined(__has_include)
#if __has_include(<libunwind-x86_64.h>) && defined(__x86_64__)
#define PP_HAVE_LIBUNWIND 1
#endif
#endif
#ifndef PP_HAVE_LIBUNWIND
#define PP_HAVE_LIBUNWIND 0
#endif

#if PP_HAVE_LIBUNWIND
/* Not UNW_LOCAL_ONLY: the names are the remote _Ux86_64_* ones. */
#include <libunwind-x86_64.h>

/* Exported by libunwind but declared in no public header (perf declares it
 * the same way).  Only its type is used here: the pointer comes from
 * dlsym, nothing links against it. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

#define PP_LU_LIB "libunwind-x86_64.so.8"

#define PP_LU_FUNCS(X)                                                                    \
    X(create_addr_space, _Ux86_64_create_addr_space)                                      \
    X(destroy_addr_space, _Ux86_64_destroy_addr_space)                                    \
    X(set_caching_policy, _Ux86_64_set_caching_policy)                                    \
    X(flush_cache, _Ux86_64_flush_cache)                                                  \
    X(init_remote, _Ux86_64_init_remote)                                                  \
    X(step, _Ux86_64_step)                                                                \
    X(get_reg, _Ux86_64_get_reg)                                                          \
    X(is_signal_frame, _Ux86_64_is_signal_frame)                                          \
    X(search_unwind_table, _Ux86_64_dwarf_search_unwind_table)

static struct {
#define PP_LU_PTR(field, sym) __typeof__(sym) *field;
    PP_LU_FUNCS(PP_LU_PTR)
#undef PP_LU_PTR
} lu;

static const struct pp_dl_sym lu_syms[] = {
#define PP_LU_SYM(field, sym) {#sym, (void **)&lu.field},
    PP_LU_FUNCS(PP_LU_SYM)
#undef PP_LU_SYM
};

/* Loads libunwind once.  0, or PP_ENOTFOUND with a sentence in why. */
static int
lu_load(char *why, size_t whylen)
{
    static struct pp_dl_lib lib = {
        .soname = PP_LU_LIB,
        .install = "install libunwind 1.6 or newer (Debian: apt install libunwind8)",
        .version = "libunwind 1.6 or newer needed",
        .syms = lu_syms,
        .nsyms = PP_ARRAY_LEN(lu_syms),
    };
    return pp_dl_load(&lib, why, whylen);
}

/* ==== modules: one mmapped file (or the vDSO's bytes) per mapped object ==== */

#define LU_MAX_LOADS 16
#define LU_VDSO_MAX (1u << 20)

struct lu_seg {
    uint64_t off, vaddr, filesz;
};

struct lu_mod {
    char *path; /* as the target maps it */
    uint64_t inode;
    const uint8_t *img; /* NULL: could not be read; the module still counts */
    size_t len;
    bool mmapped; /* img is an mmap of ours (else malloc'ed, the vDSO) */
    bool has_table;
    uint64_t hdr_vaddr, table_vaddr, fde_count;
    struct lu_seg load[LU_MAX_LOADS];
    unsigned nload;
    bool seen; /* mark for refresh */
    struct lu_mod *next;
};

/* A mapping already looked at that belongs to no usable module. */
static struct lu_mod lu_nomod;

struct luu {
    struct pp_unwinder base;
    char *root; /* prefix for the target's paths, or NULL: /proc/PID/root */
    unw_addr_space_t as;
    struct pp_maps maps;
    struct lu_mod **mapmod; /* per mapping: its module, &lu_nomod, or NULL (not resolved) */
    struct lu_mod *mods;
    /* the sample being unwound */
    const struct pp_unwind_input *cur;
    unsigned status;
    bool unknown_ip; /* libunwind asked about an IP in no mapping (maps stale?) */
};

static bool
is_vdso(const struct pp_map *m)
{
    return strcmp(m->path, "[vdso]") == 0;
}

/* An executable mapping of an object file: where a PC may be. */
static bool
is_code(const struct pp_map *m)
{
    return m->x && (m->path[0] == '/' || is_vdso(m));
}

static void
mod_free(struct lu_mod *mod)
{
    if (mod->img) {
        if (mod->mmapped)
            munmap((void *)mod->img, mod->len);
        else
            free((void *)mod->img);
    }
    free(mod->path);
    free(mod);
}

static bool
img_range(const struct lu_mod *mod, uint64_t off, uint64_t len)
{
    return off <= mod->len && len <= mod->len - off;
}

/* Size of a DW_EH_PE_* value of fixed size, or 0 (omit, LEB128, unknown). */
static unsigned
eh_pe_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case 0x00: return 8; /* absptr */
    case 0x02: case 0x0a: return 2;
    case 0x03: case 0x0b: return 4;
    case 0x04: case 0x0c: return 8;
    default: return 0;
    }
}

/* File offset of a virtual address through the PT_LOADs, or false. */
static bool
vaddr_to_off(const struct lu_mod *mod, uint64_t vaddr, uint64_t *off)
{
    unsigned i;
    for (i = 0; i < mod->nload; i++) {
        const struct lu_seg *l = &mod->load[i];
        if (vaddr >= l->vaddr && vaddr - l->vaddr < l->filesz) {
            *off = l->off + (vaddr - l->vaddr);
            return true;
        }
    }
    return false;
}

/* Reads the program headers and the .eh_frame_hdr search table. */
static void
mod_parse(struct lu_mod *mod)
{
    const uint8_t *b = mod->img;
    Elf64_Ehdr eh;
    uint64_t hdr_off = 0, hdr_size = 0, count = 0, toff;
    bool have_hdr = false;
    unsigned i, psz, csz;

    if (!img_range(mod, 0, sizeof eh))
        return;
    memcpy(&eh, b, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_phentsize < sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum >= 256 ||
        !img_range(mod, eh.e_phoff, (uint64_t)eh.e_phnum * eh.e_phentsize))
        return;
    for (i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, b + eh.e_phoff + (uint64_t)i * eh.e_phentsize, sizeof ph);
        if (ph.p_type == PT_LOAD && mod->nload < LU_MAX_LOADS) {
            mod->load[mod->nload].off = ph.p_offset;
            mod->load[mod->nload].vaddr = ph.p_vaddr;
            mod->load[mod->nload].filesz = ph.p_filesz;
            mod->nload++;
        } else if (ph.p_type == PT_GNU_EH_FRAME) {
            mod->hdr_vaddr = ph.p_vaddr;
            hdr_off = ph.p_offset;
            hdr_size = ph.p_filesz;
            have_hdr = true;
        }
    }
    /* Without PT_GNU_EH_FRAME (rare: some hand-linked objects), the
     * section of the same name does the same job. */
    if (!have_hdr && eh.e_shnum && eh.e_shnum < 4096 && eh.e_shentsize >= sizeof(Elf64_Shdr) &&
        eh.e_shstrndx < eh.e_shnum &&
        img_range(mod, eh.e_shoff, (uint64_t)eh.e_shnum * eh.e_shentsize)) {
        Elf64_Shdr strs, sh;
        memcpy(&strs, b + eh.e_shoff + (uint64_t)eh.e_shstrndx * eh.e_shentsize, sizeof strs);
        for (i = 0; i < eh.e_shnum && !have_hdr; i++) {
            static const char name[] = ".eh_frame_hdr";
            memcpy(&sh, b + eh.e_shoff + (uint64_t)i * eh.e_shentsize, sizeof sh);
            if (sh.sh_name >= strs.sh_size || !img_range(mod, strs.sh_offset, strs.sh_size) ||
                strs.sh_size - sh.sh_name < sizeof name ||
                memcmp(b + strs.sh_offset + sh.sh_name, name, sizeof name) != 0)
                continue;
            if (sh.sh_type == SHT_NOBITS || !vaddr_to_off(mod, sh.sh_addr, &hdr_off))
                continue;
            mod->hdr_vaddr = sh.sh_addr;
            hdr_size = sh.sh_size;
            have_hdr = true;
        }
    }
    if (!have_hdr || hdr_size < 4 || !img_range(mod, hdr_off, hdr_size))
        return;
    /* version 1; eh_frame_ptr_enc, fde_count_enc, table_enc.  libunwind's
     * search wants the table as sorted (int32 start, int32 fde) pairs
     * relative to the header: datarel | sdata4. */
    if (b[hdr_off] != 1 || b[hdr_off + 3] != 0x3b)
        return;
    psz = eh_pe_size(b[hdr_off + 1]);
    csz = eh_pe_size(b[hdr_off + 2]);
    if (!psz || !csz || (b[hdr_off + 2] & 0x70) != 0 || 4 + psz + csz > hdr_size)
        return;
    memcpy(&count, b + hdr_off + 4 + psz, csz); /* little endian */
    if (csz < 8 && (b[hdr_off + 2] & 0x08) && (count >> (csz * 8 - 1)))
        return; /* a negative count */
    toff = 4 + psz + csz;
    if (count == 0 || count > (hdr_size - toff) / 8)
        return;
    mod->table_vaddr = mod->hdr_vaddr + toff;
    mod->fde_count = count;
    mod->has_table = true;
}

/* Opens the file of mapping m as the target sees it: through root (the
 * target's mount namespace), and through map_files when the file was
 * deleted or replaced since it was mapped (an upgrade). */
static int
mod_open(struct luu *u, const struct pp_map *m)
{
    char path[4096];
    struct stat st;
    int fd;

    if (!m->deleted) {
        if (u->root)
            snprintf(path, sizeof path, "%s%s", u->root, m->path);
        else
            pp_proc_root_path(u->base.pid, m->path, path, sizeof path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (fstat(fd, &st) == 0 && (m->inode == 0 || (uint64_t)st.st_ino == m->inode))
                return fd;
            close(fd);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/map_files/%llx-%llx", u->base.pid,
             (unsigned long long)m->start, (unsigned long long)m->end);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static struct lu_mod *
mod_load(struct luu *u, const struct pp_map *m)
{
    struct lu_mod *mod = calloc(1, sizeof *mod);
    struct stat st;
    int fd;

    if (!mod || !(mod->path = strdup(m->path))) {
        free(mod);
        return NULL;
    }
    mod->inode = m->inode;
    if (is_vdso(m)) {
        /* Not a file: its bytes are the same for the whole run. */
        uint64_t len = m->end - m->start;
        uint8_t *buf = len && len <= LU_VDSO_MAX && u->base.mem ? malloc(len) : NULL;
        if (buf && pp_mem_read(u->base.mem, m->start, buf, len) == 0) {
            mod->img = buf;
            mod->len = len;
        } else {
            free(buf);
        }
    } else if ((fd = mod_open(u, m)) >= 0) {
        if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p != MAP_FAILED) {
                mod->img = p;
                mod->len = (size_t)st.st_size;
                mod->mmapped = true;
            }
        }
        close(fd);
    }
    if (mod->img)
        mod_parse(mod);
    else
        pp_log_debug("libunwind: cannot read %s", m->path);
    mod->next = u->mods;
    u->mods = mod;
    return mod;
}

/* The module of mapping m, or NULL: resolved once per mapping. */
static struct lu_mod *
mod_of(struct luu *u, const struct pp_map *m)
{
    size_t i = (size_t)(m - u->maps.v);
    struct lu_mod *mod = u->mapmod[i];

    if (!mod) {
        if (m->path[0] == '/' || is_vdso(m)) {
            for (mod = u->mods; mod; mod = mod->next)
                if (mod->inode == m->inode && strcmp(mod->path, m->path) == 0)
                    break;
            if (!mod)
                mod = mod_load(u, m);
        }
        if (!mod || !mod->img)
            mod = &lu_nomod;
        u->mapmod[i] = mod;
    }
    return mod == &lu_nomod ? NULL : mod;
}

/* The load bias of mod, from one of its mappings: the PT_LOAD that
 * mapping comes from gives vaddr <-> runtime address. */
static bool
mod_bias(const struct lu_mod *mod, const struct pp_map *m, uint64_t *bias)
{
    unsigned i;
    for (i = 0; i < mod->nload; i++) {
        const struct lu_seg *l = &mod->load[i];
        uint64_t page_off = l->off & ~(uint64_t)0xfff;
        if (m->offset >= page_off && m->offset - page_off < l->filesz + (l->off - page_off)) {
            *bias = m->start - m->offset + l->off - l->vaddr;
            return true;
        }
    }
    return false;
}

/* ==== accessors ==== */

static int
find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info,
               void *arg)
{
    struct luu *u = arg;
    const struct pp_map *m = pp_maps_find(&u->maps, ip);
    struct lu_mod *mod;
    unw_dyn_info_t di;
    uint64_t bias;

    if (!m) {
        u->unknown_ip = true;
        return -UNW_ENOINFO;
    }
    if (!is_code(m) || !(mod = mod_of(u, m)) || !mod->has_table || !mod_bias(mod, m, &bias))
        return -UNW_ENOINFO;
    memset(&di, 0, sizeof di);
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = m->start;
    di.end_ip = m->end;
    di.u.rti.segbase = mod->hdr_vaddr + bias;
    di.u.rti.table_data = mod->table_vaddr + bias;
    di.u.rti.table_len = mod->fde_count * 8 / sizeof(unw_word_t);
    return lu.search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static void
put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    /* libunwind frees the DWARF unwind_info it made itself */
    (void)as;
    (void)pi;
    (void)arg;
}

static int
get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
    (void)as;
    (void)dilap;
    (void)arg;
    return -UNW_ENOINFO;
}

static int
access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write, void *arg)
{
    struct luu *u = arg;
    const struct pp_unwind_input *in = u->cur;
    const struct pp_map *m;
    struct lu_mod *mod;
    uint64_t sp;
    (void)as;

    if (write || !in)
        return -UNW_EINVAL;
    sp = in->regs[7];
    if (addr >= sp && addr - sp < in->stack_len && in->stack_len - (addr - sp) >= 8) {
        memcpy(valp, in->stack + (addr - sp), 8);
        return 0;
    }
    /* Read-only file mappings (eh_frame, the FDE table, code) from the
     * file: no syscall, and the bytes cannot have changed.  Writable
     * ones (relocated data) only from the target. */
    m = pp_maps_find(&u->maps, addr);
    if (m && !m->w && (mod = mod_of(u, m))) {
        uint64_t off = addr - m->start + m->offset;
        if (off < mod->len) {
            size_t k = mod->len - off < 8 ? (size_t)(mod->len - off) : 8;
            /* past the end of the file a mapping reads as zeros */
            *valp = 0;
            memcpy(valp, mod->img + off, k);
            return 0;
        }
    }
    if (!u->base.allow_live || !u->base.mem)
        return -UNW_EINVAL;
    u->base.live_reads++;
    u->status |= PP_US_LIVE;
    if (pp_mem_read_cached(u->base.mem, addr, valp, 8) != 0) {
        u->base.failed_reads++;
        return -UNW_EINVAL;
    }
    return 0;
}

static int
access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write, void *arg)
{
    struct luu *u = arg;
    (void)as;

    if (!u->cur)
        return -UNW_EINVAL;
    if (write)
        return -UNW_EREADONLYREG;
    /* UNW_X86_64_RAX..R15 are DWARF 0..15; UNW_X86_64_RIP (UNW_REG_IP) 16 */
    if (reg < 0 || reg >= PP_UNWIND_NREGS)
        return -UNW_EBADREG;
    *valp = u->cur->regs[reg];
    return 0;
}

static int
access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
    (void)as;
    (void)reg;
    (void)val;
    (void)write;
    (void)arg;
    return -UNW_EINVAL;
}

static int
resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
    (void)as;
    (void)c;
    (void)arg;
    return -UNW_EINVAL;
}

static int
get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len, unw_word_t *off,
              void *arg)
{
    (void)as;
    (void)addr;
    (void)buf;
    (void)len;
    (void)off;
    (void)arg;
    return -UNW_EINVAL;
}

static unw_accessors_t lu_accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

/* ==== the unwinder ==== */

static bool
pc_in_module(struct luu *u, uint64_t pc)
{
    const struct pp_map *m = pp_maps_find(&u->maps, pc);
    return m && is_code(m);
}

static int
luu_unwind(struct pp_unwinder *base, const struct pp_unwind_input *in,
           struct pp_unwind_frame *out, size_t max, size_t *n, unsigned *status)
{
    struct luu *u = (struct luu *)base;
    unw_cursor_t c;
    unw_word_t ip, sp;
    uint64_t last_sp = 0;
    size_t k = 0;
    int r;

    *n = 0;
    *status = 0;
    if (max > PP_UNWIND_MAX)
        max = PP_UNWIND_MAX;
    u->cur = in;
    u->status = 0;
    u->unknown_ip = false;
    if (lu.init_remote(&c, u->as, u) < 0) {
        u->status |= PP_US_TRUNCATED;
        goto done;
    }
    for (;;) {
        uint64_t pc;
        bool sig, act;

        if (lu.get_reg(&c, UNW_REG_IP, &ip) < 0 || lu.get_reg(&c, UNW_REG_SP, &sp) < 0) {
            u->status |= PP_US_TRUNCATED;
            break;
        }
        if (ip == 0) /* outermost frame with a zeroed return address */
            break;
        /* A signal trampoline's frame and the frame it interrupted hold
         * exact PCs (libdw's isactivation); the others return addresses.
         * libunwind (x86-64 Linux) answers is_signal_frame for the frame
         * it just unwound out of, the trampoline, once the cursor is on
         * the interrupted frame: so this frame is exact, and the previous
         * one gets its 1 back. */
        sig = k > 0 && lu.is_signal_frame(&c) > 0;
        act = k == 0 || sig;
        pc = act ? ip : ip - 1;
        if (sig && !(out[k - 1].flags & PP_UF_ACTIVATION)) {
            out[k - 1].pc++;
            out[k - 1].flags |= PP_UF_ACTIVATION;
        }
        if (k > 0 && !pc_in_module(u, pc)) {
            u->status |= PP_US_NOMODULE | PP_US_TRUNCATED;
            break;
        }
        if (k > 0 && sp <= last_sp) { /* no progress: a loop or junk */
            u->status |= PP_US_TRUNCATED;
            break;
        }
        last_sp = sp;
        if (k >= max) {
            u->status |= PP_US_DEPTH;
            break;
        }
        out[k].pc = pc;
        out[k].sp = sp;
        out[k].flags = act ? PP_UF_ACTIVATION : 0;
        k++;
        r = lu.step(&c);
        if (r == 0)
            break;
        if (r < 0) { /* no CFI, a failed read, a bad frame */
            u->status |= PP_US_TRUNCATED;
            break;
        }
    }
done:
    /* An IP in no mapping at all suggests maps older than the sample
     * (dlopen): say so, so the caller refreshes. */
    if (u->unknown_ip && (u->status & PP_US_TRUNCATED))
        u->status |= PP_US_NOMODULE;
    u->cur = NULL;
    *n = k;
    *status = u->status;
    base->unwinds++;
    base->frames += k;
    return k ? 0 : PP_EBADDATA;
}

static int
luu_refresh(struct pp_unwinder *base)
{
    struct luu *u = (struct luu *)base;
    struct pp_maps nm = {0};
    struct lu_mod **mapmod, *mod, **pp;
    size_t i;
    int err;

    if ((err = pp_maps_read(base->pid, &nm)))
        return err == PP_ENOPROC ? PP_EGONE : err;
    mapmod = calloc(nm.n ? nm.n : 1, sizeof *mapmod);
    if (!mapmod) {
        pp_maps_free(&nm);
        return PP_ENOMEM;
    }
    pp_maps_free(&u->maps);
    free(u->mapmod);
    u->maps = nm;
    u->mapmod = mapmod;
    /* Keep the modules still mapped (their mmaps and parsed tables),
     * drop the others. */
    for (mod = u->mods; mod; mod = mod->next)
        mod->seen = false;
    for (i = 0; i < nm.n; i++)
        for (mod = u->mods; mod; mod = mod->next)
            if (mod->inode == nm.v[i].inode && strcmp(mod->path, nm.v[i].path) == 0)
                mod->seen = true;
    for (pp = &u->mods; (mod = *pp);) {
        if (mod->seen) {
            pp = &mod->next;
        } else {
            *pp = mod->next;
            mod_free(mod);
        }
    }
    lu.flush_cache(u->as, 0, 0);
    base->refreshes++;
    return 0;
}

static void
luu_destroy(struct pp_unwinder *base)
{
    struct luu *u = (struct luu *)base;
    struct lu_mod *mod, *next;

    if (u->as)
        lu.destroy_addr_space(u->as);
    for (mod = u->mods; mod; mod = next) {
        next = mod->next;
        mod_free(mod);
    }
    pp_maps_free(&u->maps);
    free(u->mapmod);
    free(u->root);
    free(u);
}

static const struct pp_unwinder_ops luu_ops = {
    .name = "libunwind",
    .unwind = luu_unwind,
    .refresh = luu_refresh,
    .destroy = luu_destroy,
};

int
pp_unwind_libunwind_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                        char *why, size_t whylen)
{
    struct luu *u;
    int err;

    *out = NULL;
    if ((err = lu_load(why, whylen)))
        return err;
    u = calloc(1, sizeof *u);
    if (!u)
        return PP_ENOMEM;
    u->base.ops = &luu_ops;
    u->base.pid = pid;
    u->base.mem = mem;
    u->base.allow_live = mem != NULL;
    if (root && root[0] && !(u->root = strdup(root))) {
        free(u);
        return PP_ENOMEM;
    }
    u->as = lu.create_addr_space(&lu_accessors, 0);
    if (!u->as) {
        snprintf(why, whylen, "libunwind: cannot create an address space");
        luu_destroy(&u->base);
        return PP_ENOMEM;
    }
    /* Remote address spaces cache nothing by default: 4x slower. */
    lu.set_caching_policy(u->as, UNW_CACHE_GLOBAL);
    if ((err = luu_refresh(&u->base))) {
        snprintf(why, whylen, "cannot read the mappings of process %d", pid);
        luu_destroy(&u->base);
        return err;
    }
    u->base.refreshes = 0;
    *out = &u->base;
    return 0;
}

#else /* !PP_HAVE_LIBUNWIND */

int
pp_unwind_libunwind_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                        char *why, size_t whylen)
{
    (void)pid;
    (void)root;
    (void)mem;
    *out = NULL;
    snprintf(why, whylen,
             "this pyprof-sampler was built without libunwind headers: install libunwind-dev "
             "and rebuild");
    return PP_ENOTFOUND;
}

#endif
