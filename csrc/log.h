/*
 * log.h -- leveled logging to a pluggable sink (layer L0).
 *
 * Messages carry their subsystem as a prefix ("elf: ...").  Nothing is
 * logged per sample at info level or above; per-sample trouble is counted
 * in the stats instead.
 */
#ifndef PP_LOG_H
#define PP_LOG_H

enum pp_log_level { PP_LOG_ERROR, PP_LOG_WARN, PP_LOG_INFO, PP_LOG_DEBUG };

typedef void (*pp_log_sink_fn)(enum pp_log_level level, const char *msg);

void pp_log_set_level(enum pp_log_level level);
void pp_log_set_sink(pp_log_sink_fn fn);
void pp_log(enum pp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pp_log_error(...) pp_log(PP_LOG_ERROR, __VA_ARGS__)
#define pp_log_warn(...) pp_log(PP_LOG_WARN, __VA_ARGS__)
#define pp_log_info(...) pp_log(PP_LOG_INFO, __VA_ARGS__)
#define pp_log_debug(...) pp_log(PP_LOG_DEBUG, __VA_ARGS__)

#endif
