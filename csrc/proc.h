/*
 * proc.h -- the target process through /proc and fork/exec (layer L1).
 *
 * Thread ids: tasks are listed by their TID in OUR PID namespace (tid) and
 * in the target's innermost namespace (ns_tid, from NSpid), because
 * CPython records the latter in native_thread_id.  For a target in the
 * same namespace the two are equal.
 */
#ifndef PP_PROC_H
#define PP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pp_task {
    int tid;    /* in our namespace */
    int ns_tid; /* in the target's namespace */
    int stat_fd; /* open /proc/PID/task/TID/stat, or -1 */
    bool seen;  /* mark for refresh */
};

struct pp_tasks {
    struct pp_task *v;
    size_t n, cap;
};

/* A number from /proc/sys (e.g. kernel.perf_event_paranoid), or -99 when
 * it cannot be read (no such sysctl). */
long pp_proc_sysctl(const char *path);

/* 0 if pid is a live user process; PP_ENOPROC, PP_EKTHREAD, PP_EPERM. */
int pp_proc_check(int pid);

/* Re-lists /proc/PID/task: keeps entries (and their open fds) of tasks
 * still present, adds new ones, closes the gone.  PP_EGONE if the process
 * has no tasks left. */
int pp_proc_tasks_refresh(int pid, struct pp_tasks *t);
void pp_proc_tasks_free(struct pp_tasks *t);
struct pp_task *pp_proc_tasks_find_ns(struct pp_tasks *t, int ns_tid);

/* Scheduler state letter of a task ('R', 'S', 'D', ...), or '?' on error.
 * Uses the task's cached stat fd (pread), cheap enough per sample. */
char pp_proc_task_state(int pid, struct pp_task *task);
bool pp_proc_state_is_running(char state);

/* comm of a task (thread name), NUL-terminated, at most 15 chars. */
int pp_proc_task_comm(int pid, int tid, char *buf, size_t len);
/* Command line with NULs replaced by spaces, truncated to len-1. */
int pp_proc_cmdline(int pid, char *buf, size_t len);
/* "/proc/PID/root" + path when that is readable, else path itself. */
void pp_proc_root_path(int pid, const char *path, char *buf, size_t len);

/* The futex address a blocked task waits on (from /proc/PID/task/TID/
 * syscall): 0 and *uaddr set when it sits in futex(2), PP_ENOTFOUND
 * otherwise. */
int pp_proc_task_futex(int pid, int tid, unsigned long long *uaddr);

/* The process's start time (/proc/PID/stat field 22, clock ticks since
 * boot): with the PID, the identity of a process across PID reuse.  0 on
 * error. */
unsigned long long pp_proc_start_time(int pid);

/* A value that changes when the process execs: the address of its
 * AT_RANDOM bytes (on the new stack, randomised at every exec).  0 on error. */
unsigned long long pp_proc_exec_id(int pid);

/*
 * Our launched children's exit statuses, kept wherever they are reaped.
 * A launched child is also a tracee under --blocking, so a waitpid for a
 * ptrace stop of one of its threads (pstop.c), a poll of every child, or
 * the session's own check may each be the one that consumes its exit.
 * Every waitpid of the sampler goes through pp_proc_waitpid, which
 * records an exit of a child registered by pp_proc_spawn; the child's
 * owner asks pp_proc_child_reaped.  A PID recorded there was reaped: it
 * may already name another process and must never be signalled.
 */
pid_t pp_proc_waitpid(pid_t pid, int *status, int flags);
/* true (and *status) once pid, a child from pp_proc_spawn, was reaped. */
bool pp_proc_child_reaped(int pid, int *status);

/* fork + exec argv; the child is in our process group.  Exec failure is
 * reported through a close-on-exec pipe as PP_ELAUNCH. */
int pp_proc_spawn(char *const argv[], pid_t *child);

#endif
