#!/usr/bin/env python3
"""Generate the line-table cases of tests/c/test_linetable.c from real
interpreters.

For every pyenv interpreter 3.8 - 3.13 found, this script runs itself under
that interpreter (``--emit``), compiles a fixed piece of source, and prints
for a few functions: the raw line table (co_lnotab on 3.8/3.9, co_linetable
on 3.10+), co_firstlineno, and the line CPython itself reports for every
instruction (every code unit):

  3.8 / 3.9  dis.findlinestarts (the line of the last line start at or
             before the offset; what frame.f_lineno reports)
  3.10       code.co_lines() (None -> 0, "no line")
  3.11+      code.co_positions() per code unit, cross-checked against
             code.co_lines()

The driver then rewrites the block between the GENERATED markers of
test_linetable.c.  Re-run after changing the source below:

    python3 tests/c/gen_linetable_cases.py            # all interpreters
    python3 tests/c/gen_linetable_cases.py --check    # exit 1 if stale
"""
import dis
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_C = os.path.join(HERE, "test_linetable.c")
BEGIN = "/* BEGIN GENERATED CASES (tests/c/gen_linetable_cases.py) */"
END = "/* END GENERATED CASES */"

_BIG_STRING = "\n".join("        line %d of a long string" % i for i in range(210))
_LONG_SUM = " + ".join(["a"] * 160)

SOURCE = '''\
def simple(a):
    b = a + 1
    c = b * 2
    return c


def loop(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    while total > 100:
        total //= 2
    return total


def long_line(a):
    x = (@LONG_SUM@)
    return x


def far(n):
    t = 0
    for i in range(n):
        t += 1
        s = """
@BIG_STRING@
        """
        t += len(s)
    return t


lam = lambda x: x * 2 + 1


def handlers(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return str(e)
    finally:
        print("done")


def multiline(a, b):
    return max(
        a,
        b,
    )


def gen(n):
    for i in range(n):
        yield i
'''.replace("@LONG_SUM@", _LONG_SUM).replace("@BIG_STRING@", _BIG_STRING)

WANTED = ["simple", "loop", "long_line", "far", "<lambda>", "handlers", "multiline", "gen"]


def _codes(co):
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            yield c
            for sub in _codes(c):
                yield sub


def _lines_lnotab(co):
    starts = list(dis.findlinestarts(co))
    out = []
    for off in range(0, len(co.co_code), 2):
        line = co.co_firstlineno
        for addr, ln in starts:
            if addr <= off:
                line = ln
            else:
                break
        out.append(line)
    return out


def _lines_co_lines(co):
    nunits = len(co.co_code) // 2
    out = [None] * nunits
    for start, end, line in co.co_lines():
        for off in range(start, end, 2):
            out[off // 2] = 0 if line is None else line
    if any(v is None for v in out):
        raise SystemExit("co_lines() left an instruction uncovered in %s" % co.co_name)
    return out


def _lines_positions(co):
    out = [0 if p[0] is None else p[0] for p in co.co_positions()]
    if len(out) != len(co.co_code) // 2:
        raise SystemExit("co_positions() length mismatch in %s" % co.co_name)
    return out


def emit():
    v = sys.version_info
    mod = compile(SOURCE, "cases.py", "exec")
    cases = []
    for co in _codes(mod):
        if co.co_name not in WANTED:
            continue
        if v < (3, 10):
            kind, table, lines = "LNOTAB", co.co_lnotab, _lines_lnotab(co)
        elif v < (3, 11):
            kind, table, lines = "PEP626", co.co_linetable, _lines_co_lines(co)
        else:
            kind, table = "LOCATION", co.co_linetable
            lines = _lines_positions(co)
            if lines != _lines_co_lines(co):
                raise SystemExit("co_positions() and co_lines() disagree in %s" % co.co_name)
        cases.append({
            "name": co.co_name,
            "kind": kind,
            "firstlineno": co.co_firstlineno,
            "table": list(bytearray(table)),
            "lines": lines,
        })
    json.dump({"version": "%d.%d.%d" % v[:3], "cases": cases}, sys.stdout)


def interpreters():
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    root = root or os.path.expanduser("~/.pyenv")
    found = {}
    for exe in sorted(glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3"))):
        ver = os.path.basename(os.path.dirname(os.path.dirname(exe)))
        parts = ver.split(".")
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        minor = int(parts[1])
        if 8 <= minor <= 13:
            found[minor] = exe
    return [found[k] for k in sorted(found)]


def c_ident(s):
    return "".join(ch if ch.isalnum() else "_" for ch in s).strip("_")


def c_array(values, per_line=16):
    rows = []
    for i in range(0, len(values), per_line):
        rows.append("    " + ", ".join(str(x) for x in values[i:i + per_line]) + ",")
    return "\n".join(rows) if rows else "    0,"


def render(results):
    out = [BEGIN]
    rows = []
    for res in results:
        ver = res["version"]
        vid = "v" + "".join(ver.split(".")[:2])
        for case in res["cases"]:
            ident = "%s_%s" % (vid, c_ident(case["name"]) or "lambda")
            out.append("/* Python %s: %s, co_firstlineno %d, %d bytes of table, %d units */"
                       % (ver, case["name"], case["firstlineno"], len(case["table"]),
                          len(case["lines"])))
            out.append("static const uint8_t tab_%s[] = {\n%s\n};" % (ident, c_array(case["table"])))
            out.append("static const int lines_%s[] = {\n%s\n};" % (ident, c_array(case["lines"], 20)))
            rows.append('    {"%s", "%s", LT_%s, %d, tab_%s, %d, lines_%s, %d},'
                        % (ver, case["name"], case["kind"], case["firstlineno"], ident,
                           len(case["table"]), ident, len(case["lines"])))
    out.append("static const struct lt_case lt_cases[] = {")
    out.extend(rows)
    out.append("};")
    out.append(END)
    return "\n".join(out)


def main():
    if "--emit" in sys.argv:
        emit()
        return 0
    results = []
    for exe in interpreters():
        proc = subprocess.run([exe, os.path.abspath(__file__), "--emit"], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit("%s failed" % exe)
        results.append(json.loads(proc.stdout))
        sys.stderr.write("%s: %d cases\n" % (results[-1]["version"], len(results[-1]["cases"])))
    block = render(results)
    with open(TEST_C) as f:
        text = f.read()
    a, b = text.index(BEGIN), text.index(END) + len(END)
    new = text[:a] + block + text[b:]
    if "--check" in sys.argv:
        if new != text:
            sys.stderr.write("test_linetable.c is stale: re-run %s\n" % sys.argv[0])
            return 1
        return 0
    if new != text:
        with open(TEST_C, "w") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
