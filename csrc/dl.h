/*
 * dl.h -- run-time loading of an optional shared library (layer L0).
 *
 * libdw, libunwind and libbpf are dlopen()ed, so that the sampler starts
 * without them and says what is missing.  One loader for the three: the
 * library is opened once per process (the handle stays open for its
 * life), every symbol is looked up, and the outcome, success or the one
 * sentence that explains the failure, is kept for later calls.
 */
#ifndef PP_DL_H
#define PP_DL_H

#include <stddef.h>

/* One symbol: its name and where its address goes (a function pointer). */
struct pp_dl_sym {
    const char *name;
    void **slot;
};

struct pp_dl_lib {
    const char *soname;  /* "libdw.so.1" */
    const char *install; /* how to get it: "install ... (Debian: apt install ...)" */
    const char *version; /* what a library lacking a symbol must be replaced by */
    const struct pp_dl_sym *syms;
    size_t nsyms;
    int state;           /* 0 not tried, 1 loaded, -1 failed */
    char reason[256];
};

/* Loads lib (the first call) or says how the first call went: 0, or
 * PP_ENOTFOUND with the sentence in why (when why is not NULL). */
int pp_dl_load(struct pp_dl_lib *lib, char *why, size_t whylen);

#endif
