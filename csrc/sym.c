/*
 * sym.c -- native symbolization (see sym.h).
 */
#include "sym.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dw.h"
#include "elf.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "util.h"

bool
pp_sym_is_eval(const char *name)
{
    static const char eval[] = "_PyEval_EvalFrameDefault";
    if (!name)
        return false;
    /* also its compiler-split parts: .cold, .constprop.N, .isra.N */
    return strncmp(name, eval, sizeof eval - 1) == 0 &&
           (name[sizeof eval - 1] == '\0' || name[sizeof eval - 1] == '.');
}

bool
pp_sym_is_interp_module(const char *b)
{
    if (!b)
        return false;
    if (strncmp(b, "lib", 3) == 0)
        b += 3;
    return strncmp(b, "python", 6) == 0 && b[6] >= '0' && b[6] <= '9';
}

#if PP_HAVE_LIBDW

struct symrange {
    uint64_t lo, hi;
    uint32_t name; /* offset into names */
};

struct symmod {
    char *path, *base;
    bool interp;
    bool loaded;
    int dwarf; /* 0 unknown, 1 yes, -1 no */
    struct symrange *r;
    size_t n;
    char *names;
    struct symmod *next; /* all modules ever seen (for the debug-info notes) */
    bool gone;
};

struct pp_symbolizer {
    int pid;
    bool inlines;
    Dwfl *dwfl;
    Dwfl_Callbacks cbs;
    char *debuginfo_path;
    struct symmod *mods;
    struct pp_strtab inl; /* inline names */
};

/* Length of name without the suffixes of GCC's clones that only say how
 * the function was compiled (.lto_priv.N, .constprop.N, .isra.N, .part.N);
 * .cold stays: it says the code is the cold part. */
static size_t
clean_len(const char *name)
{
    static const char *const sfx[] = {".lto_priv.", ".constprop.", ".isra.", ".part."};
    size_t len = strcspn(name, "@"), i; /* symbol versions: __libc_start_main@GLIBC_2.2.5 */
    bool again = true;
    while (again) {
        again = false;
        for (i = 0; i < PP_ARRAY_LEN(sfx); i++) {
            size_t k = strlen(sfx[i]), j = len;
            while (j > 0 && name[j - 1] >= '0' && name[j - 1] <= '9')
                j--;
            if (j < len && j >= k + 1 && strncmp(name + j - k, sfx[i], k) == 0) {
                len = j - k;
                again = true;
            }
        }
    }
    return len;
}

static int
cmp_range(const void *a, const void *b)
{
    const struct symrange *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    /* among symbols at one address prefer the larger (the function) */
    return x->hi > y->hi ? -1 : x->hi < y->hi;
}

/* Reads mod's symbol table into a sorted array of function ranges. */
static void
load_symbols(Dwfl_Module *mod, struct symmod *m)
{
    int n = pp_dw.dwfl_module_getsymtab(mod), i;
    size_t cap_names = 0, len_names = 0, k = 0;

    m->loaded = true;
    if (n <= 0)
        return;
    if (n > 4 * 1024 * 1024)
        n = 4 * 1024 * 1024;
    m->r = calloc((size_t)n, sizeof *m->r);
    if (!m->r)
        return;
    for (i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name =
            pp_dw.dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, NULL, NULL);
        size_t len;
        int type;
        if (!name || !*name || shndx == SHN_UNDEF)
            continue;
        type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        len = clean_len(name) + 1;
        if (len_names + len > cap_names) {
            size_t nc = cap_names ? cap_names * 2 : 65536;
            char *p;
            while (nc < len_names + len)
                nc *= 2;
            if (!(p = realloc(m->names, nc)))
                break;
            m->names = p;
            cap_names = nc;
        }
        memcpy(m->names + len_names, name, len - 1);
        m->names[len_names + len - 1] = '\0';
        m->r[k].lo = addr;
        m->r[k].hi = addr + (sym.st_size ? sym.st_size : 1);
        m->r[k].name = (uint32_t)len_names;
        len_names += len;
        k++;
    }
    qsort(m->r, k, sizeof *m->r, cmp_range);
    m->n = k;
}

