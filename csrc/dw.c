/*
 * dw.c -- run-time loading of libdw (see dw.h).
 */
#include "dw.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "proc.h"

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

int
pp_dw_load(char *why, size_t whylen)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    static char reason[256];
    void *h;

    if (state == 0) {
        state = -1;
        h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(reason, sizeof reason,
                     "cannot load libdw.so.1 (%s): install elfutils' libdw1 (Debian: apt install libdw1)",
                     dlerror());
        } else {
            state = 1;
#define PP_DW_SYM(f)                                                                      \
    if (state == 1 && !(*(void **)&pp_dw.f = dlsym(h, #f))) {                            \
        snprintf(reason, sizeof reason, "libdw.so.1 lacks %s: elfutils 0.188 or newer needed", #f); \
        state = -1;                                                                       \
    }
            PP_DW_FUNCS(PP_DW_SYM)
#undef PP_DW_SYM
        }
    }
    if (state == 1)
        return 0;
    if (why)
        snprintf(why, whylen, "%s", reason);
    return PP_ENOTFOUND;
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
