/*
 * event.h -- the perf event a recording samples on (-e EVENT, -c N, -F HZ)
 * (layer L1).
 *
 * One struct pp_event, parsed once from the command line and handed to
 * whoever opens the events (perf.c per thread; a BPF or system-wide mode
 * the same way): the perf_event_attr type and config, how often a sample
 * is taken (a period of events, or a clock rate), and the unit a profile
 * of it counts in.  pp_event_parse() and pp_event_set_rate() are pure;
 * pp_event_resolve() looks a tracepoint's id up in tracefs (mounting it
 * when it is missing and we may).
 */
#ifndef PP_EVENT_H
#define PP_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pp_event_class {
    PP_EVENT_CLOCK,      /* cpu-clock, task-clock: the period is nanoseconds */
    PP_EVENT_SOFTWARE,   /* page-faults, context-switches, ... */
    PP_EVENT_HARDWARE,   /* cycles, instructions, ...: needs a PMU */
    PP_EVENT_TRACEPOINT, /* sys:name, id from tracefs */
};

#define PP_EVENT_NAME_MAX 128
#define PP_EVENT_DEFAULT "task-clock"

struct pp_event {
    char name[PP_EVENT_NAME_MAX]; /* canonical: "page-faults", "syscalls:sys_enter_openat" */
    int cls;                      /* enum pp_event_class */
    uint32_t type;                /* PERF_TYPE_* */
    uint64_t config;              /* tracepoints: 0 until pp_event_resolve() */
    const char *unit;             /* what one event is: "faults", "switches", "ns", ... */
    bool user_only;               /* exclude_kernel: the event happens in user mode */
    /* set by pp_event_set_rate() */
    uint64_t period;              /* events (clock: ns) between two samples */
    bool jitter;                  /* draw each period from an exponential law */
    bool count_given;             /* -c N */
};

/* Parses an event name (aliases as perf spells them: faults, cs, ...).
 * PP_EUSAGE for an unknown name or a malformed tracepoint. */
int pp_event_parse(const char *spec, struct pp_event *ev);
/* How often to sample: count > 0 is -c (every count events; clock events:
 * every count ns, fixed); else clock events sample rate_hz times per
 * second of the thread's CPU time, jittered, and counting events take
 * their default period (pp_event_default_period). */
int pp_event_set_rate(struct pp_event *ev, double rate_hz, uint64_t count);
uint64_t pp_event_default_period(const struct pp_event *ev);
/* The known names, comma-separated, for an error message. */
void pp_event_known(char *buf, size_t len);
/* Tracepoints: reads the id from <tracefs>/events/<sys>/<name>/id, trying
 * /sys/kernel/tracing and /sys/kernel/debug/tracing and mounting tracefs
 * at /sys/kernel/tracing when neither has it (root only).  PP_ENOTFOUND:
 * no such tracepoint; PP_EPERM: tracefs absent and not mountable (*why:
 * errno).  Other classes: nothing to do. */
int pp_event_resolve(struct pp_event *ev, int *why);

#endif
