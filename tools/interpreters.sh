#!/usr/bin/env bash
# Provisions the CPython interpreters that pyprof's tests need beyond pyenv's
# 3.8-3.13, into a cache outside the clone, and writes CACHE/interpreters.txt
# ("ID PATH" lines) that the test suite reads.  Idempotent: an entry point that
# passes the smoke test is reused; only what is missing is fetched or built.
#
#   py3.14.10 py3.14.8 py3.15.2 py3.15.0
#       Debian's sid/forky binary packages (interpreter, libpython, stdlib,
#       -dev headers, venv) and the sid/forky libraries they need (libc6 >= 2.38,
#       libssl3t64, libexpat1, ...), downloaded through an isolated apt
#       configuration (CACHE/apt: own sources list, lists, archives and an empty
#       dpkg status; the system's apt state is never touched, nothing is
#       installed into the system), unpacked with dpkg -x into one private root
#       per version, and patchelf'ed onto that root's loader and libraries.
#       3.14.x also gets CACHE/VER/venv with gunicorn + flask from PyPI.
#   py3.13t
#       free-threaded 3.13 built from the upstream tarball inside Debian's
#       python3.13 source package (configure --disable-gil --enable-shared).
#
# Usage: tools/interpreters.sh [ID...]       (default: all of the above)
# Env:   PYPROF_INTERP_CACHE   the cache (default ~/.cache/pyprof/interpreters)
#        PYPROF_313T_VERSION   the 3.13 source version to build (default 3.13.15)
#        PYPROF_INTERP_VENV=0  skip the gunicorn/flask venvs
# Exit status: 0 when every requested interpreter is usable, 1 otherwise
# (each failure is said on its own line and in the summary table).
set -u
set -o pipefail

HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE=${PYPROF_INTERP_CACHE:-$HOME/.cache/pyprof/interpreters}
V313T=${PYPROF_313T_VERSION:-3.13.15}
# py3.X.Y: Debian's binary packages of that patch release; py3.13t: the source build.
# The newest patch releases first (the ones the decoding work is checked on first).
ALL_IDS="py3.14.10 py3.15.2 py3.14.8 py3.15.0 py3.13t"
SUITES="sid forky"                             # where Debian serves 3.14/3.15 builds
ARCH=amd64
MULTIARCH=x86_64-linux-gnu

say() { echo "interpreters: $*"; }
die() { echo "interpreters: error: $*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is provisioned (this is $(uname -m))"
mkdir -p "$CACHE" "$CACHE/logs" || die "cannot create $CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
APTDIR=$CACHE/apt
export APT_CONFIG=$APTDIR/apt.conf

# one provisioning at a time per cache (several clones may run make deps at once)
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    say "another provisioning holds $CACHE/.lock; waiting for it"
    flock 9 || die "cannot lock $CACHE/.lock"
fi

# ---------------------------------------------------------------- smoke test
# A threaded script that imports the extension modules the tests use.
SMOKE='
import sys, threading, ssl, zlib, ctypes, sqlite3, json, _decimal, hashlib, lzma, bz2
import socket, select, unicodedata, _asyncio, datetime, struct, array, math, pyexpat
want, ft = sys.argv[1], sys.argv[2] == "1"
got = "%d.%d.%d" % sys.version_info[:3]
assert got == want, "version %s, want %s" % (got, want)
if ft:
    assert not sys._is_gil_enabled(), "the GIL is enabled"
out = []
ts = [threading.Thread(target=lambda i=i: out.append(sum(range(i * 1000))), name="t%d" % i)
      for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
assert len(out) == 4
ssl.create_default_context(); zlib.compress(b"x" * 100); hashlib.sha256(b"x").hexdigest()
db = sqlite3.connect(":memory:"); assert db.execute("select 1").fetchone() == (1,)
ctypes.CDLL(None); json.dumps({"a": [1]}); lzma.compress(b"x"); bz2.compress(b"x")
print(sys.version.split()[0], "ok")
'
# runs PATH VERSION FT: the entry point runs the smoke test (once per run)
declare -A RAN
runs() {
    local key="$1 $2 $3"
    if [ -z "${RAN[$key]:-}" ]; then
        if [ -x "$1" ] && timeout 120 "$1" -c "$SMOKE" "$2" "$3" >/dev/null 2>&1; then
            RAN[$key]=0; else RAN[$key]=1; fi
    fi
    return "${RAN[$key]}"
}
# has_venv DIR: DIR/bin/python imports gunicorn and flask (once per run)
declare -A VENV
has_venv() {
    if [ -z "${VENV[$1]:-}" ]; then
        if [ -x "$1/bin/python" ] && timeout 120 "$1/bin/python" -c 'import gunicorn, flask' >/dev/null 2>&1; then
            VENV[$1]=0; else VENV[$1]=1; fi
    fi
    return "${VENV[$1]}"
}

manifest_line() {   # ID -> "ID PATH" when its entry point runs
    local id=$1 ver path ft=0
    case $id in
        py3.13t) ver=$(cat "$CACHE/3.13t/VERSION" 2>/dev/null) || return 1
                 path=$CACHE/3.13t/bin/python3.13t; ft=1 ;;
        py3.*)   ver=${id#py}; path=$CACHE/$ver/bin/python${ver%.*} ;;
        *) return 1 ;;
    esac
    runs "$path" "$ver" "$ft" && echo "$id $path"
}