/*
 * A stripped interpreter (Debian's 3.14/3.15: .dynsym only) names the hot
 * part of _PyEval_EvalFrameDefault, but GCC's hot/cold partitioning can put
 * most of the loop in a separate, unnamed range (the .cold part, 84 KB of
 * Debian's 3.14.10 against 1.2 KB of hot part): an activation's PC is then
 * in no symbol, and the merge would miss the activation.  The hot part
 * reaches its cold part only by direct jumps, so: decode the direct jmp/jcc
 * rel32 of the hot part's bytes, take their targets outside it, and give
 * the .eh_frame FDE that covers them the name "_PyEval_EvalFrameDefault.cold"
 * -- only if at least COLD_MIN_JUMPS land in that one FDE and no symbol
 * starts inside it.  With a .symtab the real .cold symbol is used instead.
 */
#define COLD_MIN_JUMPS 3
#define COLD_MAX_HOT (64u << 10)
#define COLD_FDES 8

/*
 * The FDE (function range) that covers file address pc, from the binary
 * search table of .eh_frame_hdr (the layout GCC and ld always emit: table
 * encoding datarel|sdata4, entries (initial location, FDE address) relative
 * to the section) and the FDE's own pc_begin/pc_range (pcrel|sdata4, the
 * CIE's usual "zR" encoding, checked against the table's value).
 */
static int
fde_range(const struct pp_elf *e, uint64_t pc, uint64_t *lo, uint64_t *hi)
{
    const uint8_t *hdr, *ehf;
    size_t hlen, elen, n, a, b;
    uint64_t haddr, hsize, eaddr, esize;
    uint32_t count;
    int32_t loc, fde, begin;
    uint32_t range;
    uint64_t fde_addr, start;

    if (pp_elf_section_data(e, ".eh_frame_hdr", &hdr, &hlen) != 0 ||
        pp_elf_find_section(e, ".eh_frame_hdr", &haddr, &hsize) != 0 ||
        pp_elf_section_data(e, ".eh_frame", &ehf, &elen) != 0 ||
        pp_elf_find_section(e, ".eh_frame", &eaddr, &esize) != 0)
        return PP_ENOTFOUND;
    /* version 1; eh_frame_ptr any 4-byte encoding; count udata4; table datarel|sdata4 */
    if (hlen < 12 || hdr[0] != 1 || hdr[2] != 0x03 || hdr[3] != 0x3b)
        return PP_EBADDATA;
    memcpy(&count, hdr + 8, 4);
    n = count;
    if (n == 0 || 12 + n * 8 > hlen)
        return PP_EBADDATA;
    a = 0;
    b = n; /* last entry with initial location <= pc */
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        memcpy(&loc, hdr + 12 + mid * 8, 4);
        if (haddr + (uint64_t)(int64_t)loc <= pc)
            a = mid + 1;
        else
            b = mid;
    }
    if (a == 0)
        return PP_ENOTFOUND;
    memcpy(&loc, hdr + 12 + (a - 1) * 8, 4);
    memcpy(&fde, hdr + 12 + (a - 1) * 8 + 4, 4);
    start = haddr + (uint64_t)(int64_t)loc;
    fde_addr = haddr + (uint64_t)(int64_t)fde;
    if (fde_addr < eaddr || fde_addr + 16 > eaddr + elen)
        return PP_EBADDATA;
    memcpy(&begin, ehf + (fde_addr - eaddr) + 8, 4);
    memcpy(&range, ehf + (fde_addr - eaddr) + 12, 4);
    if (fde_addr + 8 + (uint64_t)(int64_t)begin != start) /* not pcrel|sdata4 */
        return PP_EBADDATA;
    if (pc >= start + range)
        return PP_ENOTFOUND;
    *lo = start;
    *hi = start + range;
    return 0;
}

