"""evaluate's user errors."""

from twinbench.errors import TwinbenchError


class EvaluateError(TwinbenchError):
    """A policy spec, a results store, a CSV or a run directory that evaluate cannot use."""
