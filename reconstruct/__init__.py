"""reconstruct: from a phone video or photos of a real table to an environment package."""

from reconstruct.align import AlignConfig, KnownDistance
from reconstruct.errors import ReconstructError
from reconstruct.frames import FramesConfig
from reconstruct.sfm import SfmConfig
from reconstruct.stage import Stage, StageContext
from reconstruct.stages import PIPELINE, StageResult, run_pipeline

__all__ = [
    "PIPELINE",
    "AlignConfig",
    "FramesConfig",
    "KnownDistance",
    "ReconstructError",
    "SfmConfig",
    "Stage",
    "StageContext",
    "StageResult",
    "run_pipeline",
]
