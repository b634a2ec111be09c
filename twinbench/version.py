"""The installed distribution's version (recorded in provenance and results)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twinbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
