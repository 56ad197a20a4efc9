"""The package version: the one place it is written (``pyproject.toml`` reads it from here).

A literal, so that the console script does not pay for ``importlib.metadata`` (about 50 ms,
reading the installed distributions) before it begins the workers' server
(:mod:`brooker.launch`).
"""

__version__ = "0.2.0"
