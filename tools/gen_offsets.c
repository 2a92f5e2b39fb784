/*
 * tools/gen_offsets.c -- print one CPython version's struct pp_pyoffsets
 * as a C header (csrc/py/offsets_3_X.h).
 *
 * Compiled against ONE interpreter's own installed headers (run by
 * tools/gen_offsets.sh):
 *
 *   gcc -DPy_BUILD_CORE -I$PREFIX/include/python3.X \
 *       -I$PREFIX/include/python3.X/internal -Icsrc \
 *       -o gen tools/gen_offsets.c && ./gen > csrc/py/offsets_3_X.h
 *
 * Every field of PP_PYOFFSET_FIELDS (csrc/py/offsets.h) must have a macro
 * OFF_<field> below, either offsetof()/sizeof() or PP_OFF_NONE.  The
 * output is produced by expanding the X-macro over those macros, so a
 * field added to offsets.h and forgotten here is a compile error
 * ("'OFF_<field>' undeclared"), never a silent 0.
 *
 * A few structures are private to CPython's .c files in some versions
 * and are not in the installed headers; their layouts are written out by
 * hand below (see the "hand-written layouts" section) and say so.
 *
 * This is a build-time tool: it is the only place in the tree that
 * includes Python.h, and it is never linked into pyprof.
 */
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif

#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if PY_VERSION_HEX < 0x03080000 || PY_VERSION_HEX >= 0x03100000
#error "gen_offsets.c supports CPython 3.8 - 3.15"
#endif

#if PY_VERSION_HEX < 0x03090000
#include "internal/pycore_pystate.h" /* _PyRuntimeState, PyInterpreterState */
#else
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#endif
#include "internal/pycore_gil.h" /* struct _gil_runtime_state */

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h> /* PyFrameObject */
#include <longintrepr.h> /* struct _longobject (not pulled in by Python.h) */
#else
#include "internal/pycore_frame.h" /* _PyInterpreterFrame, struct _frame */
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h" /* PyDictKeysObject, PyDictUnicodeEntry */
#endif
#if PY_VERSION_HEX >= 0x030A0000
#include "internal/pycore_moduleobject.h" /* PyModuleObject */
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_tstate.h"
#endif

#include "py/offsets.h"

/* ---- hand-written layouts -------------------------------------------- */

#if PY_VERSION_HEX < 0x030B0000
/*
 * 3.8 - 3.10: PyDictKeysObject and PyDictKeyEntry are defined in
 * Objects/dict-common.h, which is not installed.  Layout copied by hand
 * from that file (identical in 3.8, 3.9 and 3.10); only the field order
 * and types matter for offsetof.
 */
typedef struct {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} gen_dictkeyentry;

struct gen_dictkeysobject {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup; /* dict_lookup_func */
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
};
#endif

#if PY_VERSION_HEX < 0x030A0000
/*
 * 3.8 - 3.9: PyModuleObject is private to Objects/moduleobject.c:
 * PyObject_HEAD, then md_dict (then md_def, md_state, ...).  Only md_dict
 * is needed.  3.10+ have it in internal/pycore_moduleobject.h.
 */
struct gen_moduleobject {
    PyObject_HEAD
    PyObject *md_dict;
};
#endif

/* ---- one macro per field ---------------------------------------------- */

#define GEN_NONE PP_OFF_NONE

/* _PyRuntimeState */
#define OFF_runtime_size sizeof(_PyRuntimeState)
#if PY_VERSION_HEX < 0x03090000
#define OFF_runtime_finalizing offsetof(_PyRuntimeState, finalizing)
#else
#define OFF_runtime_finalizing offsetof(_PyRuntimeState, _finalizing)
#endif
#define OFF_runtime_interpreters_head offsetof(_PyRuntimeState, interpreters.head)
#define OFF_runtime_interpreters_main offsetof(_PyRuntimeState, interpreters.main)
#if PY_VERSION_HEX < 0x030C0000
#define OFF_runtime_gilstate_tstate_current \
    offsetof(_PyRuntimeState, gilstate.tstate_current)
#define OFF_runtime_ceval_gil offsetof(_PyRuntimeState, ceval.gil)
#else
#define OFF_runtime_gilstate_tstate_current GEN_NONE
#define OFF_runtime_ceval_gil GEN_NONE
#endif

