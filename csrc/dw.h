/*
 * dw.h -- elfutils libdw (libdwfl) loaded at run time (layer L2).
 *
 * pyprof-sampler is not linked against libdw: Python-only sampling must
 * work on a machine without elfutils.  The first use of native mode
 * dlopen()s libdw.so.1 and fills pp_dw with the functions pyprof calls;
 * the types come from elfutils' headers at build time.  When the headers
 * were absent at build time PP_HAVE_LIBDW is 0 and pp_dw_load() says so.
 */
#ifndef PP_DW_H
#define PP_DW_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__has_include)
#if __has_include(<elfutils/libdwfl.h>)
#define PP_HAVE_LIBDW 1
#endif
#endif
#ifndef PP_HAVE_LIBDW
#define PP_HAVE_LIBDW 0
#endif

#if PP_HAVE_LIBDW
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>

#define PP_DW_FUNCS(X)                                                                    \
    X(dwfl_begin)                                                                         \
    X(dwfl_end)                                                                           \
    X(dwfl_errno)                                                                         \
    X(dwfl_errmsg)                                                                        \
    X(dwfl_report_begin)                                                                  \
    X(dwfl_report_end)                                                                    \
    X(dwfl_report_module)                                                                 \
    X(dwfl_linux_proc_report)                                                             \
    X(dwfl_linux_proc_find_elf)                                                           \
    X(dwfl_standard_find_debuginfo)                                                       \
    X(dwfl_attach_state)                                                                  \
    X(dwfl_getthread_frames)                                                              \
    X(dwfl_thread_state_registers)                                                        \
    X(dwfl_thread_state_register_pc)                                                      \
    X(dwfl_frame_pc)                                                                      \
    X(dwfl_frame_reg)                                                                     \
    X(dwfl_addrmodule)                                                                    \
    X(dwfl_module_info)                                                                   \
    X(dwfl_module_getelf)                                                                 \
    X(dwfl_module_getdwarf)                                                               \
    X(dwfl_module_getsymtab)                                                              \
    X(dwfl_module_getsym_info)                                                            \
    X(dwfl_module_addrdie)                                                                \
    X(dwfl_module_build_id)                                                               \
    X(dwfl_module_eh_cfi)                                                                 \
    X(dwarf_getscopes)                                                                    \
    X(dwarf_getscopes_die)                                                                \
    X(dwarf_diename)                                                                      \
    X(dwarf_attr_integrate)                                                               \
    X(dwarf_formstring)                                                                   \
    X(dwarf_tag)                                                                          \
    X(dwarf_cfi_addrframe)                                                                \
    X(dwarf_frame_cfa)                                                                    \
    X(dwarf_frame_register)                                                               \
    X(dwarf_frame_info)

struct pp_dw_api {
#define PP_DW_PTR(f) __typeof__(f) *f;
    PP_DW_FUNCS(PP_DW_PTR)
#undef PP_DW_PTR
};
extern struct pp_dw_api pp_dw;

/* The find_elf callback of every Dwfl of a target (sym.c, unwind_dw.c):
 * opens a module's file as the target sees it (its mount namespace);
 * [vdso] and deleted files are read from /proc/PID/mem by libdwfl.
 * libdwfl passes it nothing of ours: set the target's PID with
 * pp_dw_target() before every call into libdwfl that may open files. */
int pp_dw_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                   char **file_name, Elf **elfp);
#endif

/* The PID whose files pp_dw_find_elf() opens (this thread's). */
void pp_dw_target(int pid);
int pp_dw_target_pid(void);

/* Loads libdw once.  0, or PP_ENOTFOUND with a sentence in why. */
int pp_dw_load(char *why, size_t whylen);

#endif
