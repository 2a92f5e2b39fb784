/*
 * proc.c -- /proc readers and process launch (layer L1).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "proc.h"

#define PF_KTHREAD 0x00200000u
#define MAX_TASKS 65536

static ssize_t
read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    if (n < 0)
        n = -errno;
    else
        buf[n] = '\0';
    close(fd);
    return n;
}

int
pp_proc_check(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long flags = 0;
    ssize_t n;
    int field;

    if (pid <= 0)
        return PP_ENOPROC;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    n = read_file(path, buf, sizeof(buf));
    if (n < 0)
        return n == -EACCES ? PP_EPERM : PP_ENOPROC;
    /* comm may contain spaces and parens: fields resume after the last ')' */
    p = strrchr(buf, ')');
    if (!p)
        return PP_ENOPROC;
    p += 2; /* field 3: state */
    if (*p == 'Z' || *p == 'X')
        return PP_ENOPROC;
    for (field = 3; field < 9 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p)
        flags = strtoul(p, NULL, 10);
    if (flags & PF_KTHREAD)
        return PP_EKTHREAD;
    /* a process we may not inspect: exe is unreadable to us */
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    if (readlink(path, buf, sizeof(buf)) < 0 && (errno == EACCES || errno == EPERM))
        return PP_EPERM;
    return 0;
}

static int
ns_tid_of(int pid, int tid)
{
    char path[96], buf[2048], *p;
    int last = tid;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
    if (read_file(path, buf, sizeof(buf)) < 0)
        return tid;
    p = strstr(buf, "\nNSpid:");
    if (!p)
        return tid;
    p += 7;
    /* the last number on the line is the innermost namespace's id */
    while (*p && *p != '\n') {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p)
            break;
        last = (int)v;
        p = e;
    }
    return last;
}

struct pp_task *
pp_proc_tasks_find_ns(struct pp_tasks *t, int ns_tid)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        if (t->v[i].ns_tid == ns_tid)
            return &t->v[i];
    return NULL;
}

static struct pp_task *
find_tid(struct pp_tasks *t, int tid)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        if (t->v[i].tid == tid)
            return &t->v[i];
    return NULL;
}

int
pp_proc_tasks_refresh(int pid, struct pp_tasks *t)
{
    char path[64];
    struct dirent *de;
    DIR *d;
    size_t i, j;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    d = opendir(path);
    if (!d)
        return errno == EACCES ? PP_EPERM : PP_EGONE;
    for (i = 0; i < t->n; i++)
        t->v[i].seen = false;
    while ((de = readdir(d)) != NULL) {
        int tid = atoi(de->d_name);
        struct pp_task *task;
        if (tid <= 0)
            continue;
        task = find_tid(t, tid);
        if (task) {
            task->seen = true;
            continue;
        }
        if (t->n >= MAX_TASKS)
            break;
        if (t->n == t->cap) {
            size_t ncap = t->cap ? t->cap * 2 : 16;
            struct pp_task *nv = realloc(t->v, ncap * sizeof(*nv));
            if (!nv) {
                closedir(d);
                return PP_ENOMEM;
            }
            t->v = nv;
            t->cap = ncap;
        }
        task = &t->v[t->n++];
        task->tid = tid;
        task->ns_tid = ns_tid_of(pid, tid);
        task->stat_fd = -1;
        task->seen = true;
    }
    closedir(d);
    for (i = j = 0; i < t->n; i++) {
        if (t->v[i].seen)
            t->v[j++] = t->v[i];
        else if (t->v[i].stat_fd >= 0)
            close(t->v[i].stat_fd);
    }
    t->n = j;
    return t->n ? 0 : PP_EGONE;
}

void
pp_proc_tasks_free(struct pp_tasks *t)
{
    size_t i;
    for (i = 0; i < t->n; i++)
        if (t->v[i].stat_fd >= 0)
            close(t->v[i].stat_fd);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

char
pp_proc_task_state(int pid, struct pp_task *task)
{
    char buf[512], *p;
    ssize_t n;

    if (task->stat_fd < 0) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, task->tid);
        task->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (task->stat_fd < 0)
            return '?';
    }
    n = pread(task->stat_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return '?';
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return '?';
    return p[2];
}

