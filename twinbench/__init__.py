"""twinbench: the ground every package stands on (errors, registries, version).

The ``twinbench`` command lives in :mod:`twinbench_cli`, the top layer, which nothing imports.
"""

from twinbench.errors import TwinbenchError
from twinbench.version import __version__

__all__ = ["TwinbenchError", "__version__"]
