/*
 * system.c -- system-wide sampling, `record -a` (see system.h).
 */
#define _GNU_SOURCE
#include "system.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <linux/perf_event.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf.h"
#include "err.h"
#include "log.h"
#include "mode.h"
#include "native.h"

#define STALE_US 20000      /* as in perf mode: later, the Python stack says little */
#define KSYMS_MAX 2000000u  /* bound on /proc/kallsyms lines */
#define KFRAMES_MAX 128     /* kernel frames kept per sample */
#define MAX_CPUS 4096
#define NATIVE_EXES_MAX 4096

/* ==== kernel symbols ==== */

struct ksym_sort {
    uint64_t addr;
    uint32_t name;
};

static int
cmp_ksym(const void *a, const void *b)
{
    const struct ksym_sort *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Reads the text symbols of /proc/kallsyms.  false when the addresses are
 * hidden (kernel.kptr_restrict) or the file is unreadable. */
static bool
ksyms_load(struct pp_ksyms *ks)
{
    FILE *f = fopen("/proc/kallsyms", "r");
    struct ksym_sort *v = NULL;
    size_t n = 0, cap = 0, nlen = 0, ncap = 0, i;
    char line[512];
    bool nonzero = false;

    memset(ks, 0, sizeof *ks);
    if (!f)
        return false;
    while (fgets(line, sizeof line, f) && n < KSYMS_MAX) {
        unsigned long long addr;
        char type, name[256];
        size_t len;
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
            continue;
        if (type != 't' && type != 'T' && type != 'w' && type != 'W')
            continue;
        if (addr)
            nonzero = true;
        len = strlen(name) + 1;
        if (n == cap) {
            struct ksym_sort *nv;
            cap = cap ? cap * 2 : 65536;
            if (!(nv = realloc(v, cap * sizeof *v)))
                goto fail;
            v = nv;
        }
        if (nlen + len > ncap) {
            char *nn;
            ncap = ncap ? ncap * 2 : (1u << 21);
            if (!(nn = realloc(ks->names, ncap)))
                goto fail;
            ks->names = nn;
        }
        memcpy(ks->names + nlen, name, len);
        v[n].addr = addr;
        v[n].name = (uint32_t)nlen;
        nlen += len;
        n++;
    }
    fclose(f);
    f = NULL;
    if (!nonzero || !n)
        goto fail;
    qsort(v, n, sizeof *v, cmp_ksym);
    ks->addr = malloc(n * sizeof *ks->addr);
    ks->name = malloc(n * sizeof *ks->name);
    if (!ks->addr || !ks->name)
        goto fail;
    for (i = 0; i < n; i++) {
        ks->addr[i] = v[i].addr;
        ks->name[i] = v[i].name;
    }
    ks->n = n;
    free(v);
    return true;
fail:
    if (f)
        fclose(f);
    free(v);
    free(ks->addr);
    free(ks->name);
    free(ks->names);
    memset(ks, 0, sizeof *ks);
    return false;
}

static const char *
ksyms_find(const struct pp_ksyms *ks, uint64_t pc)
{
    size_t lo = 0, hi = ks->n;
    if (!ks->n || pc < ks->addr[0])
        return "[kernel]";
    while (hi - lo > 1) { /* the last symbol at or below pc */
        size_t mid = lo + (hi - lo) / 2;
        if (ks->addr[mid] <= pc)
            lo = mid;
        else
            hi = mid;
    }
    return ks->names + ks->name[lo];
}

/* ==== the per-CPU events ==== */

/* The online CPUs ("0-3,6"): each one's number into cpus, their count. */
static int
online_cpus(int *cpus, int max)
{
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    char buf[1024], *p;
    int n = 0;

    if (!f) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        for (n = 0; n < c && n < max; n++)
            cpus[n] = n;
        return n;
    }
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    while (p && *p && *p != '\n' && n < max) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            break;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (; a <= b && n < max; a++)
            cpus[n++] = (int)a;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/*
 * A CPU's ring holds RING_SECONDS of its samples: a process's first sample
 * sets up its session (maps, unwinder, symbols: a few ms to tens of ms for
 * a large binary), and the other CPUs' samples wait meanwhile.  Every
 * sample carries a whole stack copy (32 KiB by default), so the
 * per-thread ring size (about 15 samples) would lose most of them.
 */
#define RING_SECONDS 1.0
#define RING_PAGES_MAX 4096 /* 16 MiB per CPU */

static void
ring_size(struct pp_system *sys, double rate_hz)
{
    double want = rate_hz * RING_SECONDS * (double)(sys->perf.stack_size + 512) / 4096.0;
    while ((double)sys->perf.data_pages < want && sys->perf.data_pages < RING_PAGES_MAX)
        sys->perf.data_pages *= 2;
}

static void
say_denied(int why)
{
    fprintf(stderr,
            "pyprof: -a (system-wide) is not permitted (%s; kernel.perf_event_paranoid = %ld): "
            "it needs root, or CAP_PERFMON and CAP_SYS_PTRACE ('pyprof check' says what this "
            "user may do)\n",
            strerror(why ? why : EACCES), pp_proc_sysctl("/proc/sys/kernel/perf_event_paranoid"));
}

static int
open_all(struct pp_system *sys, const int *cpus, int n, bool kernel, int *why)
{
    int i, err;
    for (i = 0; i < n; i++)
        if ((err = pp_perf_add_cpu(&sys->perf, cpus[i], kernel, why)))
            return err;
    return 0;
}

/* The bpf capture on every CPU: the program's defaults entry makes it
 * copy registers and stack of any process (the sampler and its CLI are
 * skipped in the kernel); a Python process gets its own entry when its
 * session is set up (pp_mode_bpf_system_init).  On failure why says
 * why, and nothing is left open. */
static int
bpf_open_all(struct pp_system *sys, const struct pp_session_opts *o, const int *cpus, int n,
             char *why, size_t whylen)
{
    struct pp_bpf_config def, skip;
    int i, err, e = 0;

    if (pp_native_denied_by_test("bpf")) {
        snprintf(why, whylen, "BPF refused (PYPROF_DENY=bpf, as a kernel without CAP_BPF would)");
        return PP_EPERM;
    }
    if (o->kernel) {
        snprintf(why, whylen, "--kernel takes the kernel's callchains from perf samples");
        return PP_ENOTFOUND;
    }
    if ((err = pp_bpf_open(why, whylen)))
        return err;
    if (!(sys->bpf_fds = malloc((size_t)n * sizeof *sys->bpf_fds))) {
        pp_bpf_close();
        snprintf(why, whylen, "out of memory");
        return PP_ENOMEM;
    }
    for (i = 0; i < n; i++)
        sys->bpf_fds[i] = -1;
    sys->bpf = true; /* pp_system_free undoes the rest */
    memset(&def, 0, sizeof def);
    def.shape = PP_BPF_NOWALK;
    def.stack_size = o->stack_size ? o->stack_size : PP_PERF_STACK_DEFAULT;
    if (def.stack_size > PP_BPF_STACK_MAX)
        def.stack_size = PP_BPF_STACK_MAX;
    memset(&skip, 0, sizeof skip);
    skip.shape = PP_BPF_SKIP;
    skip.stack_size = 1;
    if ((err = pp_bpf_config_set(getpid(), &skip)) ||
        (getppid() > 1 && (err = pp_bpf_config_set(getppid(), &skip))) ||
        (err = pp_bpf_default_set(&def))) {
        snprintf(why, whylen, "cannot configure the capture program");
        return err;
    }
    for (i = 0; i < n; i++) {
        int fd = pp_perf_open_counter(-1, cpus[i], &sys->ev, sys->ev.period, &e);
        if (fd < 0) {
            snprintf(why, whylen, "cannot open CPU %d's event (%s)", cpus[i], strerror(e));
            return fd;
        }
        sys->bpf_fds[i] = fd;
        sys->ncpus = i + 1;
        if ((err = pp_bpf_attach(fd))) {
            snprintf(why, whylen, "cannot attach the capture program to CPU %d's event (%s)",
                     cpus[i], strerror(errno));
            return err;
        }
    }
    for (i = 0; i < n; i++)
        ioctl(sys->bpf_fds[i], PERF_EVENT_IOC_ENABLE, 0);
    return 0;
}

static void
bpf_close_all(struct pp_system *sys)
{
    int i;
    if (!sys->bpf)
        return;
    for (i = 0; sys->bpf_fds && i < sys->ncpus; i++)
        if (sys->bpf_fds[i] >= 0)
            close(sys->bpf_fds[i]);
    free(sys->bpf_fds);
    sys->bpf_fds = NULL;
    pp_bpf_default_set(NULL);
    pp_bpf_config_set(getpid(), NULL);
    if (getppid() > 1)
        pp_bpf_config_set(getppid(), NULL);
    pp_bpf_close();
    sys->bpf = false;
}

int
pp_system_open(struct pp_system *sys, const struct pp_session_opts *o)
{
    static int cpus[MAX_CPUS];
    char bwhy[300];
    int n, err, why = 0;

    memset(sys, 0, sizeof *sys);
    pp_hmap_init(&sys->native_exes);
    {
        /* every live process's session holds a few files (its memory, its
         * modules): the soft limit of open files goes up to the hard one */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (pp_native_denied_by_test("perf")) {
        say_denied(EACCES);
        return PP_EPERM;
    }
    /* the CPUs' own clock: whoever runs there */
    if (pp_event_parse("cpu-clock", &sys->ev) != 0 ||
        pp_event_set_rate(&sys->ev, o->rate_hz, 0) != 0)
        return PP_EUSAGE;
    n = online_cpus(cpus, MAX_CPUS);
    if (n <= 0)
        return PP_EIO;
    if ((err = bpf_open_all(sys, o, cpus, n, bwhy, sizeof bwhy)) == 0) {
        sys->ncpus = n;
        pp_log_info("-a: %d CPUs, bpf capture, user frames", n);
        return 0;
    }
    bpf_close_all(sys);
    fprintf(stderr, "pyprof: -a: exact capture (bpf) unavailable: %s. Using perf samples: "
                    "each process's Python frames are read after its sample (up to %d ms "
                    "later; later ones are dropped as stale), and samples whose halves "
                    "disagree are counted as merge failures. 'pyprof check' says what would "
                    "allow it.\n",
            bwhy, STALE_US / 1000);
    if ((err = pp_perf_init(&sys->perf, &sys->ev,
                            o->stack_size ? o->stack_size : PP_PERF_STACK_DEFAULT)))
        return err;
    sys->perf_open = true;
    ring_size(sys, o->rate_hz);
    sys->ncpus = n;
    sys->kernel = o->kernel;
    if (o->kernel) {
        err = open_all(sys, cpus, n, true, &why);
        if (err == PP_EPERM) { /* kernel samples refused, user ones may not be */
            pp_perf_free(&sys->perf);
            pp_perf_init(&sys->perf, &sys->ev,
                         o->stack_size ? o->stack_size : PP_PERF_STACK_DEFAULT);
            ring_size(sys, o->rate_hz);
            sys->kernel = false;
            fprintf(stderr, "pyprof: --kernel: kernel samples are not permitted (%s; "
                            "kernel.perf_event_paranoid = %ld): user frames only\n",
                    strerror(why), pp_proc_sysctl("/proc/sys/kernel/perf_event_paranoid"));
        } else if (err) {
            return err;
        }
    }
    if (!sys->kernel && (err = open_all(sys, cpus, n, false, &why))) {
        if (err == PP_EPERM)
            say_denied(why);
        return err;
    }
    if (sys->kernel) {
        if (!ksyms_load(&sys->ks)) {
            sys->ksyms_hidden = true;
            fprintf(stderr, "pyprof: --kernel: kernel symbols are hidden (kernel.kptr_restrict "
                            "= %ld): kernel frames are shown as [kernel]\n",
                    pp_proc_sysctl("/proc/sys/kernel/kptr_restrict"));
        }
        if (!(sys->kframes = calloc(KFRAMES_MAX, sizeof *sys->kframes)))
            return PP_ENOMEM;
    }
    pp_log_info("-a: %d CPUs, %s", n, sys->kernel ? "user and kernel frames" : "user frames");
    return 0;
}

/* ==== the sessions ==== */

/* The (device, inode) of pid's executable as one key, 0 when unknown. */
static uint64_t
exe_key(int pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    if (stat(path, &st) != 0)
        return 0;
    return pp_hash_u64((uint64_t)st.st_dev) ^ (uint64_t)st.st_ino;
}

bool
pp_system_exe_is_python(int pid)
{
    char path[64], exe[4096];
    const char *base;
    ssize_t n;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    n = readlink(path, exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    base = strrchr(exe, '/');
    return strstr(base ? base + 1 : exe, "python") != NULL;
}

int
pp_system_attach(struct pp_system *sys, const struct pp_session_opts *opts, int pid,
                 struct pp_session **out)
{
    struct pp_session_opts o = *opts;
    struct pp_session *s = calloc(1, sizeof *s);
    uint64_t key = exe_key(pid), v;
    int err;

    *out = NULL;
    if (!s)
        return PP_ENOMEM;
    o.pid = pid;
    o.argv = NULL;
    o.raw_path = o.collapsed_path = NULL;
    o.status = o.summary = false;
    o.native = true;
    o.native_only_ok = !opts->python_only;
    o.known_native = key && pp_hmap_get(&sys->native_exes, key, &v);
    if (o.known_native && opts->python_only) {
        free(s);
        return PP_ENOTPY;
    }
    sys->known_native += o.known_native;
    /* no inline chains: expanding them walks each module's DWARF (and
     * decompresses its debug sections) again for every process, at its
     * fold when it exits; with processes coming and going (compilers,
     * shells, test runs) that cost more than the sampling itself */
    o.no_inlines = true;
    err = pp_session_start(s, &o);
    if (key && !o.known_native && (err == PP_ENOTPY || (!err && s->native_only)) &&
        !pp_system_exe_is_python(pid)) {
        if (sys->native_exes.len >= NATIVE_EXES_MAX)
            pp_hmap_clear(&sys->native_exes);
        pp_hmap_put(&sys->native_exes, key, 1);
    }
    if (!err)
        err = pp_native_init(s);
    if (!err && !s->nat)
        err = PP_EIO; /* native frames unavailable (said) */
    if (!err && sys->bpf)
        err = pp_mode_bpf_system_init(s); /* sets s->mode */
    if (err) {
        pp_session_free(s);
        free(s);
        return err;
    }
    if (!sys->bpf) {
        s->nat->mode = PP_NATIVE_PERF;
        s->mode = &pp_mode_system;
    }
    *out = s;
    return 0;
}

/* The kernel frames of smp into s's table (root first), for the merge to
 * add at the leaf. */
static int
kernel_frames(struct pp_system *sys, struct pp_session *s, const struct pp_perf_sample *smp)
{
    static const char module[] = "[kernel.kallsyms]";
    size_t i, n = smp->nkernel < KFRAMES_MAX ? smp->nkernel : KFRAMES_MAX;
    uint32_t name, mod;
    int err;

    if ((err = pp_strtab_intern(&s->strs, module, sizeof module - 1, &mod)))
        return err;
    for (i = 0; i < n; i++) { /* the callchain is leaf first */
        const char *sym = ksyms_find(&sys->ks, smp->kernel_pcs[n - 1 - i]);
        if ((err = pp_strtab_intern(&s->strs, sym, strlen(sym), &name)) ||
            (err = pp_agg_frame(&s->agg, PP_FRAME_NATIVE, name, mod, 0, &sys->kframes[i])))
            return err;
    }
    s->nat->leaf = sys->kframes;
    s->nat->nleaf = n;
    return 0;
}

int
pp_system_sample(struct pp_system *sys, struct pp_session *s, const struct pp_perf_sample *smp)
{
    struct pp_native *nt = s->nat;
    uint64_t now = pp_now_ns(), lat;
    int err;

    if (!smp->have_regs || smp->stack_len == 0) {
        nt->no_user++; /* the thread was exiting */
        return 0;
    }
    s->st.ticks++;
    lat = now > smp->time_ns ? (now - smp->time_ns) / 1000 : 0;
    if (nt->nlat < PP_NATIVE_LAT_KEEP)
        nt->lat_us[nt->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    if (lat > STALE_US && !s->native_only) {
        /* the Python stack read now would not be the sample's */
        nt->stale++;
        sys->stale++;
        s->st.errors_transient++;
        return 0;
    }
    if (s->native_only)
        memset(&nt->py, 0, sizeof nt->py);
    else
        pp_native_capture_py(s, smp->tid);
    nt->nleaf = 0;
    if (sys->kernel && smp->nkernel && (err = kernel_frames(sys, s, smp)))
        return err;
    if ((err = pp_native_process(s, smp->tid, smp->regs, smp->stack, smp->stack_len,
                                 smp->time_ns)))
        return err;
    s->st.sample_ns_total += pp_now_ns() - now;
    return 0;
}

void
pp_system_out_info(struct pp_system *sys, struct pp_out_info *info)
{
    pp_out_meta(info, "system_flag", "1");
    pp_out_meta(info, "system_capture", "%s", sys->bpf ? "bpf" : "perf");
    pp_out_meta(info, "kernel_frames", "%s",
                !sys->kernel ? "off" : sys->ksyms_hidden ? "unnamed" : "on");
    pp_out_stat(info, "cpus", (uint64_t)sys->ncpus);
    pp_out_stat(info, "own_skipped", sys->own_skipped);
    pp_out_stat(info, "idle_skipped_cpu", sys->idle_skipped);
    pp_out_stat(info, "gone_skipped", sys->gone_skipped);
    pp_out_stat(info, "left_out", sys->left_out);
    if (sys->bpf) {
        uint64_t c[PP_BPF_CNT_N];
        pp_bpf_counters(c);
        pp_out_stat(info, "system_lost", c[PP_BPF_CNT_LOST]);
        pp_out_stat(info, "bpf_runs", c[PP_BPF_CNT_RUNS]);
    } else {
        pp_out_stat(info, "system_lost", sys->perf_open ? sys->perf.lost : 0);
    }
    pp_out_stat(info, "known_native", sys->known_native);
}

void
pp_system_free(struct pp_system *sys)
{
    if (sys->perf_open)
        pp_perf_free(&sys->perf);
    sys->perf_open = false;
    bpf_close_all(sys);
    free(sys->ks.addr);
    free(sys->ks.name);
    free(sys->ks.names);
    free(sys->kframes);
    pp_hmap_free(&sys->native_exes);
    memset(&sys->ks, 0, sizeof sys->ks);
    sys->kframes = NULL;
}

/* The sessions of -a are fed by the process set (multi.c): nothing to
 * wait for or tick, only the output. */
const struct pp_mode_ops pp_mode_system = {
    .name = "system",
    .need = 0,
    .detach = pp_native_detach,
    .expand = pp_native_expand,
    .out_info = pp_native_out_info,
    .summary = pp_native_summary,
    .free = pp_native_free,
};
