"""Build pyprof: the Python package plus the pyprof-sampler binary.

The sampler is built by the top-level Makefile (``make sampler`` writes
``build/pyprof-sampler``) and shipped as package data in ``pyprof/_bin/``,
so the wheel is platform-specific.
"""

import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLER = "pyprof-sampler"


def read_version():
    """Return ``__version__`` from pyprof/__init__.py without importing it."""
    with open(os.path.join(HERE, "pyprof", "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


class BuildPyWithSampler(build_py):
    """build_py that also runs ``make sampler`` and copies the binary into the package."""

    def run(self):
        super().run()
        subprocess.check_call(["make", "-C", HERE, "sampler"])
        target_dir = os.path.join(self.build_lib, "pyprof", "_bin")
        self.mkpath(target_dir)
        target = os.path.join(target_dir, SAMPLER)
        shutil.copyfile(os.path.join(HERE, "build", SAMPLER), target)
        os.chmod(target, 0o755)


class BinaryDistribution(Distribution):
    """A distribution with a native binary: the wheel gets a platform tag."""

    def has_ext_modules(self):
        return True


setup(
    name="pyprof",
    version=read_version(),
    description="Sampling profiler for Python with merged Python and native stacks",
    packages=["pyprof"],
    python_requires=">=3.8",
    entry_points={"console_scripts": ["pyprof = pyprof.__main__:console_main"]},
    cmdclass={"build_py": BuildPyWithSampler},
    distclass=BinaryDistribution,
    zip_safe=False,
)
