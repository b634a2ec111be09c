"""cotrain's user errors."""

from twinbench.errors import TwinbenchError


class CotrainError(TwinbenchError):
    """A generation, mix or training request that cotrain cannot carry out."""


class DatasetError(CotrainError):
    """A dataset on disk breaks the LeRobot v3.0 layout (names the file and the field)."""
