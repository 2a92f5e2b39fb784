/*
 * py/offsets_table.c -- lookup of the generated offset tables (layer L2).
 *
 * The per-version headers each define one static const table; this is the
 * only file that includes them, so each table exists once in the binary.
 * Regenerate them with tools/gen_offsets.sh, never by hand.
 */
#include "offsets_table.h"

#include <stddef.h>

#include "offsets_3_8.h"
#include "offsets_3_9.h"
#include "offsets_3_10.h"
#include "offsets_3_11.h"
#include "offsets_3_12.h"
#include "offsets_3_13.h"
#include "offsets_3_13t.h"
#include "offsets_3_14.h"
#include "offsets_3_15.h"

const struct pp_pyoffsets *pp_pyoffsets_for(unsigned major, unsigned minor, bool free_threaded)
{
    if (major != 3)
        return NULL;
    if (free_threaded) /* a free-threaded build has its own object layouts */
        return minor == 13 ? &pp_offsets_3_13t : NULL;
    switch (minor) {
    case 8: return &pp_offsets_3_8;
    case 9: return &pp_offsets_3_9;
    case 10: return &pp_offsets_3_10;
    case 11: return &pp_offsets_3_11;
    case 12: return &pp_offsets_3_12;
    case 13: return &pp_offsets_3_13;
    case 14: return &pp_offsets_3_14;
    case 15: return &pp_offsets_3_15;
    default: return NULL;
    }
}
