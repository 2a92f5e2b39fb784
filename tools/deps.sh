#!/bin/sh
# Installs what pyprof's build and tests need and says what it installs.
# Usage: tools/deps.sh PYTHON
set -e
PY=${1:-python3}
need_apt=""
command -v cc >/dev/null 2>&1 || need_apt="$need_apt gcc libc6-dev"
command -v make >/dev/null 2>&1 || need_apt="$need_apt make"
[ -x /usr/bin/python3 ] || need_apt="$need_apt python3"
command -v runuser >/dev/null 2>&1 || need_apt="$need_apt util-linux"
if [ -n "$need_apt" ]; then
    echo "deps: installing Debian packages:$need_apt"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt
fi
if ! "$PY" -c 'import pytest' >/dev/null 2>&1; then
    echo "deps: installing pytest for $PY (test-only)"
    "$PY" -m pip install -q pytest
fi
