#!/bin/sh
# tools/make_fixtures.sh -- regenerate the snapshot fixtures of tests/fixtures/.
#
# For every pyenv interpreter 3.8 - 3.13 (the newest patch release of each
# minor version), Debian's 3.14 and 3.15 from the interpreter cache (the
# newest patch release of each in CACHE/interpreters.txt; make interpreters,
# PYPROF_INTERP_CACHE overrides ~/.cache/pyprof/interpreters) and the
# system /usr/bin/python3, start
# tests/fixtures/workload.py, wait until its main thread is in leaf(), take
# one snapshot of every thread with `pyprof-sampler snapshot`, and stop it.
# Results:
#   tests/fixtures/py3X.snap            pyenv 3.X, or the cache's 3.14/3.15
#   tests/fixtures/system-py3X.snap     /usr/bin/python3 (3.X)
# each with its .expected (the collapsed stacks the sampler produced live).
# tests/c/test_fixtures.c replays every *.snap and compares.
#
# Needs ptrace rights on the workload (root, or ptrace_scope 0).
# Usage: sh tools/make_fixtures.sh [PYTHON...]   (default: all found;
#        name a cached interpreter, e.g. the free-threaded 3.13t, explicitly)
set -eu

cd "$(dirname "$0")/.."
OUT=tests/fixtures
SAMPLER=./build/pyprof-sampler
MAX_SIZE=204800

make sampler >/dev/null
[ -x "$SAMPLER" ] || { echo "make_fixtures: $SAMPLER missing" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pyprof-fixtures.XXXXXX)
wl_pid=
cleanup() {
    if [ -n "$wl_pid" ]; then kill "$wl_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# make_one PYTHON NAME
make_one() {
    py=$1
    name=$2
    ready=$tmp/$name.ready
    "$py" "$OUT/workload.py" "$ready" &
    wl_pid=$!
    i=0
    while [ ! -f "$ready" ]; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$wl_pid" 2>/dev/null; then
            echo "make_fixtures: $py: the workload did not reach leaf()" >&2
            return 1
        fi
        sleep 0.05
    done
    sleep 0.3 # let leaf() enter its loop
    rm -f "$OUT/$name.snap" "$OUT/$name.snap.expected"
    "$SAMPLER" snapshot --pid "$wl_pid" "$OUT/$name.snap"
    kill "$wl_pid"
    wait "$wl_pid" 2>/dev/null || true
    wl_pid=
    exp=$OUT/$name.snap.expected
    # the main thread's chain, root first, in one line
    if ! grep -Eq '(^|;)main \([^;]*\);outer \([^;]*\);(Inner\.)?method \([^;]*\);leaf \([^;]*\) 1$' "$exp"; then
        echo "make_fixtures: $exp lacks the main -> outer -> method -> leaf chain:" >&2
        cat "$exp" >&2
        return 1
    fi
    if ! grep -Eq ';background \([^;]*\);nap \([^;]*\) 1$' "$exp"; then
        echo "make_fixtures: $exp lacks the waiter thread (background -> nap):" >&2
        cat "$exp" >&2
        return 1
    fi
    size=$(wc -c <"$OUT/$name.snap")
    echo "$name: $(tr -d '\n' <"$OUT/$name.snap" | grep -ao 'version=[0-9.]*' | head -n 1)," \
        "$size bytes, $(wc -l <"$exp") stacks"
    if [ "$size" -gt $MAX_SIZE ]; then
        echo "make_fixtures: warning: $OUT/$name.snap is larger than $MAX_SIZE bytes" >&2
    fi
}

pythons=
if [ $# -gt 0 ]; then
    for py in "$@"; do
        # a free-threaded build gets its own name (py313t)
        v=$("$py" -c 'import sys, sysconfig; print("%d%d%s" % (sys.version_info[:2] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
        make_one "$py" "py$v"
    done
    exit 0
fi

root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for minor in 8 9 10 11 12 13; do
    # newest 3.<minor>.<patch> installed
    best=$(ls -d "$root"/versions/3.$minor.* 2>/dev/null | grep -E "/3\.$minor\.[0-9]+$" |
           sort -t. -k3 -n | tail -n 1 || true)
    if [ -z "$best" ] || [ ! -x "$best/bin/python3" ]; then
        echo "make_fixtures: no pyenv Python 3.$minor, skipped" >&2
        continue
    fi
    make_one "$best/bin/python3" "py3$minor"
done
cache=${PYPROF_INTERP_CACHE:-$HOME/.cache/pyprof/interpreters}
for minor in 14 15; do
    # newest py3.<minor>.<patch> of the manifest ("ID PATH" lines)
    best=$(grep -E "^py3\.$minor\.[0-9]+ " "$cache/interpreters.txt" 2>/dev/null |
           sort -t. -k3 -n | tail -n 1 | cut -d' ' -f2- || true)
    if [ -z "$best" ] || [ ! -x "$best" ]; then
        echo "make_fixtures: no Python 3.$minor in $cache, skipped" >&2
        continue
    fi
    make_one "$best" "py3$minor"
done
if [ -x /usr/bin/python3 ]; then
    v=$(/usr/bin/python3 -c 'import sys; print("%d%d" % sys.version_info[:2])')
    make_one /usr/bin/python3 "system-py$v"
fi
