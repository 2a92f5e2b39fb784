"""A small Flask app for `make demo`, tests/e2e/test_gunicorn.py and `make bench`.

    GET /      fast: a fixed short body
    GET /slow  a few ms of work in two callees: score() (a pure-Python loop) and
               compress_payload() (zlib.compress, C code in libz)

Every response of a route has the same length: ab counts a body whose length
differs from the first one as a failed request.
"""
import random
import zlib

from flask import Flask

app = Flask(__name__)



def _make_payload(nbytes):
    """Text-like bytes (random words from a small vocabulary, fixed seed):
    deflate at level 9 finds many matches and works for a few ms."""
    rng = random.Random(1234)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(400)]
    out = bytearray()
    while len(out) < nbytes:
        out += rng.choice(words) + b" "
    return bytes(out[:nbytes])


PAYLOAD = _make_payload(96 * 1024)     # built once per worker
ITEMS = list(range(40000))


def score(items):
    """Pure Python: a few ms of bytecode, no C calls worth naming."""
    total = 0
    for i in items:
        if i % 3 == 0:
            total += i * i % 97
        else:
            total ^= i << 1
    return total


def compress_payload(data):
    """zlib.compress at the highest level: a few ms in libz's deflate."""
    return zlib.compress(data, 9)


@app.route("/")
def index():
    return "ok\n"


@app.route("/slow")
def slow():
    total = score(ITEMS)
    size = len(compress_payload(PAYLOAD))
    return "score=%010d compressed=%010d\n" % (total, size)


if __name__ == "__main__":   # flask's own server, for a quick look without Gunicorn
    app.run(host="127.0.0.1", port=8000)