static void
add_eval_cold(Dwfl_Module *mod, struct symmod *m)
{
    static const char eval[] = "_PyEval_EvalFrameDefault";
    uint64_t lo = 0, hi = 0, text_addr, text_size, fde_lo[COLD_FDES], fde_hi[COLD_FDES];
    unsigned hits[COLD_FDES];
    size_t i, nfde = 0, text_len;
    const uint8_t *text;
    struct pp_elf e;
    char path[4096];
    Dwarf_Addr bias;

    for (i = 0; i < m->n; i++) {
        const char *name = m->names + m->r[i].name;
        if (strncmp(name, eval, sizeof eval - 1) != 0)
            continue;
        if (name[sizeof eval - 1] == '.')
            return; /* the symbol table names its parts */
        if (name[sizeof eval - 1] == '\0') {
            lo = m->r[i].lo;
            hi = m->r[i].hi;
        }
    }
    if (!lo || hi - lo > COLD_MAX_HOT || !pp_dw.dwfl_module_getelf(mod, &bias))
        return;
    pp_proc_root_path(pp_dw_target_pid(), m->path, path, sizeof path);
    if (pp_elf_open(path, &e) != 0)
        return;
    if (pp_elf_find_section(&e, ".text", &text_addr, &text_size) != 0 ||
        pp_elf_section_data(&e, ".text", &text, &text_len) != 0 || text_len != text_size ||
        lo - bias < text_addr || hi - bias > text_addr + text_size) {
        pp_elf_close(&e);
        return;
    }
    for (i = (size_t)(lo - bias - text_addr); i + 6 <= (size_t)(hi - bias - text_addr); i++) {
        size_t ilen, j;
        int32_t rel;
        uint64_t target, start, end;
        if (text[i] == 0xe9)
            ilen = 5;
        else if (text[i] == 0x0f && (text[i + 1] & 0xf0) == 0x80)
            ilen = 6;
        else
            continue;
        memcpy(&rel, text + i + ilen - 4, 4);
        target = text_addr + i + ilen + (uint64_t)(int64_t)rel; /* file vaddr */
        if ((target + bias >= lo && target + bias < hi) || target < text_addr ||
            target >= text_addr + text_size || fde_range(&e, target, &start, &end) != 0)
            continue;
        for (j = 0; j < nfde && fde_lo[j] != start; j++)
            ;
        if (j == nfde) {
            if (nfde == COLD_FDES)
                continue;
            fde_lo[nfde] = start;
            fde_hi[nfde] = end;
            hits[nfde++] = 0;
        }
        hits[j]++;
    }
    pp_elf_close(&e);
    for (i = 0; i < nfde; i++) {
        uint64_t clo = fde_lo[i] + bias, chi = fde_hi[i] + bias;
        size_t k, len_names = 0;
        bool named = false;
        struct symrange *nr;
        char *nn;
        if (hits[i] < COLD_MIN_JUMPS || chi <= clo)
            continue;
        for (k = 0; k < m->n && !named; k++) /* a symbol inside: not a bare part */
            named = m->r[k].lo < chi && m->r[k].hi > clo;
        if (named)
            continue;
        for (k = 0; k < m->n; k++) { /* names end at the last one's NUL */
            size_t end = m->r[k].name + strlen(m->names + m->r[k].name) + 1;
            if (end > len_names)
                len_names = end;
        }
        if (!(nr = realloc(m->r, (m->n + 1) * sizeof *m->r)))
            return;
        m->r = nr;
        if (!(nn = realloc(m->names, len_names + sizeof ".cold" + sizeof eval)))
            return;
        m->names = nn;
        snprintf(m->names + len_names, sizeof ".cold" + sizeof eval, "%s.cold", eval);
        m->r[m->n].lo = clo;
        m->r[m->n].hi = chi;
        m->r[m->n].name = (uint32_t)len_names;
        m->n++;
        qsort(m->r, m->n, sizeof *m->r, cmp_range);
        pp_log_debug("sym: %s: %s.cold at 0x%llx-0x%llx (%u jumps from the hot part)", m->base,
                     eval, (unsigned long long)clo, (unsigned long long)chi, hits[i]);
    }
}

