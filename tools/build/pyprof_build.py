"""pyprof's build backend: setuptools' own, with one clear line when setuptools is missing.

pip imports the backend before any of setup.py runs; without setuptools
(``pip install --no-build-isolation .`` in a bare venv) setuptools.build_meta
would fail with a long traceback.  This module says what to do instead.
"""
import sys

try:
    from setuptools import build_meta as _backend
except ImportError:
    sys.stderr.write("pyprof: error: building pyprof needs setuptools and wheel: "
                     "'python -m pip install setuptools wheel' first, or drop --no-build-isolation\n")
    raise SystemExit(1)

get_requires_for_build_wheel = _backend.get_requires_for_build_wheel
get_requires_for_build_sdist = _backend.get_requires_for_build_sdist
prepare_metadata_for_build_wheel = _backend.prepare_metadata_for_build_wheel
build_wheel = _backend.build_wheel
build_sdist = _backend.build_sdist
