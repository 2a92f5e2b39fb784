"""tools/pyimportcheck.py (``make lint``): import cycles in a package, wherever the import stands."""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO_ROOT, "tools", "pyimportcheck.py")


def make_package(tmp_path, files):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "1"\n')
    for name, text in files.items():
        (package / (name + ".py")).write_text(text)
    return str(package)


def run(package):
    return subprocess.run([sys.executable, TOOL, package], capture_output=True, text=True)


def test_a_function_level_import_that_closes_a_cycle_is_found(tmp_path):
    package = make_package(tmp_path, {
        "a": "from . import b\n",
        "b": "def f():\n    from .c import g\n    return g\n",
        "c": "import pkg.a\nfrom . import __version__\n",
    })
    proc = run(package)
    assert proc.returncode == 1
    assert "import cycle in %s: a -> b -> c -> a" % package in proc.stderr


def test_a_package_without_cycles_passes(tmp_path):
    package = make_package(tmp_path, {
        "a": "from . import b, __version__\nfrom .c import g\n",
        "b": "import os\nfrom pkg import c\n",
        "c": "def g():\n    from . import __version__\n    return __version__\n",
    })
    proc = run(package)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_pyprof_itself_has_no_import_cycle():
    proc = run(os.path.join(REPO_ROOT, "pyprof"))
    assert proc.returncode == 0, proc.stderr
