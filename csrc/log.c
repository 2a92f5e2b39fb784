/*
 * log.c -- logging sink (layer L0).  The default sink writes
 * "pyprof: LEVEL: msg" to stderr; tests install their own.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static enum pp_log_level cur_level = PP_LOG_WARN;
static pp_log_sink_fn cur_sink;

void
pp_log_set_level(enum pp_log_level level)
{
    cur_level = level;
}

void
pp_log_set_sink(pp_log_sink_fn fn)
{
    cur_sink = fn;
}

void
pp_log(enum pp_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char buf[1024];
    va_list ap;

    if (level > cur_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (cur_sink)
        cur_sink(level, buf);
    else
        fprintf(stderr, "pyprof: %s: %s\n", names[level], buf);
}
