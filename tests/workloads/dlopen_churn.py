"""Maps and unmaps shared objects all the time (the --native symbolizer's
removed-module path): one thread loads libraries by soname and dlcloses
them (ld.so maps /etc/ld.so.cache for each lookup by name), while the main
thread calls into freshly loaded ones.  Usage: dlopen_churn.py SECONDS"""
import ctypes
import ctypes.util
import sys
import threading
import time

SONAMES = ["libm.so.6", "libz.so.1", "libbz2.so.1.0", "liblzma.so.5", "libexpat.so.1",
           "libcrypt.so.1", "libutil.so.1", "libffi.so.8"]
_dlclose = ctypes.CDLL(None).dlclose
_dlclose.argtypes = [ctypes.c_void_p]
stop = False


def churn():
    while not stop:
        for name in SONAMES:
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            _dlclose(lib._handle)


def call_fresh():
    lib = ctypes.CDLL("libm.so.6")
    cos = lib.cos
    cos.restype = ctypes.c_double
    cos.argtypes = [ctypes.c_double]
    s = 0.0
    for i in range(2000):
        s += cos(i * 0.001)
    return s


def main():
    global stop
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    t = threading.Thread(target=churn, name="churn")
    t.start()
    print("ready", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        call_fresh()
    stop = True
    t.join()


main()
