"""reconstruct's user errors."""

from twinbench.errors import TwinbenchError


class ReconstructError(TwinbenchError):
    """A scan that cannot become an environment package, with advice on what to change."""
