/*
 * py/layout.h -- the version-neutral description of a target CPython
 * (layer L2).
 *
 * struct pp_pylayout = raw offsets (py/offsets.h) + a few shape flags for
 * structural differences that offsets alone cannot express.  Everything
 * above this layer (pyframe, pycode) tests shape flags, never a version
 * number.  The layout is passed explicitly, never global, so tests can
 * hold several versions in one process.
 */
#ifndef PP_PY_LAYOUT_H
#define PP_PY_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "../mem.h"
#include "offsets.h"

enum pp_linetable_kind {
    PP_LINETABLE_LNOTAB,   /* 3.8-3.9: co_lnotab (addr_delta, line_delta) */
    PP_LINETABLE_PEP626,   /* 3.10: co_linetable (start_delta, line_delta) */
    PP_LINETABLE_LOCATION, /* 3.11+: location table with varints */
};

enum pp_frame_shape {
    PP_FRAMES_OBJECTS,     /* <=3.10: PyFrameObject chain via f_back */
    PP_FRAMES_CFRAME,      /* 3.11-3.12: tstate->cframe->current_frame */
    PP_FRAMES_CURRENT,     /* 3.13+: tstate->current_frame */
};

enum pp_entry_shape {
    PP_ENTRY_NONE,         /* <=3.10: one eval-loop activation per frame */
    PP_ENTRY_FLAG,         /* 3.11: is_entry on the last frame of a run */
    PP_ENTRY_SHIM,         /* 3.12+: owner in [shim_owner, shim_owner_last] marks the boundary */
};

/* Where an object's instance __dict__ lives (used for thread names). */
enum pp_instdict_shape {
    PP_INSTDICT_DICTOFFSET, /* <=3.10: PyObject * at obj + tp_dictoffset */
    PP_INSTDICT_MANAGED_11, /* dict at obj - 24, or values * at obj - 32 */
    PP_INSTDICT_MANAGED_12, /* tagged dict-or-(values - 1) word at obj - 24 */
    PP_INSTDICT_MANAGED_13, /* dict at obj - managed_dict_back, or inline values after the object */
};

/* Walker buffers: a layout whose thread state or frame is larger is refused. */
#define PP_PYLAYOUT_TSTATE_MAX 1024
#define PP_PYLAYOUT_IFRAME_MAX 256

struct pp_pylayout {
    uint32_t version_hex;  /* target's PY_VERSION_HEX (e.g. 0x030b07f0) */
    struct pp_pyoffsets o;
    enum pp_frame_shape frames;
    enum pp_entry_shape entry;
    enum pp_linetable_kind linetable;
    int shim_owner;        /* owner value of C-stack shim / entry frames (3.12+) */
    int shim_owner_last;   /* highest owner value that is not a Python frame:
                              3 (3.12, 3.13, 3.15), 4 (3.14: INTERPRETER, CSTACK) */
    uint64_t exec_tag_mask; /* 3.14+: f_executable is a tagged _PyStackRef */
    int32_t iframe_stackpointer; /* 3.14+ (debug table; checked, not walked) */
    int32_t tstate_base_frame; /* 3.15+: the thread's sentinel base frame, or -1 */
    int gen_owner;         /* owner value of generator-owned frames (3.11+) */
    enum pp_instdict_shape instdict;
    unsigned managed_dict_back; /* 3.13+: MANAGED_DICT_OFFSET = -3 words, free-threaded -1 */
    bool free_threaded;    /* Py_GIL_DISABLED build (3.13t) */
    int32_t gil_enabled;   /* free-threaded: `int enabled` in the gil struct (0: no GIL
                              now; an extension without Py_mod_gil turns it on), or -1 */
    unsigned dictvalues_hdr; /* bytes before PyDictValues.values[] (3.13: 8) */
    bool has_qualname;
    bool lasti_in_units;   /* 3.10: f_lasti counts code units */
    int frame_running;     /* <=3.10: f_executing (1) or f_state (0) of a frame on a stack */
    bool executable_checked; /* 3.13+: f_executable may be a non-code object */
    bool ascii_size_from_debug; /* informational */
};

/* Fill *out with the static table for major.minor (3.8 - 3.13).
 * Returns PP_EVERSION when there is none (3.14+ exist only through their
 * debug offsets). */
int pp_pylayout_static(uint32_t version_hex, struct pp_pylayout *out);

/* 3.13+: read _Py_DebugOffsets at runtime_addr, validate it and fill *out
 * (the minor's generated table supplies the few fields the debug table
 * lacks).  A newer minor than the newest known one is read with the newest
 * layout if its table validates, with one warning. */
int pp_pylayout_from_debug_offsets(struct pp_mem *mem, uint64_t runtime_addr,
                                   struct pp_pylayout *out);

/* The layout of a target: from its _Py_DebugOffsets at runtime_addr
 * (3.13+), else the static table of version_hex.  The one place that
 * chooses between the two. */
int pp_pylayout_pick(struct pp_mem *mem, uint64_t runtime_addr, uint32_t version_hex,
                     struct pp_pylayout *out);

/* Checks that every offset needed by the walkers is present and sane
 * (non-negative, aligned, inside its struct size).  0 or PP_EVERSION. */
int pp_pylayout_validate(const struct pp_pylayout *L);

#endif