static struct symmod *
module_of(struct pp_symbolizer *s, Dwfl_Module *mod)
{
    void **ud;
    const char *name, *file = NULL;
    struct symmod *m;

    name = pp_dw.dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, &file, NULL);
    if (*ud)
        return *ud;
    m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->path = strdup(name ? name : "?");
    if (!m->path) {
        free(m);
        return NULL;
    }
    m->base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
    if (strncmp(m->base, "[vdso", 5) == 0)
        m->base = "[vdso]";
    m->interp = pp_sym_is_interp_module(m->base);
    m->next = s->mods;
    s->mods = m;
    *ud = m;
    return m;
}

/* dwfl_report_end's `removed` callback.  libdwfl declares its second
 * parameter `void *` but passes the address of the module's userdata
 * field (a `void **`, as every Dwfl_Module callback does): the symmod is
 * what that field holds. */
static int
removed_cb(Dwfl_Module *mod, void *userdata, const char *name, Dwarf_Addr base, void *arg)
{
    void **ud = userdata;
    struct symmod *m = ud ? *ud : NULL;
    (void)mod;
    (void)name;
    (void)base;
    (void)arg;
    if (m) { /* keep the strings (frames point at them); drop the table */
        free(m->r);
        m->r = NULL;
        m->n = 0;
        m->gone = true;
    }
    return DWARF_CB_OK;
}

int
pp_sym_refresh(struct pp_symbolizer *s)
{
    int r;
    pp_dw_target(s->pid);
    pp_dw.dwfl_report_begin(s->dwfl);
    r = pp_dw.dwfl_linux_proc_report(s->dwfl, s->pid);
    if (pp_dw.dwfl_report_end(s->dwfl, removed_cb, NULL) != 0 || r != 0)
        return r > 0 ? PP_EGONE : PP_EIO;
    return 0;
}

int
pp_sym_new(int pid, const char *debug_dirs, bool inlines, struct pp_symbolizer **out, char *why,
           size_t whylen)
{
    struct pp_symbolizer *s;
    int err;

    *out = NULL;
    if ((err = pp_dw_load(why, whylen)))
        return err;
    s = calloc(1, sizeof *s);
    if (!s)
        return PP_ENOMEM;
    s->pid = pid;
    s->inlines = inlines;
    pp_strtab_init(&s->inl);
    if (debug_dirs && *debug_dirs) {
        size_t n = strlen(debug_dirs) + 32;
        s->debuginfo_path = malloc(n);
        if (s->debuginfo_path)
            snprintf(s->debuginfo_path, n, "%s:.debug:/usr/lib/debug", debug_dirs);
    }
    s->cbs.find_elf = pp_dw_find_elf;
    s->cbs.find_debuginfo = pp_dw.dwfl_standard_find_debuginfo;
    s->cbs.debuginfo_path = &s->debuginfo_path;
    s->dwfl = pp_dw.dwfl_begin(&s->cbs);
    if (!s->dwfl) {
        free(s->debuginfo_path);
        free(s);
        return PP_EIO;
    }
    if ((err = pp_sym_refresh(s))) {
        snprintf(why, whylen, "cannot read the mappings of process %d", pid);
        pp_sym_free(s);
        return err;
    }
    *out = s;
    return 0;
}

int
pp_sym_lookup(struct pp_symbolizer *s, uint64_t pc, struct pp_sym_info *out)
{
    Dwfl_Module *mod;
    struct symmod *m;
    size_t lo, hi;

    memset(out, 0, sizeof *out);
    pp_dw_target(s->pid);
    mod = pp_dw.dwfl_addrmodule(s->dwfl, pc);
    if (!mod)
        return PP_ENOTFOUND;
    if (!(m = module_of(s, mod)))
        return PP_ENOMEM;
    out->module = m->base;
    out->path = m->path;
    out->interp = m->interp;
    if (!m->loaded) {
        load_symbols(mod, m);
        if (m->interp)
            add_eval_cold(mod, m);
    }
    lo = 0;
    hi = m->n;
    while (lo < hi) { /* last range with lo <= pc */
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* the nearest start may be a small symbol inside a bigger one: look
     * back a little for a range that covers pc */
    for (hi = lo; hi > 0 && lo - hi < 8; hi--) {
        const struct symrange *r = &m->r[hi - 1];
        if (pc >= r->lo && pc < r->hi) {
            out->name = m->names + r->name;
            out->eval = pp_sym_is_eval(out->name);
            break;
        }
    }
    return 0;
}

static const char *
die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = NULL;
    if (pp_dw.dwarf_attr_integrate(die, DW_AT_linkage_name, &a))
        n = pp_dw.dwarf_formstring(&a);
    if (!n && pp_dw.dwarf_attr_integrate(die, DW_AT_name, &a))
        n = pp_dw.dwarf_formstring(&a);
    return n;
}

