"""Build pyprof: the Python package plus the pyprof-sampler binary.

The sampler is built by the top-level Makefile (``make sampler`` writes
``build/pyprof-sampler``) and shipped as package data in ``pyprof/_bin/``.
It does not link to Python, so the wheel is ``py3-none-manylinux_2_X_<arch>``:
one wheel for every supported Python, with the glibc version the binary
really needs (read from its GLIBC_2.X symbol versions).
"""

import os
import platform
import re
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1: the wheel package's
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLER = "pyprof-sampler"
URL = "https://github.com/pyprof/pyprof"


def read_version():
    """Return ``__version__`` from pyprof/__init__.py without importing it."""
    with open(os.path.join(HERE, "pyprof", "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def read_readme():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        return f.read()


def fail(message):
    """End the build with one ``pyprof: error:`` line (no traceback)."""
    sys.stderr.write("pyprof: error: %s\n" % message)
    raise SystemExit(1)


def build_sampler():
    """Run ``make sampler`` without -Werror; one clear line when it cannot be built."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc.split()[0]):
        fail("no C compiler ('%s') to build the pyprof-sampler binary: install one "
             "(Debian: sudo apt install build-essential) and retry" % cc)
    if not shutil.which("make"):
        fail("'make' is needed to build the pyprof-sampler binary (Debian: sudo apt install make)")
    try:
        subprocess.check_call(["make", "-C", HERE, "sampler", "WERROR="])
    except subprocess.CalledProcessError as e:
        fail("building the pyprof-sampler binary failed (make exit %d): the compiler's message "
             "is above" % e.returncode)


def glibc_needed(path):
    """The highest GLIBC_2.X symbol version the ELF file *path* needs, as (2, X)."""
    with open(path, "rb") as f:
        data = f.read()
    versions = [(2, int(minor)) for minor in re.findall(rb"GLIBC_2\.(\d+)(?:\.\d+)?\x00", data)]
    return max(versions) if versions else (2, 17)


class BuildPyWithSampler(build_py):
    """build_py that also runs ``make sampler`` and copies the binary into the package."""

    def run(self):
        super().run()
        build_sampler()
        target_dir = os.path.join(self.build_lib, "pyprof", "_bin")
        self.mkpath(target_dir)
        target = os.path.join(target_dir, SAMPLER)
        shutil.copyfile(os.path.join(HERE, "build", SAMPLER), target)
        os.chmod(target, 0o755)


class BinaryDistribution(Distribution):
    """A distribution with a native binary: platlib, not purelib."""

    def has_ext_modules(self):
        return True


class BdistWheelAnyPython(bdist_wheel):
    """A platform wheel for any Python 3: py3-none-manylinux_2_X_<arch>."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        sampler = os.path.join(HERE, "build", SAMPLER)
        major, minor = glibc_needed(sampler) if os.path.exists(sampler) else (2, 17)
        return "py3", "none", "manylinux_%d_%d_%s" % (major, minor, platform.machine())


setup(
    name="pyprof",
    version=read_version(),
    description="Sampling profiler for Python on Linux: flame graphs of running processes, "
    "with their C stacks merged in (--native)",
    long_description=read_readme(),
    long_description_content_type="text/markdown",
    license="MIT",
    url=URL,
    project_urls={
        "Source": URL,
        "Documentation": URL + "/tree/main/docs",
        "Changelog": URL + "/blob/main/CHANGELOG.md",
        "Issues": URL + "/issues",
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Environment :: Console",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: MIT License",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: C",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Programming Language :: Python :: Implementation :: CPython",
        "Topic :: Software Development :: Debuggers",
        "Topic :: System :: Monitoring",
    ],
    keywords="profiler sampling flamegraph perf py-spy native",
    packages=["pyprof"],
    python_requires=">=3.8",
    entry_points={"console_scripts": ["pyprof = pyprof.__main__:console_main"]},
    cmdclass={"build_py": BuildPyWithSampler, "bdist_wheel": BdistWheelAnyPython},
    distclass=BinaryDistribution,
    zip_safe=False,
)
