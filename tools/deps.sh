#!/bin/sh
# Installs what pyprof's build and tests need and says what it installs.
# Usage: tools/deps.sh PYTHON [fuzz]
set -e
PY=${1:-python3}
WHAT=${2:-test}
need_apt=""
command -v cc >/dev/null 2>&1 || need_apt="$need_apt gcc libc6-dev"
command -v make >/dev/null 2>&1 || need_apt="$need_apt make"
[ -x /usr/bin/python3 ] || need_apt="$need_apt python3"
# Python.h of the system python3: tests/native/build_ext.py builds the test C extension
[ -f "$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)/Python.h" ] ||
    need_apt="$need_apt python3-dev"
# debug symbols of the system python3 (static functions, inline frames in
# --native profiles): Debian ships them in python3.X-dbg, by build-id
if [ -x /usr/bin/python3 ] && command -v readelf >/dev/null 2>&1; then
    bid=$(readelf -n "$(readlink -f /usr/bin/python3)" 2>/dev/null | awk '/Build ID/ {print $3}')
    if [ -n "$bid" ] && [ ! -e "/usr/lib/debug/.build-id/$(echo "$bid" | cut -c1-2)/$(echo "$bid" | cut -c3-).debug" ]; then
        need_apt="$need_apt python3-dbg"
    fi
fi
command -v runuser >/dev/null 2>&1 || need_apt="$need_apt util-linux"
command -v unshare >/dev/null 2>&1 || need_apt="$need_apt util-linux"
command -v tmux >/dev/null 2>&1 || need_apt="$need_apt tmux"   # drives the report/top TUI tests
command -v setcap >/dev/null 2>&1 || need_apt="$need_apt libcap2-bin"   # test_check.py: setcap on the sampler
command -v objdump >/dev/null 2>&1 || need_apt="$need_apt binutils"   # test_install.py: the wheel's glibc tag
/usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt="$need_apt python3-venv"   # test_install.py
# native mode: headers to build the dlopen()ed backends; the tests need both libraries
for pkg in libdw-dev libelf-dev libunwind-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt="$need_apt $pkg"
done
# the bpf capture mode: clang builds the BPF program (make), libbpf1 loads it (run time)
command -v clang >/dev/null 2>&1 || need_apt="$need_apt clang"
dpkg -s libbpf1 >/dev/null 2>&1 || need_apt="$need_apt libbpf1"
command -v go >/dev/null 2>&1 || need_apt="$need_apt golang-go"   # go tool pprof reads the pprof output
command -v chromium >/dev/null 2>&1 || need_apt="$need_apt chromium"   # runs the SVG flame graph's script
# make demo and tests/e2e/test_gunicorn.py: a Flask app under Debian's Gunicorn, loaded by ab
[ -x /usr/bin/gunicorn ] || need_apt="$need_apt gunicorn"
/usr/bin/python3 -c 'import flask' >/dev/null 2>&1 || need_apt="$need_apt python3-flask"
command -v ab >/dev/null 2>&1 || need_apt="$need_apt apache2-utils"
# tools/interpreters.sh: patchelf (from Debian) points the unpacked 3.14/3.15 binaries at their
# private loader; 3.13t is built from source with these headers
if [ "$WHAT" = test ]; then
    command -v patchelf >/dev/null 2>&1 || need_apt="$need_apt patchelf"
    command -v flock >/dev/null 2>&1 || need_apt="$need_apt util-linux"
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need_apt="$need_apt debian-archive-keyring"
    for pkg in pkg-config libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev liblzma-dev \
               libreadline-dev libncurses-dev libgdbm-dev uuid-dev xz-utils; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need_apt="$need_apt $pkg"
    done
fi
if [ "$WHAT" = fuzz ]; then
    command -v clang >/dev/null 2>&1 || need_apt="$need_apt clang"
    [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
        need_apt="$need_apt libclang-rt-14-dev"
fi
if [ -n "$need_apt" ]; then
    echo "deps: installing Debian packages:$need_apt"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt
fi
# make fuzz: Atheris (PyPI) for tests/fuzz/fuzz_raw.py, in a venv under build/, from the
# first pyenv interpreter it installs for (binary wheels: 3.11 and older)
if [ "$WHAT" = fuzz ] && ! build/fuzz-venv/bin/python -c 'import atheris' >/dev/null 2>&1; then
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for v in 3.11 3.10 3.9 3.8; do
        py=$(ls -d "$root"/versions/$v.*/bin/python$v 2>/dev/null | sort -V | tail -1)
        [ -n "$py" ] || continue
        echo "deps: installing atheris from PyPI into build/fuzz-venv (fuzz-only, for $py)"
        if "$py" -m venv --clear build/fuzz-venv && build/fuzz-venv/bin/python -m pip install -q \
            --disable-pip-version-check atheris; then
            break
        fi
    done
    build/fuzz-venv/bin/python -c 'import atheris' >/dev/null 2>&1 ||
        echo "deps: could not install atheris: fuzz_raw runs its own mutation driver instead"
fi
# tests/e2e/test_gunicorn.py: gunicorn + Flask from PyPI for pyenv's 3.12, in a venv under build/
# (the test creates it too when it is missing)
if [ "$WHAT" = test ]; then
    py312=$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12.*/bin/python3.12 \
        2>/dev/null | sort -V | tail -1)
    venv=build/gunicorn-venv-3.12
    if [ -n "$py312" ] && ! "$venv/bin/python" -c 'import flask, gunicorn' >/dev/null 2>&1; then
        echo "deps: installing gunicorn and flask from PyPI into $venv (test-only, for $py312)"
        { "$py312" -m venv --clear "$venv" && "$venv/bin/python" -m pip install -q \
            --disable-pip-version-check gunicorn flask; } ||
            echo "deps: could not install gunicorn/flask into $venv: test_gunicorn[py3.12] will fail"
    fi
fi
# CPython 3.14.x/3.15.x (Debian's binaries) and a free-threaded 3.13t (built), in a cache
# outside the clone; the tests read its interpreters.txt. A version that cannot be had is
# said here and its tests skip; the others are still provisioned.
if [ "$WHAT" = test ]; then
    bash "$(dirname "$0")/interpreters.sh" ||
        echo "deps: WARNING: some interpreters could not be provisioned (see above): their tests skip"
fi
if [ "$WHAT" = test ] && ! "$PY" -c 'import pytest' >/dev/null 2>&1; then
    echo "deps: installing pytest for $PY (test-only)"
    "$PY" -m pip install -q pytest
fi
