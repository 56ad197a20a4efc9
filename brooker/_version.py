"""The package version, read without importing anything heavy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("brooker")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
