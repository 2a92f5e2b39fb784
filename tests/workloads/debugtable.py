"""Workload that reads, and may rewrite, its own _Py_DebugOffsets (3.13+).

Usage: python debugtable.py QUALNAME_SLOT NAME_SLOT MODE [SECONDS]

The table is the first member of _PyRuntime (found through ctypes; the symbol
is exported by libpython and by Debian's static python3.X).  CPython itself
never reads it: only out-of-process tools do.  MODE:
  keep      leave the table alone;
  redirect  copy the table's code_object.name slot (at byte NAME_SLOT) into its
            code_object.qualname slot (at byte QUALNAME_SLOT): a reader that
            takes the qualname offset from the table now reads co_name, so
            `Worker.spin` is named `spin`; one that uses a constant does not
            notice.
Prints "ready <table as hex>" (the table before any change, 1024 bytes), then
runs Worker().spin() until SECONDS have passed (default: until killed).
"""
import ctypes
import sys
import time

TABLE_BYTES = 1024


class Worker:
    def spin(self, deadline):
        x = 0
        while time.perf_counter() < deadline:
            for i in range(64):
                x = (x * 33 + i) % 1000003
        return x


def main():
    qual_slot, name_slot, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
    addr = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
    table = ctypes.string_at(addr, TABLE_BYTES)
    assert table[:8] == b"xdebugpy", table[:8]
    if mode == "redirect":
        ctypes.memmove(addr + qual_slot, addr + name_slot, 8)
    elif mode != "keep":
        raise SystemExit("unknown mode %r" % mode)
    print("ready " + table.hex(), flush=True)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        Worker().spin(time.perf_counter() + 0.05)


if __name__ == "__main__":
    main()
