/*
 * bpf.c -- the BPF capture program, loaded (see bpf.h).
 *
 * libbpf 1.x through dlsym: the object is opened from the embedded bytes
 * (pp_bpf_object, bpf_obj.S), loaded, its maps found by name; records are
 * consumed through libbpf's ring_buffer API, which hands out pointers into
 * the mapped ring (no copy).
 */
#define _GNU_SOURCE
#include "bpf.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dl.h"
#include "err.h"
#include "log.h"
#include "util.h"

#ifdef PP_HAVE_BPF
extern const unsigned char pp_bpf_object[];
extern const unsigned char pp_bpf_object_end[];
#endif

/* libbpf's types, opaque here */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct ring_buffer;
typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
typedef int (*libbpf_print_fn_t)(int level, const char *fmt, va_list ap);

#define PP_BPF_FUNCS(X)                                                                         \
    X(struct bpf_object *, bpf_object__open_mem, (const void *, size_t, const void *))           \
    X(int, bpf_object__load, (struct bpf_object *))                                              \
    X(void, bpf_object__close, (struct bpf_object *))                                            \
    X(struct bpf_program *, bpf_object__find_program_by_name, (const struct bpf_object *,         \
                                                               const char *))                   \
    X(int, bpf_program__fd, (const struct bpf_program *))                                        \
    X(struct bpf_map *, bpf_object__find_map_by_name, (const struct bpf_object *, const char *))  \
    X(int, bpf_map__fd, (const struct bpf_map *))                                                \
    X(int, bpf_map_update_elem, (int, const void *, const void *, uint64_t))                     \
    X(int, bpf_map_delete_elem, (int, const void *))                                             \
    X(int, bpf_map_lookup_elem, (int, const void *, void *))                                     \
    X(struct ring_buffer *, ring_buffer__new, (int, ring_buffer_sample_fn, void *, const void *)) \
    X(int, ring_buffer__consume, (struct ring_buffer *))                                         \
    X(int, ring_buffer__epoll_fd, (const struct ring_buffer *))                                  \
    X(void, ring_buffer__free, (struct ring_buffer *))                                           \
    X(libbpf_print_fn_t, libbpf_set_print, (libbpf_print_fn_t))                                  \
    X(int, bpf_enable_stats, (int))                                                              \
    X(int, bpf_obj_get_info_by_fd, (int, void *, uint32_t *))                                    \
    X(int, libbpf_num_possible_cpus, (void))

static struct {
#define PP_BPF_PTR(ret, name, args) ret(*name) args;
    PP_BPF_FUNCS(PP_BPF_PTR)
#undef PP_BPF_PTR
} lb;

static struct {
    int refs;
    struct bpf_object *obj;
    int prog_fd, configs_fd, defaults_fd, threads_fd, counters_fd, stats_fd;
    struct ring_buffer *rb;
    pp_bpf_record_fn cb;
    void *cb_arg;
    char log[512]; /* the last thing libbpf said (the verifier's verdict) */
} g = {.prog_fd = -1, .stats_fd = -1};

bool
pp_bpf_built(void)
{
#ifdef PP_HAVE_BPF
    return true;
#else
    return false;
#endif
}

#ifdef PP_HAVE_BPF
static const struct pp_dl_sym lb_syms[] = {
#define PP_BPF_SYM(ret, name, args) {#name, (void **)&lb.name},
    PP_BPF_FUNCS(PP_BPF_SYM)
#undef PP_BPF_SYM
};

static int
load_libbpf(char *why, size_t whylen)
{
    static struct pp_dl_lib lib = {
        .soname = "libbpf.so.1",
        .install = "install libbpf (Debian: apt install libbpf1)",
        .version = "libbpf 1.0 or newer needed",
        .syms = lb_syms,
        .nsyms = PP_ARRAY_LEN(lb_syms),
    };
    return pp_dl_load(&lib, why, whylen);
}