# ---------------------------------------------------------------- isolated apt
# The mirror comes from the system's own sources (deb822 .sources or
# sources.list), the first Debian archive that is not the security one.
system_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uris = ""; suites = ""; types = "";
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^URIs:/) uris = substr($i, 6)
                   if ($i ~ /^Suites:/) suites = substr($i, 8)
                   if ($i ~ /^Types:/) types = substr($i, 7)
               }
               if (types ~ /deb/ && suites !~ /security/ && suites ~ /[a-z]/) {
                   n = split(uris, u, " ")
                   for (j = 1; j <= n; j++) if (u[j] ~ /\/debian\/?$/) { print u[j]; exit }
               } }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $2 ~ /\/debian\/?$/ && $3 !~ /security/ { print $2 }'
    done
}

apt_setup() {
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg s
    mirror=$(system_mirror | head -1)
    [ -n "$mirror" ] || { say "error: no Debian mirror found in /etc/apt/sources.list{,.d}"; return 1; }
    [ -f "$keyring" ] || { say "error: $keyring is missing (package debian-archive-keyring)"; return 1; }
    mkdir -p "$APTDIR"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,lists/partial,archives/partial,cache,dpkg}
    [ -f "$APTDIR/dpkg/status" ] || : >"$APTDIR/dpkg/status"
    {
        for s in $SUITES; do
            echo "deb [arch=$ARCH signed-by=$keyring] $mirror $s main"
            echo "deb-src [signed-by=$keyring] $mirror $s main"
        done
    } >"$APTDIR/etc/sources.list.new"
    # the mirror serves a frozen archive whose Release files are past Valid-Until:
    # signatures are still checked, the expiry is not
    cat >"$APTDIR/apt.conf.new" <<EOF