/* PyInterpreterState */
#define OFF_interp_size sizeof(PyInterpreterState)
#define OFF_interp_next offsetof(PyInterpreterState, next)
#define OFF_interp_id offsetof(PyInterpreterState, id)
#if PY_VERSION_HEX < 0x030B0000
#define OFF_interp_threads_head offsetof(PyInterpreterState, tstate_head)
#else
#define OFF_interp_threads_head offsetof(PyInterpreterState, threads.head)
#endif
#if PY_VERSION_HEX < 0x030C0000
#define OFF_interp_modules offsetof(PyInterpreterState, modules)
#else
#define OFF_interp_modules offsetof(PyInterpreterState, imports.modules)
#endif
#define OFF_interp_sysdict offsetof(PyInterpreterState, sysdict)
#if PY_VERSION_HEX >= 0x030C0000
#define OFF_interp_ceval_gil offsetof(PyInterpreterState, ceval.gil)
#define OFF_interp_gil offsetof(PyInterpreterState, _gil)
#else
#define OFF_interp_ceval_gil GEN_NONE
#define OFF_interp_gil GEN_NONE
#endif
#define OFF_interp_eval_frame offsetof(PyInterpreterState, eval_frame)

/* struct _gil_runtime_state */
#define OFF_gil_last_holder offsetof(struct _gil_runtime_state, last_holder)
#define OFF_gil_locked offsetof(struct _gil_runtime_state, locked)

/* PyThreadState */
#define OFF_tstate_size sizeof(PyThreadState)
#define OFF_tstate_prev offsetof(PyThreadState, prev)
#define OFF_tstate_next offsetof(PyThreadState, next)
#define OFF_tstate_interp offsetof(PyThreadState, interp)
#if PY_VERSION_HEX < 0x030B0000
#define OFF_tstate_frame offsetof(PyThreadState, frame)
#define OFF_tstate_cframe GEN_NONE
#define OFF_tstate_current_frame GEN_NONE
#elif PY_VERSION_HEX < 0x030D0000
#define OFF_tstate_frame GEN_NONE
#define OFF_tstate_cframe offsetof(PyThreadState, cframe)
#define OFF_tstate_current_frame GEN_NONE
#else
#define OFF_tstate_frame GEN_NONE
#define OFF_tstate_cframe GEN_NONE
#define OFF_tstate_current_frame offsetof(PyThreadState, current_frame)
#endif
#define OFF_tstate_thread_id offsetof(PyThreadState, thread_id)
#if PY_VERSION_HEX >= 0x030B0000
#define OFF_tstate_native_thread_id offsetof(PyThreadState, native_thread_id)
#define OFF_tstate_datastack_chunk offsetof(PyThreadState, datastack_chunk)
#else
#define OFF_tstate_native_thread_id GEN_NONE
#define OFF_tstate_datastack_chunk GEN_NONE
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define OFF_tstate_status offsetof(PyThreadState, _status)
#else
#define OFF_tstate_status GEN_NONE
#endif
#if PY_VERSION_HEX >= 0x030D0000
#define OFF_tstate_state offsetof(PyThreadState, state)
#else
#define OFF_tstate_state GEN_NONE
#endif

/* _PyCFrame (3.11 - 3.12) */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
#define OFF_cframe_current_frame offsetof(_PyCFrame, current_frame)
#define OFF_cframe_previous offsetof(_PyCFrame, previous)
#else
#define OFF_cframe_current_frame GEN_NONE
#define OFF_cframe_previous GEN_NONE
#endif

/* PyFrameObject (struct _frame) */
#define OFF_frameobj_size sizeof(PyFrameObject)
#define OFF_frameobj_f_back offsetof(PyFrameObject, f_back)
#if PY_VERSION_HEX < 0x030B0000
#define OFF_frameobj_f_code offsetof(PyFrameObject, f_code)
#define OFF_frameobj_f_lasti offsetof(PyFrameObject, f_lasti)
#define OFF_frameobj_f_gen offsetof(PyFrameObject, f_gen)
#if PY_VERSION_HEX >= 0x030A0000
#define OFF_frameobj_f_state offsetof(PyFrameObject, f_state) /* 3.10: 0 executing */
#else
#define OFF_frameobj_f_state offsetof(PyFrameObject, f_executing) /* 3.8/3.9: 1 running */
#endif
#else
#define OFF_frameobj_f_code GEN_NONE
#define OFF_frameobj_f_lasti GEN_NONE
#define OFF_frameobj_f_gen GEN_NONE
#define OFF_frameobj_f_state GEN_NONE
#endif
#if PY_VERSION_HEX < 0x030B0000
#define OFF_frameobj_f_localsplus offsetof(PyFrameObject, f_localsplus)
#else
#define OFF_frameobj_f_localsplus GEN_NONE
#endif