size_t
pp_sym_inlines(struct pp_symbolizer *s, uint64_t pc, const char **names, size_t max)
{
    Dwfl_Module *mod;
    struct symmod *m;
    Dwarf_Addr bias;
    Dwarf_Die *cu, *scopes = NULL;
    int n, i;
    size_t k = 0;

    if (!s->inlines || max == 0)
        return 0;
    pp_dw_target(s->pid);
    mod = pp_dw.dwfl_addrmodule(s->dwfl, pc);
    if (!mod || !(m = module_of(s, mod)) || m->dwarf < 0)
        return 0;
    if (m->dwarf == 0) {
        m->dwarf = pp_dw.dwfl_module_getdwarf(mod, &bias) ? 1 : -1;
        if (m->dwarf < 0)
            return 0;
    }
    cu = pp_dw.dwfl_module_addrdie(mod, pc, &bias);
    if (!cu)
        return 0;
    n = pp_dw.dwarf_getscopes(cu, pc - bias, &scopes);
    for (i = 0; i < n && k < max; i++) {
        int tag = pp_dw.dwarf_tag(&scopes[i]);
        const char *nm;
        uint32_t id;
        if (tag == DW_TAG_subprogram)
            break;
        if (tag != DW_TAG_inlined_subroutine)
            continue;
        nm = die_name(&scopes[i]);
        if (!nm || pp_strtab_intern(&s->inl, nm, strlen(nm), &id))
            continue;
        names[k++] = pp_strtab_get(&s->inl, id);
    }
    free(scopes);
    return k;
}

void
pp_sym_missing_debug(struct pp_symbolizer *s, void (*fn)(const char *path, void *arg), void *arg)
{
    struct symmod *m;
    for (m = s->mods; m; m = m->next)
        if (m->dwarf < 0 && m->path[0] == '/')
            fn(m->path, arg);
}

void
pp_sym_free(struct pp_symbolizer *s)
{
    struct symmod *m, *next;
    if (!s)
        return;
    if (s->dwfl)
        pp_dw.dwfl_end(s->dwfl);
    for (m = s->mods; m; m = next) {
        next = m->next;
        free(m->r);
        free(m->names);
        free(m->path);
        free(m);
    }
    pp_strtab_free(&s->inl);
    free(s->debuginfo_path);
    free(s);
}

#else /* !PP_HAVE_LIBDW */

struct pp_symbolizer {
    int unused;
};

int
pp_sym_new(int pid, const char *debug_dirs, bool inlines, struct pp_symbolizer **out, char *why,
           size_t whylen)
{
    (void)pid;
    (void)debug_dirs;
    (void)inlines;
    *out = NULL;
    return pp_dw_load(why, whylen);
}
int
pp_sym_lookup(struct pp_symbolizer *s, uint64_t pc, struct pp_sym_info *out)
{
    (void)s;
    (void)pc;
    memset(out, 0, sizeof *out);
    return PP_ENOTFOUND;
}
size_t
pp_sym_inlines(struct pp_symbolizer *s, uint64_t pc, const char **names, size_t max)
{
    (void)s;
    (void)pc;
    (void)names;
    (void)max;
    return 0;
}
int
pp_sym_refresh(struct pp_symbolizer *s)
{
    (void)s;
    return 0;
}
void
pp_sym_missing_debug(struct pp_symbolizer *s, void (*fn)(const char *path, void *arg), void *arg)
{
    (void)s;
    (void)fn;
    (void)arg;
}
void
pp_sym_free(struct pp_symbolizer *s)
{
    (void)s;
}

#endif
