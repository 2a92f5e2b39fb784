#!/bin/sh
# tools/gen_offsets.sh -- regenerate csrc/py/offsets_3_X.h (3.8 - 3.15).
#
# For each minor version, compiles tools/gen_offsets.c against the highest
# installed pyenv patch release's own headers and writes the table it
# prints.  3.14 and 3.15 come from Debian's libpython3.X-dev headers in the
# interpreter cache (make interpreters; PYPROF_INTERP_CACHE overrides
# ~/.cache/pyprof/interpreters); for them the table only tops up the
# target's own _Py_DebugOffsets (csrc/py/layout.c).  A missing version is skipped with a message (its committed
# header is left alone).  Re-runnable: output goes through a temp file
# and replaces the header only when generation succeeded.
#
# Then, as a portability check, generates the 3.11 table from Debian's
# /usr/include/python3.11 (if installed) into a temp dir and prints how it
# differs from the committed pyenv 3.11 table.
#
# Usage: tools/gen_offsets.sh            (from anywhere)
#        CC=clang tools/gen_offsets.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cc=${CC:-gcc}
out_dir="$top/csrc/py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen_offsets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

if command -v pyenv >/dev/null 2>&1; then
    pyenv_root=$(pyenv root)
else
    pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
fi

# gen INCLUDE_DIR OUTPUT_FILE: compile the generator against one set of
# headers and write its output atomically.  Returns non-zero on failure.
gen() {
    inc=$1
    dst=$2
    exe="$tmp/gen"
    # shellcheck disable=SC2086
    if ! "$cc" -O0 -Wall -DPy_BUILD_CORE -I"$inc" -I"$inc/internal" \
            ${CFLAGS_EXTRA:-} -I"$top/csrc" -o "$exe" "$here/gen_offsets.c"; then
        echo "gen_offsets: cannot compile the generator against $inc" >&2
        return 1
    fi
    if ! "$exe" >"$tmp/out.h"; then
        echo "gen_offsets: generator failed for $inc" >&2
        return 1
    fi
    mv "$tmp/out.h" "$dst"
}

# Highest installed patch release of 3.MINOR under pyenv (plain X.Y.Z
# names only: no -dev, t (free-threaded) or -debug variants).
latest() {
    ls -1 "$pyenv_root/versions" 2>/dev/null |
        grep -E "^3\.$1\.[0-9]+\$" | sort -t. -k3,3n | tail -n 1
}

status=0
for minor in 8 9 10 11 12 13; do
    ver=$(latest "$minor")
    if [ -z "$ver" ]; then
        echo "gen_offsets: Python 3.$minor not installed under" \
             "$pyenv_root/versions; skipped" >&2
        continue
    fi
    inc="$pyenv_root/versions/$ver/include/python3.$minor"
    if [ ! -f "$inc/Python.h" ]; then
        echo "gen_offsets: no headers in $inc; 3.$minor skipped" >&2
        continue
    fi
    dst="$out_dir/offsets_3_$minor.h"
    if gen "$inc" "$dst"; then
        echo "gen_offsets: wrote csrc/py/offsets_3_$minor.h from $ver"
    else
        status=1
    fi
done

# 3.14, 3.15: Debian's -dev headers of the newest cached patch release.
cache=${PYPROF_INTERP_CACHE:-$HOME/.cache/pyprof/interpreters}
for minor in 14 15; do
    ver=$(ls -1 "$cache" 2>/dev/null | grep -E "^3\.$minor\.[0-9]+\$" |
          sort -t. -k3,3n | tail -n 1)
    root="$cache/$ver/root/usr/include"
    if [ -z "$ver" ] || [ ! -f "$root/python3.$minor/Python.h" ]; then
        echo "gen_offsets: no Python 3.$minor headers under $cache; skipped" >&2
        continue
    fi
    # Debian's pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>;
    # only that directory, not the cache's libc headers, goes on the path
    mkdir -p "$tmp/arch$minor"
    ln -sfn "$root/x86_64-linux-gnu" "$tmp/arch$minor/x86_64-linux-gnu"
    if CFLAGS_EXTRA="-I$tmp/arch$minor" gen "$root/python3.$minor" "$out_dir/offsets_3_$minor.h"; then
        echo "gen_offsets: wrote csrc/py/offsets_3_$minor.h from $ver"
    else
        status=1
    fi
done

# Debian's system 3.11 headers vs the pyenv 3.11 table.
deb_inc=/usr/include/python3.11
if [ -f "$deb_inc/Python.h" ] && [ -d "$deb_inc/internal" ]; then
    if gen "$deb_inc" "$tmp/debian_3_11.h" && [ -f "$out_dir/offsets_3_11.h" ]; then
        # Compare the field lines only (banner and version_hex differ).
        grep -E '^    \.' "$out_dir/offsets_3_11.h" |
            grep -v version_hex >"$tmp/a"
        grep -E '^    \.' "$tmp/debian_3_11.h" |
            grep -v version_hex >"$tmp/b"
        if diff -u "$tmp/a" "$tmp/b" >"$tmp/d"; then
            echo "gen_offsets: $deb_inc gives the same offsets as the 3.11 table"
        else
            echo "gen_offsets: $deb_inc differs from csrc/py/offsets_3_11.h" \
                 "(- pyenv, + Debian):"
            tail -n +3 "$tmp/d"
        fi
    fi
else
    echo "gen_offsets: $deb_inc not installed; Debian comparison skipped" >&2
fi

exit $status
