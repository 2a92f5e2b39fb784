/*
 * elf.c -- minimal ELF64 reader (layer L1).  Reads files only, never the
 * target's memory.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "err.h"

#define MAX_SECTIONS 4096

static bool
in_bounds(const struct pp_elf *e, uint64_t off, uint64_t len)
{
    return off <= e->len && len <= e->len - off;
}

int
pp_elf_from_buffer(const void *buf, size_t len, struct pp_elf *out)
{
    Elf64_Ehdr eh;
    uint16_t i;

    memset(out, 0, sizeof(*out));
    out->buf = buf;
    out->len = len;
    if (len < sizeof(eh))
        return PP_EBADDATA;
    memcpy(&eh, buf, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return PP_EBADDATA;
    out->type = eh.e_type;
    if (eh.e_shnum > MAX_SECTIONS || (eh.e_shnum && eh.e_shentsize < sizeof(Elf64_Shdr)) ||
        !in_bounds(out, eh.e_shoff, (uint64_t)eh.e_shnum * eh.e_shentsize))
        return PP_EBADDATA;
    out->shoff = eh.e_shoff;
    out->shnum = eh.e_shnum;
    out->shentsize = eh.e_shentsize;
    out->shstrndx = eh.e_shstrndx < eh.e_shnum ? eh.e_shstrndx : 0;
    if (eh.e_phentsize >= sizeof(Elf64_Phdr) && eh.e_phnum < 256 &&
        in_bounds(out, eh.e_phoff, (uint64_t)eh.e_phnum * eh.e_phentsize)) {
        for (i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            memcpy(&ph, out->buf + eh.e_phoff + (uint64_t)i * eh.e_phentsize, sizeof(ph));
            if (ph.p_type == PT_LOAD) {
                out->first_load_vaddr = ph.p_vaddr & ~(uint64_t)0xfff;
                break;
            }
        }
    }
    return 0;
}

int
pp_elf_open(const char *path, struct pp_elf *out)
{
    struct stat st;
    void *p;
    int fd, err;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == EACCES ? PP_EPERM : PP_EIO;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return PP_EIO;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return PP_EIO;
    err = pp_elf_from_buffer(p, (size_t)st.st_size, out);
    out->mapped = true;
    if (err) {
        pp_elf_close(out);
        return err;
    }
    return 0;
}

void
pp_elf_close(struct pp_elf *e)
{
    if (e->mapped && e->buf)
        munmap((void *)e->buf, e->len);
    memset(e, 0, sizeof(*e));
}

static bool
get_shdr(const struct pp_elf *e, uint32_t i, Elf64_Shdr *sh)
{
    if (i >= e->shnum)
        return false;
    memcpy(sh, e->buf + e->shoff + (uint64_t)i * e->shentsize, sizeof(*sh));
    return true;
}

/* NUL-terminated string at off inside the string section, bounded. */
static const char *
str_at(const struct pp_elf *e, const Elf64_Shdr *strsec, uint64_t off)
{
    const char *s;
    if (strsec->sh_type == SHT_NOBITS || !in_bounds(e, strsec->sh_offset, strsec->sh_size) ||
        off >= strsec->sh_size)
        return NULL;
    s = (const char *)e->buf + strsec->sh_offset + off;
    if (!memchr(s, '\0', strsec->sh_size - off))
        return NULL;
    return s;
}

static int
find_section_hdr(const struct pp_elf *e, const char *name, Elf64_Shdr *out)
{
    Elf64_Shdr strsec;
    uint32_t i;
    if (!get_shdr(e, e->shstrndx, &strsec))
        return PP_ENOTFOUND;
    for (i = 0; i < e->shnum; i++) {
        const char *n;
        get_shdr(e, i, out);
        n = str_at(e, &strsec, out->sh_name);
        if (n && strcmp(n, name) == 0)
            return 0;
    }
    return PP_ENOTFOUND;
}

int
pp_elf_find_section(const struct pp_elf *e, const char *name, uint64_t *addr, uint64_t *size)
{
    Elf64_Shdr sh;
    int err = find_section_hdr(e, name, &sh);
    if (err)
        return err;
    *addr = sh.sh_addr;
    if (size)
        *size = sh.sh_size;
    return 0;
}

int
pp_elf_section_data(const struct pp_elf *e, const char *name, const uint8_t **data, size_t *len)
{
    Elf64_Shdr sh;
    int err = find_section_hdr(e, name, &sh);
    if (err)
        return err;
    if (sh.sh_type == SHT_NOBITS || !in_bounds(e, sh.sh_offset, sh.sh_size))
        return PP_ENOTFOUND;
    *data = e->buf + sh.sh_offset;
    *len = (size_t)sh.sh_size;
    return 0;
}

static int
find_in_symtab(const struct pp_elf *e, uint32_t type, const char *name, uint64_t *value,
               uint64_t *size)
{
    uint32_t i;
    for (i = 0; i < e->shnum; i++) {
        Elf64_Shdr sh, strsec;
        uint64_t n, j;
        get_shdr(e, i, &sh);
        if (sh.sh_type != type || sh.sh_entsize < sizeof(Elf64_Sym) ||
            !in_bounds(e, sh.sh_offset, sh.sh_size) || !get_shdr(e, sh.sh_link, &strsec))
            continue;
        n = sh.sh_size / sh.sh_entsize;
        for (j = 0; j < n; j++) {
            Elf64_Sym sym;
            const char *sn;
            memcpy(&sym, e->buf + sh.sh_offset + j * sh.sh_entsize, sizeof(sym));
            if (sym.st_shndx == SHN_UNDEF || sym.st_name == 0)
                continue;
            sn = str_at(e, &strsec, sym.st_name);
            if (sn && strcmp(sn, name) == 0) {
                *value = sym.st_value;
                if (size)
                    *size = sym.st_size;
                return 0;
            }
        }
    }
    return PP_ENOTFOUND;
}

int
pp_elf_find_symbol(const struct pp_elf *e, const char *name, uint64_t *value, uint64_t *size)
{
    if (find_in_symtab(e, SHT_DYNSYM, name, value, size) == 0)
        return 0;
    return find_in_symtab(e, SHT_SYMTAB, name, value, size);
}