/* libbpf's messages: kept (the last warning explains a refused load),
 * shown with -v. */
static int
print_libbpf(int level, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    va_list aq;
    if (getenv("PYPROF_BPF_LOG")) { /* the whole text: the verifier's log is one message */
        va_copy(aq, ap);
        vfprintf(stderr, fmt, aq);
        va_end(aq);
    }
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    if (level <= 1 && n) /* LIBBPF_WARN, LIBBPF_INFO */
        snprintf(g.log, sizeof g.log, "%s", line);
    pp_log_debug("libbpf: %s", line);
    return 0;
}

static int
on_record(void *ctx, void *data, size_t size)
{
    (void)ctx;
    if (size < sizeof(struct pp_bpf_record) - PP_BPF_STACK_MAX - 4096 || !g.cb)
        return 0;
    return g.cb(g.cb_arg, data);
}

static int
map_fd(const char *name)
{
    struct bpf_map *m = lb.bpf_object__find_map_by_name(g.obj, name);
    return m ? lb.bpf_map__fd(m) : -1;
}

#endif

int
pp_bpf_open(char *why, size_t whylen)
{
#ifdef PP_HAVE_BPF
    struct bpf_program *prog;
    int err, e;

    if (g.refs > 0) {
        g.refs++;
        return 0;
    }
    if ((err = load_libbpf(why, whylen)))
        return err;
    lb.libbpf_set_print(print_libbpf);
    g.log[0] = '\0';
    g.obj = lb.bpf_object__open_mem(pp_bpf_object, (size_t)(pp_bpf_object_end - pp_bpf_object),
                                    NULL);
    if (!g.obj) {
        snprintf(why, whylen, "libbpf could not open the capture program: %s",
                 g.log[0] ? g.log : strerror(errno));
        return PP_EIO;
    }
    e = lb.bpf_object__load(g.obj);
    if (e) {
        e = e < 0 ? -e : e;
        if (e == EPERM) {
            snprintf(why, whylen, "the kernel refused to load a BPF program (%s): root or "
                     "CAP_BPF + CAP_PERFMON needed", strerror(e));
            err = PP_EPERM;
        } else {
            snprintf(why, whylen, "the kernel could not load the capture program (%s%s)%s%s",
                     strerror(e), e == EACCES ? ": the verifier refused it" : "",
                     g.log[0] ? ": " : "", g.log);
            err = PP_EIO;
        }
        goto fail;
    }
    prog = lb.bpf_object__find_program_by_name(g.obj, "pp_capture");
    g.prog_fd = prog ? lb.bpf_program__fd(prog) : -1;
    g.configs_fd = map_fd("configs");
    g.defaults_fd = map_fd("defaults");
    g.threads_fd = map_fd("threads");
    g.counters_fd = map_fd("counters");
    if (g.prog_fd < 0 || g.configs_fd < 0 || g.defaults_fd < 0 || g.threads_fd < 0 ||
        g.counters_fd < 0 ||
        map_fd("ring") < 0) {
        snprintf(why, whylen, "the capture program lacks a part (internal error)");
        err = PP_EINTERNAL;
        goto fail;
    }
    g.rb = lb.ring_buffer__new(map_fd("ring"), on_record, NULL, NULL);
    if (!g.rb) {
        snprintf(why, whylen, "cannot map the BPF ring buffer (%s)", strerror(errno));
        err = PP_EIO;
        goto fail;
    }
    /* the kernel times each run while this fd is open (kernel.bpf_stats_enabled) */
    g.stats_fd = lb.bpf_enable_stats(BPF_STATS_RUN_TIME);
    g.refs = 1;
    return 0;
fail:
    lb.bpf_object__close(g.obj);
    g.obj = NULL;
    g.prog_fd = -1;
    return err;
#else
    snprintf(why, whylen, "this pyprof-sampler was built without the BPF capture program "
             "(clang was not found at build time)");
    return PP_ENOTFOUND;
#endif
}

