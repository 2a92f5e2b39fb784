/*
 * dl.c -- run-time loading of an optional shared library (see dl.h).
 */
#include "dl.h"

#include <dlfcn.h>
#include <stdio.h>

#include "err.h"

int
pp_dl_load(struct pp_dl_lib *lib, char *why, size_t whylen)
{
    void *h;
    size_t i;

    if (lib->state == 0) {
        lib->state = -1;
        h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(lib->reason, sizeof lib->reason, "cannot load %s (%s): %s", lib->soname,
                     dlerror(), lib->install);
        } else {
            for (i = 0; i < lib->nsyms; i++)
                if (!(*lib->syms[i].slot = dlsym(h, lib->syms[i].name)))
                    break;
            if (i < lib->nsyms)
                snprintf(lib->reason, sizeof lib->reason, "%s lacks %s: %s", lib->soname,
                         lib->syms[i].name, lib->version);
            else
                lib->state = 1; /* the handle stays open for the process' life */
        }
    }
    if (lib->state == 1)
        return 0;
    if (why)
        snprintf(why, whylen, "%s", lib->reason);
    return PP_ENOTFOUND;
}
