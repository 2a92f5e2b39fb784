/*
 * dw.c -- run-time loading of libdw (see dw.h).
 */
#include "dw.h"

#include <dlfcn.h>
#include <stdio.h>

#include "err.h"

#if PP_HAVE_LIBDW
struct pp_dw_api pp_dw;

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
