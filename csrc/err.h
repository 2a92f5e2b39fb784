/*
 * err.h -- pyprof's error codes (layer L0).
 *
 * One X-macro table: code, class, message.  Functions that can fail return
 * int: 0 on success or a negative PP_E* code.  The class says what the
 * caller does with it:
 *   FATAL      ends the run (attach problems); maps to a process exit code;
 *   TRANSIENT  the target changed under us (thread exited, memory unmapped):
 *              drop this thread's sample, count it, go on;
 *   BADDATA    remote memory failed validation: same handling, counted apart.
 * Remote data never triggers an assert; it yields PP_EBADDATA.
 */
#ifndef PP_ERR_H
#define PP_ERR_H

enum pp_err_class { PP_FATAL, PP_TRANSIENT, PP_BADDATA };

/* X(name, class, exit code, message) */
#define PP_ERRORS(X)                                                                 \
    X(EINTERNAL, PP_FATAL, 1, "internal error")                                      \
    X(ENOMEM, PP_FATAL, 1, "out of memory")                                          \
    X(EUSAGE, PP_FATAL, 2, "usage error")                                            \
    X(ENOPROC, PP_FATAL, 3, "no such process")                                       \
    X(EPERM, PP_FATAL, 4, "permission denied")                                       \
    X(ENOTPY, PP_FATAL, 5, "not a Python process")                                   \
    X(EKTHREAD, PP_FATAL, 5, "is a kernel thread")                                   \
    X(EVERSION, PP_FATAL, 6, "unsupported Python version")                           \
    X(ELAUNCH, PP_FATAL, 7, "cannot launch command")                                 \
    X(EOUTPUT, PP_FATAL, 8, "cannot write output")                                   \
    X(EIO, PP_FATAL, 1, "I/O error")                                                 \
    X(ENOEVENT, PP_FATAL, 9, "event not available on this machine")                  \
    X(EGONE, PP_TRANSIENT, 0, "target thread or process went away")                  \
    X(EFAULT, PP_TRANSIENT, 0, "remote memory not readable")                         \
    X(EBADDATA, PP_BADDATA, 0, "remote data failed validation")                      \
    X(ENOTFOUND, PP_TRANSIENT, 0, "not found")

enum pp_err {
    PP_OK = 0,
#define PP_X_ENUM(name, cls, code, msg) PP_##name,
    PP_ERR_FIRST_ = -1000,
    PP_ERRORS(PP_X_ENUM)
#undef PP_X_ENUM
    PP_ERR_LAST_
};

const char *pp_strerror(int err);
enum pp_err_class pp_err_class(int err);
/* Process exit code for a FATAL error (1 for anything unknown). */
int pp_err_exit_code(int err);

#endif