/* _PyInterpreterFrame (3.11+) */
#if PY_VERSION_HEX >= 0x030B0000
#define OFF_iframe_size sizeof(_PyInterpreterFrame)
#if PY_VERSION_HEX < 0x030D0000
#define OFF_iframe_code offsetof(_PyInterpreterFrame, f_code)
#define OFF_iframe_instr offsetof(_PyInterpreterFrame, prev_instr)
#else
#define OFF_iframe_code offsetof(_PyInterpreterFrame, f_executable)
#define OFF_iframe_instr offsetof(_PyInterpreterFrame, instr_ptr)
#endif
#define OFF_iframe_previous offsetof(_PyInterpreterFrame, previous)
#if PY_VERSION_HEX < 0x030C0000
#define OFF_iframe_is_entry offsetof(_PyInterpreterFrame, is_entry)
#else
#define OFF_iframe_is_entry GEN_NONE
#endif
#define OFF_iframe_owner offsetof(_PyInterpreterFrame, owner)
#define OFF_iframe_localsplus offsetof(_PyInterpreterFrame, localsplus)
#else
#define OFF_iframe_size GEN_NONE
#define OFF_iframe_code GEN_NONE
#define OFF_iframe_previous GEN_NONE
#define OFF_iframe_instr GEN_NONE
#define OFF_iframe_is_entry GEN_NONE
#define OFF_iframe_owner GEN_NONE
#define OFF_iframe_localsplus GEN_NONE
#endif

/* PyCodeObject */
#define OFF_code_size sizeof(PyCodeObject)
#define OFF_code_flags offsetof(PyCodeObject, co_flags)
#define OFF_code_firstlineno offsetof(PyCodeObject, co_firstlineno)
#define OFF_code_filename offsetof(PyCodeObject, co_filename)
#define OFF_code_name offsetof(PyCodeObject, co_name)
#if PY_VERSION_HEX < 0x030A0000
#define OFF_code_linetable offsetof(PyCodeObject, co_lnotab)
#else
#define OFF_code_linetable offsetof(PyCodeObject, co_linetable)
#endif
#if PY_VERSION_HEX < 0x030B0000
#define OFF_code_code offsetof(PyCodeObject, co_code)
#define OFF_code_qualname GEN_NONE
#define OFF_code_firsttraceable GEN_NONE
#define OFF_code_code_adaptive GEN_NONE
#else
#define OFF_code_code GEN_NONE
#define OFF_code_qualname offsetof(PyCodeObject, co_qualname)
#define OFF_code_firsttraceable offsetof(PyCodeObject, _co_firsttraceable)
#define OFF_code_code_adaptive offsetof(PyCodeObject, co_code_adaptive)
#endif
#if PY_VERSION_HEX < 0x030B0000
#define OFF_code_nlocals offsetof(PyCodeObject, co_nlocals)
#define OFF_code_varnames offsetof(PyCodeObject, co_varnames)
#define OFF_code_cellvars offsetof(PyCodeObject, co_cellvars)
#define OFF_code_freevars offsetof(PyCodeObject, co_freevars)
#define OFF_code_localsplusnames GEN_NONE
#define OFF_code_localspluskinds GEN_NONE
#else
#define OFF_code_nlocals GEN_NONE
#define OFF_code_varnames GEN_NONE
#define OFF_code_cellvars GEN_NONE
#define OFF_code_freevars GEN_NONE
#define OFF_code_localsplusnames offsetof(PyCodeObject, co_localsplusnames)
#define OFF_code_localspluskinds offsetof(PyCodeObject, co_localspluskinds)
#endif