void
pp_bpf_close(void)
{
    if (g.refs <= 0 || --g.refs > 0)
        return;
    if (g.rb)
        lb.ring_buffer__free(g.rb);
    if (g.stats_fd >= 0)
        close(g.stats_fd);
    lb.bpf_object__close(g.obj);
    g.rb = NULL;
    g.obj = NULL;
    g.prog_fd = g.stats_fd = -1;
}

int
pp_bpf_config_set(int pid, const struct pp_bpf_config *c)
{
    uint32_t key = (uint32_t)pid;
    if (g.refs <= 0)
        return PP_EINTERNAL;
    if (!c) {
        lb.bpf_map_delete_elem(g.configs_fd, &key);
        return 0;
    }
    return lb.bpf_map_update_elem(g.configs_fd, &key, c, BPF_ANY) ? PP_EIO : 0;
}

int
pp_bpf_default_set(const struct pp_bpf_config *c)
{
    struct pp_bpf_config none;
    uint32_t key = 0;
    if (g.refs <= 0)
        return PP_EINTERNAL;
    if (!c) {
        memset(&none, 0, sizeof none); /* stack_size 0: the program does nothing */
        c = &none;
    }
    return lb.bpf_map_update_elem(g.defaults_fd, &key, c, BPF_ANY) ? PP_EIO : 0;
}

int
pp_bpf_thread_set(int tid, uint64_t tstate_addr)
{
    uint32_t key = (uint32_t)tid;
    if (g.refs <= 0)
        return PP_EINTERNAL;
    if (!tstate_addr) {
        lb.bpf_map_delete_elem(g.threads_fd, &key);
        return 0;
    }
    return lb.bpf_map_update_elem(g.threads_fd, &key, &tstate_addr, BPF_ANY) ? PP_EIO : 0;
}

int
pp_bpf_attach(int perf_fd)
{
    if (g.refs <= 0)
        return PP_EINTERNAL;
    if (ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, g.prog_fd) != 0)
        return errno == EPERM || errno == EACCES ? PP_EPERM : PP_EIO;
    return 0;
}

int
pp_bpf_ring_fd(void)
{
    return g.refs > 0 ? lb.ring_buffer__epoll_fd(g.rb) : -1;
}

int
pp_bpf_consume(pp_bpf_record_fn cb, void *arg)
{
    int n;
    if (g.refs <= 0)
        return 0;
    g.cb = cb;
    g.cb_arg = arg;
    n = lb.ring_buffer__consume(g.rb);
    g.cb = NULL;
    return n < 0 ? n : 0;
}

void
pp_bpf_counters(uint64_t out[PP_BPF_CNT_N])
{
    static uint64_t percpu[1024];
    long ncpu;
    uint32_t k;

    memset(out, 0, sizeof(uint64_t) * PP_BPF_CNT_N);
    if (g.refs <= 0)
        return;
    ncpu = lb.libbpf_num_possible_cpus();
    if (ncpu <= 0 || ncpu > 1024)
        return;
    for (k = 0; k < PP_BPF_CNT_N; k++) {
        long i;
        if (lb.bpf_map_lookup_elem(g.counters_fd, &k, percpu) != 0)
            continue;
        for (i = 0; i < ncpu; i++)
            out[k] += percpu[i];
    }
}

int
pp_bpf_run_stats(uint64_t *run_ns, uint64_t *run_cnt)
{
    struct bpf_prog_info info;
    uint32_t len = sizeof info;
    *run_ns = *run_cnt = 0;
    if (g.refs <= 0)
        return PP_EINTERNAL;
    memset(&info, 0, sizeof info);
    if (lb.bpf_obj_get_info_by_fd(g.prog_fd, &info, &len) != 0)
        return PP_EIO;
    *run_ns = info.run_time_ns;
    *run_cnt = info.run_cnt;
    return 0;
}