Dir::Etc "$APTDIR/etc";
Dir::Etc::sourcelist "$APTDIR/etc/sources.list";
Dir::Etc::sourceparts "$APTDIR/etc/sources.list.d";
Dir::Etc::parts "$APTDIR/etc/apt.conf.d";
Dir::Etc::preferences "$APTDIR/etc/preferences";
Dir::Etc::preferencesparts "$APTDIR/etc/preferences.d";
Dir::State "$APTDIR";
Dir::State::lists "$APTDIR/lists";
Dir::State::status "$APTDIR/dpkg/status";
Dir::Cache "$APTDIR/cache";
Dir::Cache::archives "$APTDIR/archives";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Get::List-Cleanup "true";
APT::Sandbox::User "root";
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
EOF
    if ! cmp -s "$APTDIR/apt.conf.new" "$APTDIR/apt.conf" ||
       ! cmp -s "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"; then
        mv "$APTDIR/apt.conf.new" "$APTDIR/apt.conf"
        mv "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"
        rm -f "$APTDIR/lists/"*_Packages* "$APTDIR/lists/"*_Sources* "$APTDIR"/cache/*.bin
    else
        rm -f "$APTDIR/apt.conf.new" "$APTDIR/etc/sources.list.new"
    fi
    APT_MIRROR=$mirror
}

APT_UPDATED=0
apt_update() {
    [ "$APT_UPDATED" = 1 ] && return 0
    say "apt (isolated, $APTDIR): updating the $SUITES lists from $APT_MIRROR"
    if apt-get -q update >"$CACHE/logs/apt-update.log" 2>&1 &&
       ! grep -q '^[EW]:' "$CACHE/logs/apt-update.log"; then
        APT_UPDATED=1
        return 0
    fi
    grep '^[EW]:' "$CACHE/logs/apt-update.log" | sed 's/^/interpreters:   /'
    say "error: apt-get update of the isolated lists failed ($CACHE/logs/apt-update.log)"
    return 1
}
apt_ready() {   # lists present (and updated once if they are not)
    if ! ls "$APTDIR/lists/"*_Packages* >/dev/null 2>&1 ||
       ! ls "$APTDIR/lists/"*_Sources* >/dev/null 2>&1; then
        apt_update || return 1
    fi
    return 0
}

# deb_version PKG UPSTREAM -> "DEBVERSION SUITE" of the binary package, or nothing
deb_version() {
    apt-cache madison "$1" 2>/dev/null |
        awk -F'|' -v up="$2" -v pkg="$1" '
            { gsub(/ /, "", $1); gsub(/ /, "", $2) }
            $1 == pkg && $3 ~ / Packages$/ && index($2, up "-") == 1 {
                n = split($3, w, " "); split(w[2], s, "/"); print $2, s[1]; exit }'
}

# ---------------------------------------------------------------- Debian binaries
patch_elf_tree() {   # ROOT MINOR: point every ELF object at the root's loader and libraries
    local root=$1 minor=$2 loader rpath f n=0
    loader=$root/usr/lib/$MULTIARCH/ld-linux-x86-64.so.2
    [ -e "$loader" ] || loader=$root/lib/$MULTIARCH/ld-linux-x86-64.so.2
    [ -e "$loader" ] || { say "error: no ld-linux-x86-64.so.2 in $root" >&2; return 1; }
    rpath=$root/usr/lib/$MULTIARCH:$root/lib/$MULTIARCH
    patchelf --set-interpreter "$loader" --set-rpath "$rpath" "$root/usr/bin/python$minor" || return 1
    # every shared object that asks for other libraries, except glibc's own
    # loader and libc (already mapped by the time anything needs them)
    while IFS= read -r -d '' f; do
        case ${f##*/} in ld-linux*|libc.so.6) continue ;; esac
        [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        readelf -d "$f" 2>/dev/null | grep -q '(NEEDED)' || continue
        patchelf --set-rpath "$rpath" "$f" || { say "error: patchelf failed on $f" >&2; return 1; }
        n=$((n + 1))
    done < <(find "$root/usr/lib" "$root/lib" -type f -name '*.so*' -print0 2>/dev/null)
    echo "$n"
}

