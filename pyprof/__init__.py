"""pyprof: a sampling profiler that shows Python and native frames, merged."""

__version__ = "0.1.0"
