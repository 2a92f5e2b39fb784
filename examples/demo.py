"""A small CPU-bound workload for `make demo`: parse, transform and encode
records, so the flame graph shows a few distinct hot paths."""
import json
import re
import sys
import time

WORD = re.compile(r"[a-z]+")


def make_records(n):
    return [{"id": i, "text": "lorem ipsum dolor sit amet %d" % i, "tags": list(range(i % 7))}
            for i in range(n)]


def tokenize(records):
    return [WORD.findall(r["text"]) for r in records]


def score(tokens):
    total = 0
    for words in tokens:
        for w in words:
            total += sum(ord(c) for c in w) % 13
    return total


def encode(records):
    return len(json.dumps(records))


def main(seconds):
    end = time.time() + seconds
    rounds = 0
    while time.time() < end:
        records = make_records(2000)
        score(tokenize(records))
        encode(records)
        rounds += 1
    print("demo: %d rounds" % rounds)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
