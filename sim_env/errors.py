"""sim_env's user errors."""

from twinbench.errors import TwinbenchError


class SimEnvError(TwinbenchError):
    """An environment package, a model or an action that sim_env cannot use."""


class EnvPackageError(SimEnvError):
    """An environment package on disk is invalid (names the file and field)."""


class SplatFileError(SimEnvError):
    """A Gaussian splat file is unreadable or inconsistent (names the file and field)."""
