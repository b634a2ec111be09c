"""twinbench: the command line and the pieces every package shares (errors, version)."""

from twinbench.errors import TwinbenchError
from twinbench.version import __version__

__all__ = ["TwinbenchError", "__version__"]
