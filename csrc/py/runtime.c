/*
 * py/runtime.c -- locate _PyRuntime and the interpreter version (layer L2).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../elf.h"
#include "../err.h"
#include "../log.h"
#include "../proc.h"
#include "runtime.h"

static const char *
base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* "libpython3.11.so.1.0" / "python3.11" / "python3.11d" -> minor, or -1 */
static int
minor_from_name(const char *path)
{
    const char *b = base_name(path), *p;
    if (strncmp(b, "libpython3.", 11) == 0)
        p = b + 11;
    else if (strncmp(b, "python3.", 8) == 0)
        p = b + 8;
    else
        return -1;
    if (!isdigit((unsigned char)*p))
        return -1;
    return atoi(p);
}

static int
is_libpython(const char *path)
{
    const char *b = base_name(path);
    return strncmp(b, "libpython3.", 11) == 0 && strstr(b, ".so") != NULL;
}

/* Scans .rodata for a NUL-terminated "3.<minor>.<patch>" string. */
static int
patch_from_rodata(const struct pp_elf *e, int minor)
{
    const uint8_t *d;
    size_t len, i;
    char want[16];
    size_t wl;

    if (pp_elf_section_data(e, ".rodata", &d, &len))
        return -1;
    wl = (size_t)snprintf(want, sizeof(want), "3.%d.", minor);
    for (i = 1; i + wl + 2 < len; i++) {
        size_t j = i + wl, k;
        if (d[i - 1] != 0 || memcmp(d + i, want, wl) != 0)
            continue;
        for (k = j; k < len && k < j + 3 && isdigit(d[k]); k++)
            ;
        if (k > j && k < len && (d[k] == 0 || d[k] == '+'))
            return atoi((const char *)d + j);
    }
    return -1;
}

static int
try_object(int pid, const struct pp_maps *maps, struct pp_mem *mem, const char *path,
           struct pp_pyruntime *out)
{
    char real[4200];
    struct pp_elf e;
    uint64_t value = 0, bias = 0, ver_sym;
    uint8_t cookie[16];
    int err, minor;

    pp_proc_root_path(pid, path, real, sizeof(real));
    err = pp_elf_open(real, &e);
    if (err)
        return PP_ENOTPY;
    if (pp_elf_find_symbol(&e, "_PyRuntime", &value, NULL) != 0 &&
        pp_elf_find_section(&e, ".PyRuntime", &value, NULL) != 0) {
        pp_elf_close(&e);
        return PP_ENOTPY;
    }
    if (e.type == 3 /* ET_DYN */) {
        const struct pp_map *m = pp_maps_file_base(maps, path);
        if (!m) {
            pp_elf_close(&e);
            return PP_ENOTPY;
        }
        bias = m->start - e.first_load_vaddr;
    }
    out->runtime_addr = bias + value;
    snprintf(out->path, sizeof(out->path), "%s", path);

    /* version: 3.13+ cookie */
    err = pp_mem_read(mem, out->runtime_addr, cookie, sizeof(cookie));
    if (err) {
        pp_elf_close(&e);
        return err;
    }
    if (memcmp(cookie, "xdebugpy", 8) == 0) {
        memcpy(&out->version_hex, cookie + 8, 4);
    } else if (pp_elf_find_symbol(&e, "Py_Version", &ver_sym, NULL) == 0) {
        uint32_t v;
        err = pp_mem_read(mem, bias + ver_sym, &v, sizeof(v));
        if (err) {
            pp_elf_close(&e);
            return err;
        }
        out->version_hex = v;
    } else {
        int patch;
        minor = minor_from_name(path);
        if (minor < 0) {
            pp_elf_close(&e);
            return PP_EVERSION;
        }
        patch = patch_from_rodata(&e, minor);
        out->version_hex = (3u << 24) | ((uint32_t)minor << 16) |
                           ((uint32_t)(patch > 0 ? patch : 0) << 8) | 0xf0;
    }
    pp_elf_close(&e);
    if (out->version_hex & 0xff00)
        snprintf(out->version_str, sizeof(out->version_str), "%u.%u.%u",
                 (out->version_hex >> 24) & 0xff, (out->version_hex >> 16) & 0xff,
                 (out->version_hex >> 8) & 0xff);
    else /* patch level unknown */
        snprintf(out->version_str, sizeof(out->version_str), "%u.%u",
                 (out->version_hex >> 24) & 0xff, (out->version_hex >> 16) & 0xff);
    return 0;
}

int
pp_pyruntime_find(int pid, const struct pp_maps *maps, struct pp_mem *mem,
                  struct pp_pyruntime *out)
{
    char exe[4096], link[64];
    ssize_t n;
    size_t i;
    int err;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < maps->n; i++) {
        const struct pp_map *m = &maps->v[i];
        if (m->offset == 0 && is_libpython(m->path)) {
            err = try_object(pid, maps, mem, m->path, out);
            if (err != PP_ENOTPY)
                return err;
        }
    }
    snprintf(link, sizeof(link), "/proc/%d/exe", pid);
    n = readlink(link, exe, sizeof(exe) - 1);
    if (n <= 0)
        return PP_ENOTPY;
    exe[n] = '\0';
    if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
        exe[n - 10] = '\0';
    /* the path as it appears in maps (same namespace view as /proc/PID/exe) */
    err = try_object(pid, maps, mem, exe, out);
    if (err != PP_ENOTPY)
        return err;
    /* last resort: any mapped file whose name says python */
    for (i = 0; i < maps->n; i++) {
        const struct pp_map *m = &maps->v[i];
        if (m->offset == 0 && m->path[0] == '/' && strstr(base_name(m->path), "python") &&
            strcmp(m->path, exe) != 0 && !is_libpython(m->path)) {
            err = try_object(pid, maps, mem, m->path, out);
            if (err != PP_ENOTPY)
                return err;
        }
    }
    return PP_ENOTPY;
}
