"""A demo-like program for the flame graph tests: a project file whose
hot function spans many lines, calling into the standard library.

Usage: python app.py SECONDS     (run from this directory: the project root)
Prints "ready" once it starts working.
"""
import json
import sys
import time


def compute_primes(limit):
    primes = []
    for n in range(2, limit):
        is_prime = True
        for p in primes:
            if p * p > n:
                break
            if n % p == 0:
                is_prime = False
                break
        if is_prime:
            primes.append(n)
    return primes


def encode_report(primes):
    return json.dumps({"count": len(primes), "primes": primes[-2000:]}, indent=1, sort_keys=True)


def handle_request():
    primes = compute_primes(30000)
    return len(encode_report(primes))


def main():
    end = time.time() + float(sys.argv[1]) if len(sys.argv) > 1 else None
    print("ready", flush=True)
    while end is None or time.time() < end:
        handle_request()


if __name__ == "__main__":
    main()
