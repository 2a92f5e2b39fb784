"""Locate the ``pyprof-sampler`` binary that does the actual sampling."""

import os

SAMPLER_NAME = "pyprof-sampler"
ENV_VAR = "PYPROF_SAMPLER"

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class SamplerNotFoundError(Exception):
    """No usable sampler binary was found."""

    hint = "run 'make' in the source tree or reinstall with 'pip install .'"


def candidate_paths():
    """Return the places searched for the sampler, in order.

    ``$PYPROF_SAMPLER`` when set (and then only it), else the copy installed
    as package data, else ``build/`` of a source checkout.
    """
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return [explicit]
    return [
        os.path.join(_PACKAGE_DIR, "_bin", SAMPLER_NAME),
        os.path.join(os.path.dirname(_PACKAGE_DIR), "build", SAMPLER_NAME),
    ]


def find_sampler():
    """Return the path of the sampler binary or raise :class:`SamplerNotFoundError`."""
    paths = candidate_paths()
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    if os.environ.get(ENV_VAR):
        raise SamplerNotFoundError("%s=%s is not an executable file" % (ENV_VAR, paths[0]))
    raise SamplerNotFoundError("the sampler binary was not found")