/* PyObject / PyVarObject / PyTypeObject */
#define OFF_object_ob_type offsetof(PyObject, ob_type)
#define OFF_varobject_ob_size offsetof(PyVarObject, ob_size)
#define OFF_type_tp_name offsetof(PyTypeObject, tp_name)
#define OFF_type_tp_basicsize offsetof(PyTypeObject, tp_basicsize)
#define OFF_type_tp_dictoffset offsetof(PyTypeObject, tp_dictoffset)
#define OFF_type_tp_flags offsetof(PyTypeObject, tp_flags)

/* str */
#define OFF_unicode_length offsetof(PyASCIIObject, length)
#define OFF_unicode_state offsetof(PyASCIIObject, state)
#define OFF_unicode_ascii_size sizeof(PyASCIIObject)
#define OFF_unicode_compact_size sizeof(PyCompactUnicodeObject)
#define OFF_unicode_data offsetof(PyUnicodeObject, data)

/* bytes */
#define OFF_bytes_ob_size offsetof(PyBytesObject, ob_base.ob_size)
#define OFF_bytes_ob_sval offsetof(PyBytesObject, ob_sval)

/* tuple / list */
#define OFF_tuple_ob_item offsetof(PyTupleObject, ob_item)
#define OFF_list_ob_item offsetof(PyListObject, ob_item)

/* int */
#if PY_VERSION_HEX < 0x030C0000
#define OFF_long_ob_digit offsetof(PyLongObject, ob_digit)
#define OFF_long_lv_tag GEN_NONE
#else
#define OFF_long_ob_digit offsetof(PyLongObject, long_value.ob_digit)
#define OFF_long_lv_tag offsetof(PyLongObject, long_value.lv_tag)
#endif

/* float, set, cell */
#define OFF_float_ob_fval offsetof(PyFloatObject, ob_fval)
#define OFF_set_used offsetof(PySetObject, used)
#define OFF_cell_ob_ref offsetof(PyCellObject, ob_ref)

/* dict */
#define OFF_dict_ma_used offsetof(PyDictObject, ma_used)
#define OFF_dict_ma_keys offsetof(PyDictObject, ma_keys)
#define OFF_dict_ma_values offsetof(PyDictObject, ma_values)
#if PY_VERSION_HEX < 0x030B0000
#define OFF_dictkeys_dk_size offsetof(struct gen_dictkeysobject, dk_size)
#define OFF_dictkeys_dk_log2_size GEN_NONE
#define OFF_dictkeys_dk_log2_index_bytes GEN_NONE
#define OFF_dictkeys_dk_kind GEN_NONE
#define OFF_dictkeys_dk_nentries offsetof(struct gen_dictkeysobject, dk_nentries)
#define OFF_dictkeys_dk_indices offsetof(struct gen_dictkeysobject, dk_indices)
#define OFF_dictkeyentry_size sizeof(gen_dictkeyentry)
#define OFF_dictkeyentry_me_key offsetof(gen_dictkeyentry, me_key)
#define OFF_dictkeyentry_me_value offsetof(gen_dictkeyentry, me_value)
#define OFF_dictunicodeentry_size GEN_NONE
#define OFF_dictunicodeentry_me_key GEN_NONE
#define OFF_dictunicodeentry_me_value GEN_NONE
#else
#define OFF_dictkeys_dk_size GEN_NONE
#define OFF_dictkeys_dk_log2_size offsetof(PyDictKeysObject, dk_log2_size)
#define OFF_dictkeys_dk_log2_index_bytes \
    offsetof(PyDictKeysObject, dk_log2_index_bytes)
#define OFF_dictkeys_dk_kind offsetof(PyDictKeysObject, dk_kind)
#define OFF_dictkeys_dk_nentries offsetof(PyDictKeysObject, dk_nentries)
#define OFF_dictkeys_dk_indices offsetof(PyDictKeysObject, dk_indices)
#define OFF_dictkeyentry_size sizeof(PyDictKeyEntry)
#define OFF_dictkeyentry_me_key offsetof(PyDictKeyEntry, me_key)
#define OFF_dictkeyentry_me_value offsetof(PyDictKeyEntry, me_value)
#define OFF_dictunicodeentry_size sizeof(PyDictUnicodeEntry)
#define OFF_dictunicodeentry_me_key offsetof(PyDictUnicodeEntry, me_key)
#define OFF_dictunicodeentry_me_value offsetof(PyDictUnicodeEntry, me_value)
#endif
#define OFF_heaptype_ht_cached_keys offsetof(PyHeapTypeObject, ht_cached_keys)

