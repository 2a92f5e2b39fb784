/*
 * cbext.c -- a test C extension for mixed-mode profiling.  Built by the
 * tests with -O2 -fomit-frame-pointer (tests/native/build_ext.py).
 *
 *   cbext.entry(cb, n)   C entry -> C helper -> cb() n times (Python)
 *   cbext.leaf(ms)       C -> C leaf that burns the CPU for ms milliseconds;
 *                        returns the wall seconds (CLOCK_MONOTONIC) it took
 *   cbext.consume(it, n) C drives a Python iterator (a generator): next(it) n times
 *   cbext.spawn_native_thread(ms)
 *                        start a pthread with no Python thread state that spins
 *                        in C (cbext_native_main -> cbext_native_spin) for ms
 *                        milliseconds of CPU; its OS name is "cbnative"; returns
 *                        its TID
 *
 * so a sample in the hot leaf has the stack
 *   python caller -> cbext_entry -> cbext_helper -> Python callback
 *                 -> cbext_leaf -> cbext_burn
 * The functions are noinline so that each is a frame of its own.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void
cbext_burn(double ms)
{
    double end = now_s() + ms / 1000.0;
    unsigned long x = sink | 1;
    while (now_s() < end) {
        int i;
        for (i = 0; i < 2000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        sink = x;
    }
}

__attribute__((noinline)) static PyObject *
cbext_leaf(PyObject *self, PyObject *arg)
{
    double ms = PyFloat_AsDouble(arg);
    struct timespec t0, t1;
    (void)self;
    if (ms < 0 && PyErr_Occurred())
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cbext_burn(ms);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return PyFloat_FromDouble((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

__attribute__((noinline)) int
cbext_helper(PyObject *cb, long n)
{
    long i;
    for (i = 0; i < n; i++) {
        PyObject *r = PyObject_CallObject(cb, NULL);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

__attribute__((noinline)) static PyObject *
cbext_entry(PyObject *self, PyObject *args)
{
    PyObject *cb;
    long n;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ol", &cb, &n))
        return NULL;
    if (cbext_helper(cb, n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

__attribute__((noinline)) static PyObject *
cbext_consume(PyObject *self, PyObject *args)
{
    PyObject *it;
    long n, i;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ol", &it, &n))
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *v = PyIter_Next(it);
        if (!v) {
            if (PyErr_Occurred())
                return NULL;
            break;
        }
        Py_DECREF(v);
    }
    Py_RETURN_NONE;
}

/* The native thread: no Python thread state, never touches the interpreter. */
struct native_arg {
    double ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long tid;
};

__attribute__((noinline)) void
cbext_native_spin(double ms)
{
    double end = now_s() + ms / 1000.0;
    unsigned long x = sink | 3;
    while (now_s() < end) {
        int i;
        for (i = 0; i < 2000; i++)
            x = x * 2862933555777941757UL + 3037000493UL;
        sink = x;
    }
}

__attribute__((noinline)) static void *
cbext_native_main(void *p)
{
    struct native_arg *arg = p;
    double ms = arg->ms;
    pthread_setname_np(pthread_self(), "cbnative");
    pthread_mutex_lock(&arg->lock);
    arg->tid = (long)syscall(SYS_gettid);
    pthread_cond_signal(&arg->cond);
    pthread_mutex_unlock(&arg->lock);   /* arg belongs to the spawner from here on */
    cbext_native_spin(ms);
    return NULL;
}

static PyObject *
cbext_spawn_native_thread(PyObject *self, PyObject *arg)
{
    struct native_arg a;
    pthread_t th;
    int rc;
    long tid;
    (void)self;
    a.ms = PyFloat_AsDouble(arg);
    if (a.ms < 0 && PyErr_Occurred())
        return NULL;
    a.tid = 0;
    pthread_mutex_init(&a.lock, NULL);
    pthread_cond_init(&a.cond, NULL);
    rc = pthread_create(&th, NULL, cbext_native_main, &a);
    if (rc != 0) {
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    pthread_detach(th);
    pthread_mutex_lock(&a.lock);
    while (a.tid == 0)
        pthread_cond_wait(&a.cond, &a.lock);
    tid = a.tid;
    pthread_mutex_unlock(&a.lock);
    pthread_cond_destroy(&a.cond);
    pthread_mutex_destroy(&a.lock);
    return PyLong_FromLong(tid);
}

static PyMethodDef methods[] = {
    {"entry", cbext_entry, METH_VARARGS, "entry(cb, n): call cb() n times from C"},
    {"leaf", cbext_leaf, METH_O, "leaf(ms): burn the CPU in C for ms milliseconds"},
    {"consume", cbext_consume, METH_VARARGS, "consume(it, n): call next(it) n times from C"},
    {"spawn_native_thread", cbext_spawn_native_thread, METH_O,
     "spawn_native_thread(ms): start a pthread (no Python state) spinning in C; its TID"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "cbext", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_cbext(void)
{
    return PyModule_Create(&moddef);
}
