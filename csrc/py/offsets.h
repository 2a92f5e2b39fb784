/*
 * py/offsets.h -- raw per-version CPython structure offsets (layer L2).
 *
 * One flat table of byte offsets and sizes, filled either from a
 * generated per-version header (3.8 - 3.12, produced by tools/gen_offsets.c
 * compiled against each interpreter's own headers) or, for 3.13+, from the
 * target's own _Py_DebugOffsets (py/layout.c), topped up from the generated
 * 3.13 table for the few fields the debug table does not carry.
 *
 * Every field is an int32_t byte offset (or size); PP_OFF_NONE (-1) means
 * "this field does not exist in this version".  The X-macro below is the
 * single list of fields: the struct, the generator's output and the
 * completeness test all expand it, so a generated table can never leave a
 * field silently zero.
 *
 * Naming: <struct>_<cpython field name>.  Versions are data here; code
 * outside py/, pyframe.c and pycode.c never looks at these numbers'
 * provenance.
 */
#ifndef PP_PY_OFFSETS_H
#define PP_PY_OFFSETS_H

#include <stdint.h>

#define PP_OFF_NONE (-1)

/* X(field) -- keep grouped by CPython struct. */
#define PP_PYOFFSET_FIELDS(X)                                                  \
    /* _PyRuntimeState */                                                      \
    X(runtime_size)                                                            \
    X(runtime_finalizing)                                                      \
    X(runtime_interpreters_head)                                               \
    X(runtime_interpreters_main)                                               \
    X(runtime_gilstate_tstate_current) /* <=3.11 */                            \
    X(runtime_ceval_gil)               /* <=3.11: embedded gil struct */       \
    /* PyInterpreterState */                                                   \
    X(interp_size)                                                             \
    X(interp_next)                                                             \
    X(interp_id)                                                               \
    X(interp_threads_head) /* tstate_head <=3.10, threads.head 3.11+ */        \
    X(interp_modules)      /* modules <=3.11, imports.modules 3.12+ */         \
    X(interp_sysdict)                                                          \
    X(interp_ceval_gil)    /* 3.12+: pointer interp->ceval.gil */              \
    X(interp_gil)          /* 3.12+: embedded interp->_gil */                  \
    X(interp_eval_frame)                                                       \
    /* struct _gil_runtime_state */                                            \
    X(gil_last_holder)                                                         \
    X(gil_locked)                                                              \
    /* PyThreadState */                                                        \
    X(tstate_size)                                                             \
    X(tstate_prev)                                                             \
    X(tstate_next)                                                             \
    X(tstate_interp)                                                           \
    X(tstate_frame)          /* <=3.10: PyFrameObject * */                     \
    X(tstate_cframe)         /* 3.11-3.12: _PyCFrame * */                      \
    X(tstate_current_frame)  /* 3.13+: _PyInterpreterFrame * */                \
    X(tstate_thread_id)                                                        \
    X(tstate_native_thread_id) /* 3.11+ */                                     \
    X(tstate_status)         /* 3.12+ bitfield word */                         \
    X(tstate_state)          /* 3.13+ attached/detached */                     \
    X(tstate_datastack_chunk) /* 3.11+ */                                      \
    /* _PyCFrame (3.11-3.12) */                                                \
    X(cframe_current_frame)                                                    \
    X(cframe_previous)       /* the caller activation's _PyCFrame (on its C stack) */ \
    /* PyFrameObject */                                                        \
    X(frameobj_size)                                                           \
    X(frameobj_f_back)                                                         \
    X(frameobj_f_code)       /* <=3.10 */                                      \
    X(frameobj_f_lasti)      /* <=3.10 */                                      \
    X(frameobj_f_gen)        /* <=3.10 */                                      \
    X(frameobj_f_state)      /* f_executing 3.8-3.9 (1 running), f_state 3.10 (0) */ \
    X(frameobj_f_localsplus) /* <=3.10: locals, then cells, then free vars */  \
    /* _PyInterpreterFrame (3.11+) */                                          \
    X(iframe_size)                                                             \
    X(iframe_code)           /* f_code 3.11-3.12, f_executable 3.13+ */        \
    X(iframe_previous)                                                         \
    X(iframe_instr)          /* prev_instr 3.11-3.12, instr_ptr 3.13+ */       \
    X(iframe_is_entry)       /* 3.11 only */                                   \
    X(iframe_owner)                                                            \
    X(iframe_localsplus)                                                       \
    /* PyCodeObject */                                                         \
    X(code_size)                                                               \
    X(code_flags)                                                              \
    X(code_firstlineno)                                                        \
    X(code_code)             /* co_code bytes, <=3.10 */                       \
    X(code_filename)                                                           \
    X(code_name)                                                               \
    X(code_qualname)         /* 3.11+ */                                       \
    X(code_linetable)        /* co_lnotab 3.8-3.9, co_linetable 3.10+ */       \
    X(code_firsttraceable)   /* _co_firsttraceable 3.11+ */                    \
    X(code_code_adaptive)    /* 3.11+ inline bytecode */                       \
    X(code_nlocals)          /* <=3.10: int co_nlocals */                      \
    X(code_varnames)         /* <=3.10: tuple of local names */                \
    X(code_cellvars)         /* <=3.10 */                                      \
    X(code_freevars)         /* <=3.10 */                                      \
    X(code_localsplusnames)  /* 3.11+: tuple of every localsplus name */       \
    X(code_localspluskinds)  /* 3.11+: bytes, one CO_FAST_* kind per name */   \
    /* PyObject / PyVarObject / PyTypeObject */                                \
    X(object_ob_type)                                                          \
    X(varobject_ob_size)                                                       \
    X(type_tp_name)                                                            \
    X(type_tp_basicsize)                                                       \
    X(type_tp_dictoffset)                                                      \
    X(type_tp_flags)                                                           \
    /* str */                                                                  \
    X(unicode_length)                                                          \
    X(unicode_state)                                                           \
    X(unicode_ascii_size)    /* sizeof(PyASCIIObject) */                       \
    X(unicode_compact_size)  /* sizeof(PyCompactUnicodeObject) */              \
    X(unicode_data)          /* PyUnicodeObject.data.any (legacy strings) */   \
    /* bytes */                                                                \
    X(bytes_ob_size)                                                           \
    X(bytes_ob_sval)                                                           \
    /* tuple / list */                                                         \
    X(tuple_ob_item)                                                           \
    X(list_ob_item)                                                            \
    /* int (PyLongObject) */                                                   \
    X(long_ob_digit)         /* digits; sign/size in ob_size <=3.11 */         \
    X(long_lv_tag)           /* 3.12+ */                                       \
    /* float, set, cell (locals rendering) */                                  \
    X(float_ob_fval)                                                           \
    X(set_used)                                                                \
    X(cell_ob_ref)                                                             \
    /* dict */                                                                 \
    X(dict_ma_used)                                                            \
    X(dict_ma_keys)                                                            \
    X(dict_ma_values)                                                          \
    X(dictkeys_dk_size)      /* <=3.10 */                                      \
    X(dictkeys_dk_log2_size) /* 3.11+ */                                       \
    X(dictkeys_dk_log2_index_bytes) /* 3.11+ */                                \
    X(dictkeys_dk_kind)      /* 3.11+ */                                       \
    X(dictkeys_dk_nentries)                                                    \
    X(dictkeys_dk_indices)                                                     \
    X(dictkeyentry_size)     /* sizeof(PyDictKeyEntry) */                      \
    X(dictkeyentry_me_key)                                                     \
    X(dictkeyentry_me_value)                                                   \
    X(dictunicodeentry_size) /* 3.11+: sizeof(PyDictUnicodeEntry) */           \
    X(dictunicodeentry_me_key)                                                 \
    X(dictunicodeentry_me_value)                                               \
    X(heaptype_ht_cached_keys)                                                 \
    /* module */                                                               \
    X(module_md_dict)                                                          \
    /* generator / coroutine */                                                \
    X(gen_gi_frame)          /* <=3.10 */                                      \
    X(gen_gi_iframe)         /* 3.11+ */                                       \
    X(gen_gi_frame_state)    /* 3.11+ */

struct pp_pyoffsets {
    uint32_t version_hex; /* PY_VERSION_HEX of the headers it came from */
#define PP_X_FIELD(name) int32_t name;
    PP_PYOFFSET_FIELDS(PP_X_FIELD)
#undef PP_X_FIELD
};

#endif
