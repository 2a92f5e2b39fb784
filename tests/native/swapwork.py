"""The Python stack changes shape quickly, keeping its depth: two functions
called in turn from the same caller, at the same depth, one running C code
of a library (zlib's libz), the other pure Python and big-int arithmetic
(libpython) and never zlib (tests/e2e/test_native.py, the join evidence).

    python swapwork.py [SECONDS]

A profile that splices libz frames under score_items or big-int frames
under compress_payload joined a native stack of one instant to a Python
stack of another.
"""
import sys
import time
import zlib

DATA = bytes((i * 7919) % 251 for i in range(24 * 1024))
BIG = 7 ** 900


def compress_payload():
    return len(zlib.compress(DATA, 6))          # ~0.1-0.3 ms in libz


def score_items():
    total = 0
    for i in range(150):                        # pure Python
        total += i * i
    return total + (BIG * BIG) % 1000003        # big ints: k_mul, long_mod


def main():
    end = time.time() + (float(sys.argv[1]) if len(sys.argv) > 1 else 1e9)
    print("ready", flush=True)
    while time.time() < end:
        compress_payload()
        score_items()


if __name__ == "__main__":
    main()