deb_file() {   # PKG=VER -> the .deb apt-get download wrote for it (epoch ':' as %3a)
    local pkg=${1%%=*} v=${1#*=} f
    for f in "$CACHE/debs/${pkg}_${v//:/%3a}_"*.deb; do [ -s "$f" ] && echo "$f" && return 0; done
    return 1
}

provision_deb() {   # VERSION (e.g. 3.14.10)
    local ver=$1 minor=${1%.*} id=py$1 dv suite pkgs dir root p f want missing n
    dir=$CACHE/$ver
    root=$dir/root
    if runs "$dir/bin/python$minor" "$ver" 0; then
        say "$id: reusing $dir/bin/python$minor"
        [ -e "$dir/lib" ] || ln -s root/usr/lib "$dir/lib"
        touch "$CACHE/READY-$id"
        return 0
    fi
    apt_ready || return 1
    read -r dv suite <<<"$(deb_version "python$minor" "$ver")"
    if [ -z "${dv:-}" ]; then
        apt_update || return 1      # the lists may predate the release: once more
        read -r dv suite <<<"$(deb_version "python$minor" "$ver")"
    fi
    if [ -z "${dv:-}" ]; then
        say "error: $id: the mirror ($APT_MIRROR, suites: $SUITES) serves no python$minor $ver;" \
            "it serves: $(apt-cache madison "python$minor" | awk -F'|' '$3 ~ /Packages/ {gsub(/ /,"",$2); printf "%s ", $2}')"
        return 1
    fi
    # the dependency closure, resolved in the version's own suite against an
    # empty dpkg status: every library comes from that suite, none from the system
    pkgs="python$minor=$dv python$minor-minimal=$dv libpython$minor-stdlib=$dv libpython$minor=$dv"
    pkgs="$pkgs python$minor-dev=$dv libpython$minor-dev=$dv python$minor-venv=$dv"
    # shellcheck disable=SC2086
    want=$(apt-get install -s -q --no-install-recommends -t "$suite" $pkgs 2>"$CACHE/logs/$id-resolve.log" |
        awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2 "=" v }') || true
    if [ -z "$want" ]; then
        sed 's/^/interpreters:   /' "$CACHE/logs/$id-resolve.log"
        say "error: $id: apt cannot resolve python$minor $dv from $suite (see above)"
        return 1
    fi
    # only the files not already downloaded (the cache keeps them for re-unpacking)
    mkdir -p "$CACHE/debs"
    missing=""
    for p in $want; do
        [ -n "$(deb_file "$p")" ] || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "$id: downloading $(echo "$missing" | wc -w | tr -d ' ') packages of python$minor $dv ($suite) and its libraries"
        # shellcheck disable=SC2086
        (cd "$CACHE/debs" && apt-get download -q $missing) >"$CACHE/logs/$id-download.log" 2>&1 || {
            tail -5 "$CACHE/logs/$id-download.log" | sed 's/^/interpreters:   /'
            say "error: $id: the mirror does not serve all of:$missing ($CACHE/logs/$id-download.log)"
            return 1
        }
    fi
    say "$id: unpacking $(echo "$want" | wc -l | tr -d ' ') packages into $root"
    rm -rf "$dir" "$CACHE/READY-$id"
    mkdir -p "$root" "$dir/bin"
    for p in $want; do
        f=$(deb_file "$p")
        dpkg -x "$f" "$root" || { say "error: $id: dpkg -x $f failed"; return 1; }
    done
    # Debian's pyconfig.h is a wrapper that includes the multiarch one from
    # <x86_64-linux-gnu/python3.X/pyconfig.h>: make -I include/python3.X enough
    if [ -f "$root/usr/include/$MULTIARCH/python$minor/pyconfig.h" ]; then
        cp "$root/usr/include/$MULTIARCH/python$minor/pyconfig.h" "$root/usr/include/python$minor/pyconfig.h"
    fi
    n=$(patch_elf_tree "$root" "$minor") || return 1
    say "$id: patchelf: python$minor and $n shared objects now use $root's loader and libraries"
    ln -s "../root/usr/bin/python$minor" "$dir/bin/python$minor"
    # a venv's pyvenv.cfg says home = DIR/bin, and its python looks for the
    # stdlib in DIR/lib/python3.X
    ln -s root/usr/lib "$dir/lib"
    echo "$dv $suite" >"$dir/DEBIAN-VERSION"
    if ! timeout 120 "$dir/bin/python$minor" -c "$SMOKE" "$ver" 0 >"$CACHE/logs/$id-smoke.log" 2>&1; then
        tail -5 "$CACHE/logs/$id-smoke.log" | sed 's/^/interpreters:   /'
        say "error: $id: the unpacked interpreter fails its smoke test"
        return 1
    fi
    RAN["$dir/bin/python$minor $ver 0"]=0
    say "$id: ready: $dir/bin/python$minor ($dv from $suite)"
    touch "$CACHE/READY-$id"
}

# gunicorn + flask from PyPI in CACHE/VER/venv (tests/e2e/test_gunicorn.py)
provision_venv() {
    local ver=$1 minor=${1%.*} id=py$1 dir venv whl
    dir=$CACHE/$ver
    venv=$dir/venv
    [ "${PYPROF_INTERP_VENV:-1}" = 0 ] && return 0
    if has_venv "$venv"; then
        say "$id: reusing $venv (gunicorn, flask)"
        return 0
    fi
    say "$id: creating $venv with gunicorn and flask from PyPI"
    rm -rf "$venv"
    {
        # Debian's ensurepip looks for its wheels in WHEEL_PKG_DIR, the absolute
        # /usr/share/python-wheels, which is in the private root here: pip from that wheel
        "$dir/bin/python$minor" -m venv --without-pip "$venv" &&
        whl=$(ls "$dir"/root/usr/share/python-wheels/pip-*.whl | head -1) &&
        "$venv/bin/python" "$whl/pip" install -q --no-index --disable-pip-version-check "$whl" &&
        "$venv/bin/python" -m pip install -q --disable-pip-version-check gunicorn flask
    } >"$CACHE/logs/$id-venv.log" 2>&1 || {
        tail -5 "$CACHE/logs/$id-venv.log" | sed 's/^/interpreters:   /'
        say "error: $id: the venv with gunicorn and flask failed ($CACHE/logs/$id-venv.log)"
        return 1
    }
    unset "VENV[$venv]"
    has_venv "$venv" || { say "error: $id: $venv does not import gunicorn and flask"; return 1; }
}

# ---------------------------------------------------------------- 3.13t from source
BUILD_PKGS="gcc make pkg-config libssl-dev zlib1g-dev libffi-dev libsqlite3-dev libbz2-dev liblzma-dev
            libreadline-dev libncurses-dev libgdbm-dev uuid-dev xz-utils"

provision_313t() {
    local id=py3.13t dir=$CACHE/3.13t src need="" p dsc dv tarball top t0 jobs
    if runs "$dir/bin/python3.13t" "$(cat "$dir/VERSION" 2>/dev/null)" 1; then
        say "$id: reusing $dir/bin/python3.13t ($(cat "$dir/VERSION"))"
        touch "$CACHE/READY-$id"
        return 0
    fi
    for p in $BUILD_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
    if [ -n "$need" ]; then
        say "$id: installing build dependencies from the system's own suites:$need"
        # the system's apt, not the isolated one
        # shellcheck disable=SC2086
        { env -u APT_CONFIG apt-get update -qq &&
          DEBIAN_FRONTEND=noninteractive env -u APT_CONFIG apt-get install -y -qq $need; } \
            >"$CACHE/logs/$id-builddeps.log" 2>&1 || {
            tail -5 "$CACHE/logs/$id-builddeps.log" | sed 's/^/interpreters:   /'
            say "error: $id: cannot install the build dependencies"
            return 1
        }
    fi
    apt_ready || return 1
    src=$CACHE/src
    mkdir -p "$src"
    tarball=$(ls "$src"/python3.13_"$V313T".orig.tar.* 2>/dev/null | head -1)
    if [ -z "$tarball" ]; then
        dv=$(apt-cache showsrc python3.13 2>/dev/null |
             awk -v up="$V313T" '$1 == "Version:" && index($2, up "-") == 1 { print $2; exit }')
        if [ -z "$dv" ]; then
            say "error: $id: the mirror serves no python3.13 $V313T source package; it serves:" \
                "$(apt-cache showsrc python3.13 | awk '$1 == "Version:" { printf "%s ", $2 }')" \
                "(set PYPROF_313T_VERSION)"
            return 1
        fi
        say "$id: downloading Debian's python3.13 $dv source package (upstream tarball inside)"
        (cd "$src" && apt-get source -q --download-only "python3.13=$dv") >"$CACHE/logs/$id-source.log" 2>&1 || {
            tail -5 "$CACHE/logs/$id-source.log" | sed 's/^/interpreters:   /'
            say "error: $id: apt-get source python3.13=$dv failed"
            return 1
        }
        tarball=$(ls "$src"/python3.13_"$V313T".orig.tar.* 2>/dev/null | head -1)
        [ -n "$tarball" ] || { say "error: $id: no python3.13_$V313T.orig.tar.* in the source package"; return 1; }
    fi
    rm -rf "$dir" "$CACHE/build-3.13t" "$CACHE/READY-$id"
    mkdir -p "$CACHE/build-3.13t"
    tar -xf "$tarball" -C "$CACHE/build-3.13t" || { say "error: $id: cannot unpack $tarball"; return 1; }
    top=$(ls -d "$CACHE"/build-3.13t/Python-* | head -1)
    jobs=$(nproc 2>/dev/null || echo 2)
    t0=$(date +%s)
    say "$id: building CPython $V313T --disable-gil --enable-shared into $dir (make -j$jobs, a few minutes; log $CACHE/logs/$id-build.log)"
    (
        cd "$top" &&
        ./configure -q --disable-gil --enable-shared --prefix="$dir" --with-ensurepip=no \
            --disable-test-modules LDFLAGS="-Wl,-rpath,$dir/lib" &&
        make -s -j"$jobs" &&
        make -s install
    ) >"$CACHE/logs/$id-build.log" 2>&1 || {
        tail -15 "$CACHE/logs/$id-build.log" | sed 's/^/interpreters:   /'
        say "error: $id: the build failed ($CACHE/logs/$id-build.log)"
        return 1
    }
    echo "$V313T" >"$dir/VERSION"
    rm -rf "$CACHE/build-3.13t"
    if ! timeout 120 "$dir/bin/python3.13t" -c "$SMOKE" "$V313T" 1 >"$CACHE/logs/$id-smoke.log" 2>&1; then
        tail -5 "$CACHE/logs/$id-smoke.log" | sed 's/^/interpreters:   /'
        say "error: $id: the built interpreter fails its smoke test"
        return 1
    fi
    RAN["$dir/bin/python3.13t $V313T 1"]=0
    say "$id: ready: $dir/bin/python3.13t (built in $(( $(date +%s) - t0 )) s)"
    touch "$CACHE/READY-$id"
}

# ---------------------------------------------------------------- main
IDS=${*:-$ALL_IDS}
for id in $IDS; do
    case " $ALL_IDS " in *" $id "*) ;; *) die "unknown interpreter $id (known: $ALL_IDS)" ;; esac
