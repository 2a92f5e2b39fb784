/*
 * test_event.c -- the event parser of -e/-c/-F (csrc/event.c): names and
 * aliases, the perf_event_attr fields, periods, tracepoint syntax.
 */
#include <linux/perf_event.h>
#include <string.h>

#include "err.h"
#include "event.h"
#include "tap.h"

static void
test_names(void)
{
    struct pp_event ev;

    CHECK_EQ_INT(pp_event_parse("page-faults", &ev), 0);
    CHECK(strcmp(ev.name, "page-faults") == 0);
    CHECK_EQ_INT((int)ev.type, PERF_TYPE_SOFTWARE);
    CHECK_EQ_INT((int)ev.config, PERF_COUNT_SW_PAGE_FAULTS);
    CHECK(strcmp(ev.unit, "faults") == 0);
    CHECK(ev.user_only);

    CHECK_EQ_INT(pp_event_parse("faults", &ev), 0); /* perf's alias */
    CHECK(strcmp(ev.name, "page-faults") == 0);
    CHECK_EQ_INT(pp_event_parse("cs", &ev), 0);
    CHECK(strcmp(ev.name, "context-switches") == 0);
    CHECK(!ev.user_only); /* switches happen in the kernel */
    CHECK_EQ_INT(pp_event_parse("major-faults", &ev), 0);
    CHECK_EQ_INT((int)ev.config, PERF_COUNT_SW_PAGE_FAULTS_MAJ);
    CHECK_EQ_INT(pp_event_parse("cpu-clock", &ev), 0);
    CHECK_EQ_INT(ev.cls, PP_EVENT_CLOCK);
    CHECK(strcmp(ev.unit, "ns") == 0);
    CHECK_EQ_INT(pp_event_parse("cycles", &ev), 0);
    CHECK_EQ_INT(ev.cls, PP_EVENT_HARDWARE);
    CHECK_EQ_INT((int)ev.type, PERF_TYPE_HARDWARE);
    CHECK_EQ_INT((int)ev.config, PERF_COUNT_HW_CPU_CYCLES);
    CHECK_EQ_INT(pp_event_parse("branch-misses", &ev), 0);
    CHECK_EQ_INT((int)ev.config, PERF_COUNT_HW_BRANCH_MISSES);

    CHECK_EQ_INT(pp_event_parse("pagefaults", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse(NULL, &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("PAGE-FAULTS", &ev), PP_EUSAGE); /* as perf: exact names */
}

static void
test_tracepoints(void)
{
    struct pp_event ev;
    char longname[200];

    CHECK_EQ_INT(pp_event_parse("syscalls:sys_enter_openat", &ev), 0);
    CHECK_EQ_INT(ev.cls, PP_EVENT_TRACEPOINT);
    CHECK_EQ_INT((int)ev.type, PERF_TYPE_TRACEPOINT);
    CHECK(ev.config == 0); /* the id comes from tracefs (pp_event_resolve) */
    CHECK(!ev.user_only);
    CHECK(strcmp(ev.unit, "events") == 0);
    CHECK(strcmp(ev.name, "syscalls:sys_enter_openat") == 0);
    /* no path tricks, one colon, both halves */
    CHECK_EQ_INT(pp_event_parse("sched:../../x", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("../sched:x", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("sched:", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse(":sched_switch", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("a:b:c", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("sched:..", &ev), PP_EUSAGE);
    CHECK_EQ_INT(pp_event_parse("sched:sched switch", &ev), PP_EUSAGE);
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    longname[3] = ':';
    CHECK_EQ_INT(pp_event_parse(longname, &ev), PP_EUSAGE);
}

static void
test_periods(void)
{
    struct pp_event ev;

    /* clock events: -F is a mean period in ns, jittered */
    CHECK_EQ_INT(pp_event_parse("task-clock", &ev), 0);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 0), 0);
    CHECK(ev.period == 10000000);
    CHECK(ev.jitter && !ev.count_given);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 1e6, 0), 0);
    CHECK(ev.period == 10000); /* the kernel's 100 kHz cap */
    /* -c on a clock event: ns, fixed, at least 10 us */
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 250000), 0);
    CHECK(ev.period == 250000 && !ev.jitter && ev.count_given);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 5), PP_EUSAGE);

    /* counting events: -F does not apply; the default period, or -c */
    CHECK_EQ_INT(pp_event_parse("page-faults", &ev), 0);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 0), 0);
    CHECK(ev.period == 10 && !ev.jitter);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 1), 0);
    CHECK(ev.period == 1 && ev.count_given);
    CHECK_EQ_INT(pp_event_parse("sched:sched_switch", &ev), 0);
    CHECK_EQ_INT(pp_event_set_rate(&ev, 100, 0), 0);
    CHECK(ev.period == 1);
    CHECK_EQ_INT(pp_event_parse("context-switches", &ev), 0);
    CHECK(pp_event_default_period(&ev) == 1);
    CHECK_EQ_INT(pp_event_parse("cycles", &ev), 0);
    CHECK(pp_event_default_period(&ev) == 1000003);
}

static void
test_known(void)
{
    char buf[1024], tiny[16];
    pp_event_known(buf, sizeof buf);
    CHECK(strstr(buf, "page-faults (faults)") != NULL);
    CHECK(strstr(buf, "context-switches (cs)") != NULL);
    CHECK(strstr(buf, "sched:sched_switch") != NULL);
    pp_event_known(tiny, sizeof tiny); /* truncated, terminated */
    CHECK(strlen(tiny) < sizeof tiny);
}

int
main(void)
{
    test_names();
    test_tracepoints();
    test_periods();
    test_known();
    TEST_DONE();
}
