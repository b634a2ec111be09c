"""LeRobot dataset format v3.0, written and read without lerobot: pyarrow for parquet, PyAV for
mp4. ``validate(dir)`` checks a dataset against the layout and names what is wrong."""

from cotrain.lerobot.layout import CODEBASE_VERSION, FileLimits
from cotrain.lerobot.reader import DatasetReader
from cotrain.lerobot.stats import image_stats
from cotrain.lerobot.validate import DatasetSummary, validate
from cotrain.lerobot.video import VideoConfig, encode_video
from cotrain.lerobot.writer import DatasetSpec, DatasetWriter, EpisodeInput

__all__ = [
    "CODEBASE_VERSION",
    "DatasetReader",
    "DatasetSpec",
    "DatasetSummary",
    "DatasetWriter",
    "EpisodeInput",
    "FileLimits",
    "VideoConfig",
    "encode_video",
    "image_stats",
    "validate",
]
