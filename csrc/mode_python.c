/*
 * mode_python.c -- the Python-only capture mode (see mode.h).
 *
 * At each tick of the loop (loop.c) every thread state of the target is
 * read and the running threads' Python stacks are walked and counted
 * (pp_session_tick, sample.c).  The target is never stopped.
 */
#include "mode.h"

static int
python_tick(struct pp_session *s)
{
    return pp_session_tick(s, false);
}

const struct pp_mode_ops pp_mode_python = {
    .name = "python",
    .need = PP_LOOP_TIMED,
    .tick = python_tick,
};
