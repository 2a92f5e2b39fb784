"""Fixtures for pyprof's end-to-end tests.

* `interp`: parametrized over every interpreter under test: pyenv's 3.8 ... 3.13
  (highest patch of each), Debian's 3.14.10, 3.14.8, 3.15.2 and 3.15.0 from the
  interpreter cache (`make interpreters`; PYPROF_INTERP_CACHE) and Debian's
  /usr/bin/python3. Ids: py3.8 ... py3.13, py3.14.10 ..., system3.11. An absent
  interpreter is a skip; nothing else skips.
* `any_interp`: one supported interpreter, for tests that are not per-version (session scope).
* `python37`: pyenv's 3.7 (unsupported by pyprof), skip when absent.
* every test gets its children reaped afterwards, even when it fails.

The plain helpers (run_pyprof, record_launch, record_attach, parse_collapsed,
frame_func, ...) live in pyprof_e2e.py.
"""
import pytest

import pyprof_e2e as e2e

_INTERPRETERS = e2e.discover_interpreters()


def _interp_params():
    params = []
    for pid, interp in _INTERPRETERS:
        marks = () if interp else pytest.mark.skip(reason="interpreter %s is not installed" % pid)
        params.append(pytest.param(interp, id=pid, marks=marks))
    return params


@pytest.fixture(params=_interp_params())
def interp(request) -> e2e.Interpreter:
    """Each interpreter under test, in turn."""
    return request.param


@pytest.fixture(scope="session")
def any_interp() -> e2e.Interpreter:
    """One supported interpreter (the system python3 if present, else the newest); session-wide,
    so that module-scoped fixtures may use it too."""
    interp = e2e.one_of([i for _, i in _INTERPRETERS if i])
    if interp is None:
        pytest.fail("no supported Python interpreter found (pyenv 3.8-3.13 or /usr/bin/python3)")
    return interp


@pytest.fixture
def python37() -> e2e.Interpreter:
    interp = e2e.find_pyenv_python(7)
    if interp is None:
        pytest.skip("pyenv Python 3.7 is not installed")
    return interp


@pytest.fixture(autouse=True)
def _reap_children():
    """Kill every process a test started (and what pyprof launched), pass or fail."""
    e2e.begin_test()
    yield
    e2e.reap_children()


def pytest_report_header(config):
    lines = ["pyprof e2e interpreters:"]
    for pid, interp in _INTERPRETERS:
        lines.append("  %-11s %s" % (pid, interp.path if interp else "(absent: skipped)"))
    return lines