done
for tool in patchelf dpkg apt-get apt-cache readelf flock timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (tools/deps.sh installs it)"
done
apt_setup || die "no isolated apt configuration"

T_START=$(date +%s)
declare -A STATUS TIME
for id in $IDS; do
    t0=$(date +%s)
    case $id in
        py3.13t) provision_313t && st=ok || st=FAILED ;;
        *)  st=ok
            provision_deb "${id#py}" || st=FAILED
            if [ "$st" = ok ] && [ "${id#py3.14}" != "$id" ]; then
                provision_venv "${id#py}" || st="ok (venv FAILED)"
            fi ;;
    esac
    STATUS[$id]=$st
    TIME[$id]=$(( $(date +%s) - t0 ))
done

# the manifest lists every interpreter that runs, requested this time or not
{
    for id in $ALL_IDS; do manifest_line "$id"; done
    for id in $ALL_IDS; do
        v=$CACHE/${id#py}/venv/bin/python
        has_venv "${v%/bin/python}" && echo "venv-$id $v"
    done
} >"$CACHE/interpreters.txt.new"
mv "$CACHE/interpreters.txt.new" "$CACHE/interpreters.txt"

rc=0
say "summary ($(( $(date +%s) - T_START )) s in all; manifest $CACHE/interpreters.txt):"
printf 'interpreters:   %-10s %-18s %6s  %s\n' ID STATUS SECONDS "ENTRY POINT"
for id in $IDS; do
    path=$(awk -v id="$id" '$1 == id { print $2 }' "$CACHE/interpreters.txt")
    printf 'interpreters:   %-10s %-18s %6s  %s\n' "$id" "${STATUS[$id]}" "${TIME[$id]}" "${path:--}"
    case ${STATUS[$id]} in ok) ;; *) rc=1 ;; esac
done
exit $rc
