"""Build the test C extension (tests/native/cbext.c) for one interpreter.

    python3 tests/native/build_ext.py PYTHON [OUT_DIR]

prints the directory that holds `cbext<EXT_SUFFIX>` (import it with that directory
on sys.path). As a module: build(python) -> directory.

The extension is compiled as the issue asks, `gcc -shared -fPIC -O2
-fomit-frame-pointer -g`, so that the unwinder has to use DWARF CFI (no frame
pointers to fall back on). Builds are cached under $TMPDIR/pyprof-cbext/ by
(interpreter, its version and include dir, source hash): a rebuild happens only
when cbext.c or the interpreter changes.

A missing compiler or missing Python headers is an error naming what to install
(never a skip): python3-dev for Debian's /usr/bin/python3, a pyenv build with
headers otherwise.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "cbext.c")
CFLAGS = ["-shared", "-fPIC", "-O2", "-fomit-frame-pointer", "-g", "-pthread"]

_QUERY = ("import json, sys, sysconfig; print(json.dumps({"
          "'include': sysconfig.get_paths()['include'], "
          "'suffix': sysconfig.get_config_var('EXT_SUFFIX'), "
          "'version': '%d.%d.%d' % sys.version_info[:3]}))")


class BuildError(RuntimeError):
    """The extension could not be built (message says what is missing)."""


def _compiler():
    for cc in (os.environ.get("CC"), "gcc", "cc"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    raise BuildError("no C compiler found (gcc/cc): install gcc "
                     "(Debian: apt-get install gcc libc6-dev; `make deps` does it)")


def interpreter_config(python):
    """{include, suffix, version} of an interpreter, asked from the interpreter itself."""
    try:
        out = subprocess.run([python, "-c", _QUERY], capture_output=True, text=True,
                             timeout=60)
    except OSError as e:
        raise BuildError("cannot run %s: %s" % (python, e))
    if out.returncode != 0:
        raise BuildError("%s could not report its sysconfig:\n%s" % (python, out.stderr))
    return json.loads(out.stdout)


def _headers_hint(python, include):
    if os.path.realpath(python).startswith("/usr/bin/"):
        return ("Python.h not found in %s for %s: install the Debian package python3-dev "
                "(python3.X-dev; `make deps` installs it)" % (include, python))
    return ("Python.h not found in %s for %s: this interpreter was installed without "
            "its development headers (rebuild it, e.g. `pyenv install` again)"
            % (include, python))


def build(python, out_root=None):
    """Build cbext for `python` (cached); return the directory holding the module."""
    cfg = interpreter_config(python)
    include = cfg["include"]
    if not os.path.isfile(os.path.join(include, "Python.h")):
        raise BuildError(_headers_hint(python, include))
    cc = _compiler()
    with open(SOURCE, "rb") as f:
        source = f.read()
    key = hashlib.sha256(b"\0".join([
        source, os.path.realpath(python).encode(), cfg["version"].encode(),
        include.encode(), cfg["suffix"].encode(), " ".join(CFLAGS).encode(),
        cc.encode()])).hexdigest()[:16]
    out_root = out_root or os.path.join(tempfile.gettempdir(), "pyprof-cbext")
    out_dir = os.path.join(out_root, "%s-%s" % (cfg["version"], key))
    target = os.path.join(out_dir, "cbext" + cfg["suffix"])
    if os.path.isfile(target):
        return out_dir
    os.makedirs(out_root, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix="build-", dir=out_root)
    try:
        cmd = [cc, *CFLAGS, "-I" + include, SOURCE, "-o",
               os.path.join(tmp_dir, "cbext" + cfg["suffix"])]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise BuildError("building the test extension failed:\n%s\n%s%s"
                             % (" ".join(cmd), res.stdout, res.stderr))
        try:
            os.rename(tmp_dir, out_dir)      # atomic publish; a concurrent build may win
        except OSError:
            if not os.path.isfile(target):
                raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: build_ext.py PYTHON [OUT_DIR]\n")
        return 2
    try:
        print(build(argv[1], argv[2] if len(argv) > 2 else None))
    except BuildError as e:
        sys.stderr.write("build_ext: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
