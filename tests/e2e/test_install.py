"""Install and package (issue 12): the wheel, its tag, fresh venvs, clear build errors.

One wheel is built from a copy of the sources (``pip wheel --no-build-isolation``)
and installed into fresh, isolated venvs (as pipx makes them) of pyenv's 3.8
and 3.13 and Debian's python3; each runs ``pyprof record`` against a real
target and ``pyprof check``.  The tag must be ``py3-none-manylinux_2_X_<arch>``
with X the highest GLIBC_2.X version the sampler binary needs (objdump -T).
"""
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

import pyprof_e2e as e2e

SOURCES = ("csrc", "pyprof", "tools", "setup.py", "pyproject.toml", "Makefile", "README.md", "LICENSE",
           "CHANGELOG.md", "MANIFEST.in")
BUSY = "import time\ndef busy_function():\n    end = time.time() + 0.8\n    while time.time() < end: pass\nbusy_function()\n"


def _copy_sources(dest):
    os.makedirs(dest)
    for name in SOURCES:
        src = str(e2e.REPO / name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, name), ignore=shutil.ignore_patterns("__pycache__", "_bin"))
        else:
            shutil.copy2(src, dest)
    return dest


def _run(cmd, **kwargs):
    return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=kwargs.pop("timeout", 600), **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    top = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(str(top / "src"))
    result = _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", top / "dist", src])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = glob.glob(str(top / "dist" / "pyprof-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_tag_is_any_python_manylinux(wheel, tmp_path):
    name = os.path.basename(wheel)
    m = re.match(r"pyprof-[0-9.]+-py3-none-manylinux_2_(\d+)_%s\.whl$" % platform.machine(), name)
    assert m, "wheel tag should be py3-none-manylinux_2_X_%s: %s" % (platform.machine(), name)
    with zipfile.ZipFile(wheel) as z:
        sampler = tmp_path / "pyprof-sampler"
        sampler.write_bytes(z.read("pyprof/_bin/pyprof-sampler"))
        meta = z.read([n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]).decode()
        wheel_info = z.read([n for n in z.namelist() if n.endswith(".dist-info/WHEEL")][0]).decode()
        assert any(n.endswith(".dist-info/LICENSE") or "licenses/LICENSE" in n for n in z.namelist())
    assert "Root-Is-Purelib: false" in wheel_info
    # the glibc in the tag is the one the binary needs
    symbols = _run(["objdump", "-T", sampler]).stdout
    needed = max(int(v) for v in re.findall(r"GLIBC_2\.(\d+)", symbols))
    assert int(m.group(1)) == needed, (name, needed)
    # full metadata: licence, Python versions, the README as description, URLs
    for field in ("License: MIT", "Requires-Python: >=3.8", "Classifier: Programming Language :: Python :: 3.13",
                  "Project-URL: Source", "Description-Content-Type: text/markdown", "pyprof record"):
        assert field in meta, field


def _interpreters():
    found = []
    for minor in (8, 13):
        interp = e2e.find_pyenv_python(minor)
        found.append(pytest.param(interp.path if interp else None, id="py3.%d" % minor,
                                  marks=() if interp else pytest.mark.skip(reason="no pyenv 3.%d" % minor)))
    system = str(e2e.SYSTEM_PYTHON)
    found.append(pytest.param(system, id="debian-python3",
                              marks=() if os.path.exists(system) else pytest.mark.skip(reason="no /usr/bin/python3")))
    return found


@pytest.mark.parametrize("python", _interpreters())
def test_wheel_installs_and_records_in_a_fresh_venv(python, wheel, tmp_path):
    # GIVEN a fresh isolated venv (what pipx makes: Debian's python3 refuses a plain pip install)
    venv = tmp_path / "venv"
    made = _run([python, "-m", "venv", venv])
    assert made.returncode == 0, made.stderr
    installed = _run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-deps", wheel])
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    pyprof = venv / "bin" / "pyprof"
    assert pyprof.exists()
    # WHEN its pyprof records a Python program run by that venv's interpreter
    script = tmp_path / "busy.py"
    script.write_text(BUSY)
    out = tmp_path / "out.txt"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYPROF_SAMPLER", None)
    result = _run([pyprof, "record", "-r", "200", "-o", out, venv / "bin" / "python", script], cwd=str(tmp_path),
                  env=env)
    # THEN the installed sampler profiled it
    assert result.returncode == 0, result.stderr
    assert "busy_function" in out.read_text(), out.read_text()
    check = _run([pyprof, "check"], cwd=str(tmp_path), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "site-packages/pyprof/_bin/pyprof-sampler" in check.stdout, check.stdout
    # ... and the wheel carries the BPF capture program (built where clang is, as here)
    assert "ok    bpf capture (--native)" in check.stdout, check.stdout


def test_build_errors_are_one_clear_line(tmp_path):
    src = _copy_sources(str(tmp_path / "src"))
    # without a C compiler
    env = dict(os.environ, CC="no-such-cc")
    result = _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", tmp_path / "d", src],
                  env=env)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "pyprof: error: no C compiler ('no-such-cc')" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    # without setuptools (a fresh 3.13 venv has none), --no-build-isolation
    py313 = e2e.find_pyenv_python(13)
    if py313 is None:
        return
    venv = tmp_path / "bare"
    assert _run([py313.path, "-m", "venv", venv]).returncode == 0
    result = _run([venv / "bin" / "python", "-m", "pip", "install", "--no-index", "--no-build-isolation", src])
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "pyprof: error: building pyprof needs setuptools" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


def test_auditwheel_agrees_with_the_tag(wheel, tmp_path):
    """auditwheel (from PyPI, when it installs here) reads the same platform tag."""
    venv = tmp_path / "aw"
    assert _run([sys.executable, "-m", "venv", venv]).returncode == 0
    if _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "auditwheel"]).returncode != 0:
        pytest.skip("auditwheel could not be installed from PyPI (the objdump check above still ran)")
    shown = _run([venv / "bin" / "auditwheel", "show", wheel])
    assert shown.returncode == 0, shown.stdout + shown.stderr
    tag = re.search(r"(manylinux_2_\d+_\w+)\.whl$", wheel).group(1)
    assert 'consistent with the\nfollowing platform tag: "%s"' % tag in shown.stdout or \
        'following platform tag: "%s"' % tag in " ".join(shown.stdout.split()), shown.stdout