bool
pp_proc_state_is_running(char state)
{
    return state == 'R';
}

int
pp_proc_task_comm(int pid, int tid, char *buf, size_t len)
{
    char path[96];
    ssize_t n;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
    n = read_file(path, buf, len);
    if (n < 0) {
        buf[0] = '\0';
        return PP_EGONE;
    }
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return 0;
}

int
pp_proc_cmdline(int pid, char *buf, size_t len)
{
    char path[64];
    ssize_t n, i;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        buf[0] = '\0';
        return PP_EGONE;
    }
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        n = 0;
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return 0;
}

void
pp_proc_root_path(int pid, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "/proc/%d/root%s", pid, path);
    if (access(buf, R_OK) != 0)
        snprintf(buf, len, "%s", path);
}

/* the launched children (a few: one per session) and their fates */
#define CHILDREN_MAX 16
static struct {
    int pid;
    int status;
    bool reaped;
} children[CHILDREN_MAX];

static void
child_add(int pid)
{
    size_t i, slot = CHILDREN_MAX;
    for (i = 0; i < CHILDREN_MAX; i++) {
        if (children[i].pid == 0 || children[i].pid == pid) {
            slot = i;
            break;
        }
        if (children[i].reaped && slot == CHILDREN_MAX)
            slot = i; /* reuse a reaped one's slot if all are taken */
    }
    if (slot == CHILDREN_MAX)
        slot = 0;
    children[slot].pid = pid;
    children[slot].status = 0;
    children[slot].reaped = false;
}

pid_t
pp_proc_waitpid(pid_t pid, int *status, int flags)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, flags);
    if (r > 0 && (WIFEXITED(st) || WIFSIGNALED(st))) {
        size_t i;
        for (i = 0; i < CHILDREN_MAX; i++)
            if (children[i].pid == r && !children[i].reaped) {
                children[i].reaped = true;
                children[i].status = st;
            }
    }
    if (status)
        *status = st;
    return r;
}

bool
pp_proc_child_reaped(int pid, int *status)
{
    size_t i;
    for (i = 0; i < CHILDREN_MAX; i++)
        if (children[i].pid == pid && children[i].reaped) {
            if (status)
                *status = children[i].status;
            return true;
        }
    return false;
}

int
pp_proc_spawn(char *const argv[], pid_t *child)
{
    int pfd[2], code = 0;
    pid_t pid;
    ssize_t n;

    if (pipe2(pfd, O_CLOEXEC) != 0)
        return PP_ELAUNCH;
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return PP_ELAUNCH;
    }
    if (pid == 0) {
        int e;
        close(pfd[0]);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        e = errno;
        if (write(pfd[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    close(pfd[1]);
    do
        n = read(pfd[0], &code, sizeof(code));
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    if (n > 0) {
        waitpid(pid, NULL, 0);
        errno = code;
        return PP_ELAUNCH;
    }
    child_add(pid);
    *child = pid;
    return 0;
}

unsigned long long
pp_proc_start_time(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p)
        return 0;
    p++;
    for (field = 2; field < 21 && *p; field++) { /* p is before field field+1 */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    if (field == 21 && sscanf(p, " %llu", &v) != 1)
        v = 0;
    return v;
}

unsigned long long
pp_proc_exec_id(int pid)
{
    char path[64];
    unsigned long long v[2 * 64], id = 0;
    ssize_t n;
    size_t i;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, v, sizeof(v));
    close(fd);
    for (i = 0; n > 0 && i + 1 < (size_t)n / sizeof(v[0]); i += 2) {
        if (v[i] == 25) { /* AT_RANDOM */
            id = v[i + 1];
            break;
        }
        if (v[i] == 0)
            break;
    }
    return id;
}

int
pp_proc_task_futex(int pid, int tid, unsigned long long *uaddr)
{
    char path[64], buf[256];
    unsigned long long nr, a0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PP_ENOTFOUND;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return PP_ENOTFOUND;
    buf[n] = '\0';
    if (sscanf(buf, "%llu 0x%llx", &nr, &a0) != 2 || nr != 202) /* x86-64 futex */
        return PP_ENOTFOUND;
    *uaddr = a0;
    return 0;
}

long
pp_proc_sysctl(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -99;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -99;
        fclose(f);
    }
    return v;
}
