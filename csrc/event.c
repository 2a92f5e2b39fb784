/*
 * event.c -- the sampled event: names, periods, tracepoint ids (see event.h).
 */
#define _GNU_SOURCE
#include "event.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

struct known {
    const char *name, *alias;
    int cls;
    uint32_t type;
    uint64_t config;
    const char *unit;
    bool user_only;
    uint64_t period; /* default period without -c (clock events: from -F) */
};

/*
 * Kernel-side events (context switches, migrations, tracepoints) happen in
 * kernel mode: they are only delivered without exclude_kernel.  The user
 * registers and stack of the sample are the thread's user context either way.
 * Default periods: every event where each one matters (switches, syscalls),
 * odd numbers for the frequent hardware events (no aliasing with loops).
 */
static const struct known known[] = {
    {"cpu-clock", NULL, PP_EVENT_CLOCK, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, "ns", true, 0},
    {"task-clock", NULL, PP_EVENT_CLOCK, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, "ns", true, 0},
    {"page-faults", "faults", PP_EVENT_SOFTWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS,
     "faults", true, 10},
    {"minor-faults", NULL, PP_EVENT_SOFTWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN,
     "faults", true, 10},
    {"major-faults", NULL, PP_EVENT_SOFTWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ,
     "faults", true, 10},
    {"context-switches", "cs", PP_EVENT_SOFTWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES,
     "switches", false, 1},
    {"cpu-migrations", "migrations", PP_EVENT_SOFTWARE, PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CPU_MIGRATIONS, "migrations", false, 1},
    {"cycles", "cpu-cycles", PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES,
     "cycles", true, 1000003},
    {"instructions", NULL, PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS,
     "instructions", true, 1000003},
    {"cache-references", NULL, PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CACHE_REFERENCES, "references", true, 100003},
    {"cache-misses", NULL, PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES,
     "misses", true, 10007},
    {"branches", "branch-instructions", PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_BRANCH_INSTRUCTIONS, "branches", true, 100003},
    {"branch-misses", NULL, PP_EVENT_HARDWARE, PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES,
     "misses", true, 10007},
};
#define NKNOWN (sizeof known / sizeof known[0])

/* A tracepoint's system or name: what tracefs directories are made of. */
static bool
tp_word(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 60)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return !(n <= 2 && s[0] == '.'); /* "." and ".." are no names */
}

int
pp_event_parse(const char *spec, struct pp_event *ev)
{
    const char *colon;
    size_t i, len;

    memset(ev, 0, sizeof *ev);
    if (!spec)
        return PP_EUSAGE;
    len = strlen(spec);
    if (len == 0 || len >= PP_EVENT_NAME_MAX)
        return PP_EUSAGE;
    for (i = 0; i < NKNOWN; i++) {
        if (strcmp(spec, known[i].name) != 0 &&
            !(known[i].alias && strcmp(spec, known[i].alias) == 0))
            continue;
        snprintf(ev->name, sizeof ev->name, "%s", known[i].name);
        ev->cls = known[i].cls;
        ev->type = known[i].type;
        ev->config = known[i].config;
        ev->unit = known[i].unit;
        ev->user_only = known[i].user_only;
        return 0;
    }
    colon = strchr(spec, ':');
    if (!colon || strchr(colon + 1, ':') || !tp_word(spec, (size_t)(colon - spec)) ||
        !tp_word(colon + 1, strlen(colon + 1)))
        return PP_EUSAGE;
    memcpy(ev->name, spec, len + 1);
    ev->cls = PP_EVENT_TRACEPOINT;
    ev->type = PERF_TYPE_TRACEPOINT;
    ev->unit = "events";
    ev->user_only = false;
    return 0;
}

uint64_t
pp_event_default_period(const struct pp_event *ev)
{
    size_t i;
    if (ev->cls == PP_EVENT_TRACEPOINT)
        return 1;
    for (i = 0; i < NKNOWN; i++)
        if (strcmp(ev->name, known[i].name) == 0)
            return known[i].period;
    return 1;
}

int
pp_event_set_rate(struct pp_event *ev, double rate_hz, uint64_t count)
{
    ev->count_given = count > 0;
    ev->jitter = false;
    if (count > 0) {
        if (ev->cls == PP_EVENT_CLOCK && count < 10000)
            return PP_EUSAGE; /* the kernel's own limit: 100 kHz */
        ev->period = count;
        return 0;
    }
    if (ev->cls == PP_EVENT_CLOCK) {
        if (!(rate_hz > 0))
            return PP_EUSAGE;
        ev->period = (uint64_t)(1e9 / rate_hz);
        if (ev->period < 10000)
            ev->period = 10000;
        ev->jitter = true;
        return 0;
    }
    ev->period = pp_event_default_period(ev);
    return 0;
}

void
pp_event_known(char *buf, size_t len)
{
    size_t i, off = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (i = 0; i < NKNOWN && off < len; i++) {
        int n = snprintf(buf + off, len - off, "%s%s%s%s%s", i ? ", " : "", known[i].name,
                         known[i].alias ? " (" : "", known[i].alias ? known[i].alias : "",
                         known[i].alias ? ")" : "");
        if (n < 0)
            break;
        off += (size_t)n;
    }
    if (off < len)
        snprintf(buf + off, len - off, ", or a tracepoint SYSTEM:NAME (sched:sched_switch)");
}

static int
read_id(const char *root, const char *name, uint64_t *id, int *err)
{
    char path[512], text[32], sys[PP_EVENT_NAME_MAX];
    const char *colon = strchr(name, ':');
    ssize_t n;
    int fd;

    if (!colon || (size_t)(colon - name) >= sizeof sys)
        return PP_ENOTFOUND;
    memcpy(sys, name, (size_t)(colon - name));
    sys[colon - name] = '\0';
    snprintf(path, sizeof path, "%s/events/%s/%s/id", root, sys, colon + 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return PP_ENOTFOUND;
    }
    n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return PP_ENOTFOUND;
    text[n] = '\0';
    *id = strtoull(text, NULL, 10);
    return *id ? 0 : PP_ENOTFOUND;
}

static bool
has_events(const char *root)
{
    char path[256];
    snprintf(path, sizeof path, "%s/events", root);
    return access(path, F_OK) == 0;
}

int
pp_event_resolve(struct pp_event *ev, int *why)
{
    static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
    size_t i;
    int err = 0;

    *why = 0;
    if (ev->cls != PP_EVENT_TRACEPOINT)
        return 0;
    for (i = 0; i < 2; i++)
        if (has_events(roots[i]))
            return read_id(roots[i], ev->name, &ev->config, &err);
    /* no tracefs: mount it where the kernel documents it */
    if (mount("tracefs", roots[0], "tracefs", 0, NULL) != 0) {
        *why = errno;
        return PP_EPERM;
    }
    return read_id(roots[0], ev->name, &ev->config, &err);
}