/* module */
#if PY_VERSION_HEX < 0x030A0000
#define OFF_module_md_dict offsetof(struct gen_moduleobject, md_dict)
#else
#define OFF_module_md_dict offsetof(PyModuleObject, md_dict)
#endif

/* generator / coroutine */
#if PY_VERSION_HEX < 0x030B0000
#define OFF_gen_gi_frame offsetof(PyGenObject, gi_frame)
#define OFF_gen_gi_iframe GEN_NONE
#define OFF_gen_gi_frame_state GEN_NONE
#else
#define OFF_gen_gi_frame GEN_NONE
#define OFF_gen_gi_iframe offsetof(PyGenObject, gi_iframe)
#define OFF_gen_gi_frame_state offsetof(PyGenObject, gi_frame_state)
#endif

/* ---- output ------------------------------------------------------------ */

struct gen_field {
    const char *name;
    long long value;
};

/* (long long) of a size_t offset or of the int PP_OFF_NONE. */
#define GEN_X_ENTRY(name) {#name, (long long)(OFF_##name)},
static const struct gen_field gen_fields[] = {PP_PYOFFSET_FIELDS(GEN_X_ENTRY)};
#undef GEN_X_ENTRY

/* Number of X-macro fields, counted independently of gen_fields. */
#define GEN_X_ONE(name) +1
enum { GEN_NFIELDS = 0 PP_PYOFFSET_FIELDS(GEN_X_ONE) };
#undef GEN_X_ONE

/* "t" for a free-threaded (Py_GIL_DISABLED) build: its own table, since
 * every object layout moves with the larger object header. */
#ifdef Py_GIL_DISABLED
#define GEN_SUFFIX "t"
#define GEN_BUILD "Free-threaded (Py_GIL_DISABLED), non-debug"
#else
#define GEN_SUFFIX ""
#define GEN_BUILD "Default (non-debug, GIL)"
#endif

int main(void)
{
    size_t n = sizeof gen_fields / sizeof gen_fields[0];
    int bad = 0;

    if (n != (size_t)GEN_NFIELDS) {
        fprintf(stderr, "gen_offsets: %zu entries for %d fields\n", n,
                (int)GEN_NFIELDS);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        long long v = gen_fields[i].value;
        if (v != PP_OFF_NONE && (v < 0 || v > INT32_MAX)) {
            fprintf(stderr, "gen_offsets: field %s = %lld out of range\n",
                    gen_fields[i].name, v);
            bad = 1;
        }
    }
    if (bad)
        return 1;

    printf("/*\n"
           " * py/offsets_3_%d%s.h -- CPython 3.%d%s structure offsets.\n"
           " *\n"
           " * generated by tools/gen_offsets.sh from Python %s headers; "
           "do not edit.\n"
           " * %s x86-64 build.\n"
           " */\n",
           PY_MINOR_VERSION, GEN_SUFFIX, PY_MINOR_VERSION, GEN_SUFFIX, PY_VERSION, GEN_BUILD);
    printf("#ifndef PP_PY_OFFSETS_3_%d%s_H\n#define PP_PY_OFFSETS_3_%d%s_H\n\n",
           PY_MINOR_VERSION, GEN_SUFFIX, PY_MINOR_VERSION, GEN_SUFFIX);
    printf("#include \"offsets.h\"\n\n");
    printf("static const struct pp_pyoffsets pp_offsets_3_%d%s = {\n",
           PY_MINOR_VERSION, GEN_SUFFIX);
    printf("    .version_hex = 0x%08lx,\n", (unsigned long)PY_VERSION_HEX);
    for (size_t i = 0; i < n; i++) {
        if (gen_fields[i].value == PP_OFF_NONE)
            printf("    .%s = PP_OFF_NONE,\n", gen_fields[i].name);
        else
            printf("    .%s = %lld,\n", gen_fields[i].name,
                   gen_fields[i].value);
    }
    printf("};\n\n#endif\n");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_offsets: stdout");
        return 1;
    }
    return 0;
}
