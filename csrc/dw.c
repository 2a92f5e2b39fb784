/*
 * dw.c -- run-time loading of libdw (see dw.h).
 */
#include "dw.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dl.h"
#include "err.h"
#include "proc.h"
#include "util.h"

static __thread int dw_pid;

void
pp_dw_target(int pid)
{
    dw_pid = pid;
}

int
pp_dw_target_pid(void)
{
    return dw_pid;
}

#if PP_HAVE_LIBDW
struct pp_dw_api pp_dw;

int
pp_dw_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
               char **file_name, Elf **elfp)
{
    char path[4096];
    int fd;

    if (modname && modname[0] == '/') {
        pp_proc_root_path(dw_pid, modname, path, sizeof path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            *file_name = strdup(path);
            *elfp = NULL;
            return fd;
        }
    }
    /* [vdso] and deleted files: libdwfl reads them from /proc/PID/mem */
    return pp_dw.dwfl_linux_proc_find_elf(mod, userdata, modname, base, file_name, elfp);
}

static const struct pp_dl_sym dw_syms[] = {
#define PP_DW_SYM(f) {#f, (void **)&pp_dw.f},
    PP_DW_FUNCS(PP_DW_SYM)
#undef PP_DW_SYM
};

int
pp_dw_load(char *why, size_t whylen)
{
    static struct pp_dl_lib lib = {
        .soname = "libdw.so.1",
        .install = "install elfutils' libdw1 (Debian: apt install libdw1)",
        .version = "elfutils 0.188 or newer needed",
        .syms = dw_syms,
        .nsyms = PP_ARRAY_LEN(dw_syms),
    };
    return pp_dl_load(&lib, why, whylen);
}
#else
int
pp_dw_load(char *why, size_t whylen)
{
    if (why)
        snprintf(why, whylen,
                 "this pyprof-sampler was built without elfutils headers: install libdw-dev and rebuild");
    return PP_ENOTFOUND;
}
#endif
