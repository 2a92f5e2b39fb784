"""A target for `pyprof dump --locals`: one function parked with known locals.

Usage: python locals.py

`parked(arg)` binds locals of every rendered kind (small, negative and big
ints, floats, strings with quotes, escapes and non-ASCII text, a long string,
bytes, None, a bool, a list, a dict, a user class instance, a cell variable),
then sleeps at PARK_LINE forever.  Before sleeping it prints one line:

    ready {"line": N, "expect": [LINE, ...], "absent": [NAME, ...]}

with the lines pyprof must print for that frame, computed here, in the target
interpreter, from the values themselves (repr(), len(str()), id()), so nothing
is written down per version; "absent" are names not bound at the park point.
"""
import json
import sys
import time

CUT = 80  # characters of a str/bytes pyprof shows (pylocals.h)


class Thing:
    pass


def expectation(name, value):
    if isinstance(value, bool) or value is None or isinstance(value, float):
        text = repr(value)
    elif isinstance(value, int):
        digits = len(str(abs(value)))
        text = repr(value) if digits <= 40 else "<int of %d digits>" % digits
    elif isinstance(value, (str, bytes)):
        text = repr(value[:CUT]) + ("..." if len(value) > CUT else "")
    elif type(value) in (list, tuple, dict, set):
        text = "<%s of %d>" % (type(value).__name__, len(value))
    else:
        text = "<%s at 0x%x>" % (type(value).__name__, id(value))
    return "%s = %s" % (name, text)


def parked(arg, n=2000):
    big = 2 ** 200
    mid = -(2 ** 100)
    neg = -12345
    zero = 0
    f = 3.25
    tenth = 0.1
    s = 'it\'s "quoted" \u00e9\u4e2d\t\\'
    long_s = "x" * 50 + "y" * 50
    b = b"by\x00tes'\xff"
    nothing = None
    flag = True
    lst = [1, 2, 3]
    d = {"a": 1}
    tup = (1, 2)
    obj = Thing()

    def inner():
        return arg  # makes arg a cell variable

    names = dict(locals())
    del names["inner"]
    names.pop("names", None)
    expect = [expectation(k, v) for k, v in names.items()]
    expect.append("inner = <function at 0x%x>" % id(inner))
    line = sys._getframe().f_lineno + 4
    sys.stdout.write("ready " + json.dumps({"line": line, "expect": expect, "absent": ["unbound"]}) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(0.05)  # PARK_LINE
    unbound = 1  # noqa: never reached
    return unbound


parked("hello")
