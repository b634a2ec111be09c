"""reconstruct: from a phone video or photos of a real table to an environment package."""

from reconstruct.errors import ReconstructError

__all__ = ["ReconstructError"]
