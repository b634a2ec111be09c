"""The LeRobot v3.0 on-disk layout: paths, file-size limits and the per-frame index columns.

Many episodes share one data parquet file and one mp4 per camera; ``meta/episodes`` says where
each episode lives (``data/chunk_index``, ``dataset_from_index``, ``videos/<key>/from_timestamp``
...). Files roll over to ``file-{n+1}`` past a size limit and to ``chunk-{n+1}`` after
``chunks_size`` files, exactly as LeRobot's own writer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
STAT_NAMES = ("min", "max", "mean", "std", "count")

# Columns every frame row carries, after the dataset's own features.
INDEX_FEATURES: Mapping[str, Mapping[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
VISUAL_DTYPES = ("video", "image")

# What LeRobot policies train on, by name (lerobot.datasets.utils.dataset_to_policy_features):
# the proprioceptive state and the action, each a float vector; every video or image feature is
# a camera (``observation.images.<name>`` by LeRobot's convention).
STATE_KEY = "observation.state"
ACTION_KEY = "action"
POLICY_VECTORS = (STATE_KEY, ACTION_KEY)
TIMESTAMP_TOLERANCE_S = 1e-4  # LeRobot's default tolerance between a timestamp and frame / fps


@dataclass(frozen=True)
class FileLimits:
    """When files roll over: LeRobot's defaults (1000 files per chunk, 100 MB data, 500 MB video)."""

    chunks_size: int = 1000
    data_files_size_in_mb: float = 100
    video_files_size_in_mb: float = 500


@dataclass(frozen=True)
class FileSlot:
    """Which ``chunk-XXX/file-YYY`` a file is."""

    chunk_index: int = 0
    file_index: int = 0

    def next(self, chunks_size: int) -> FileSlot:
        if self.file_index + 1 >= chunks_size:
            return FileSlot(self.chunk_index + 1, 0)
        return FileSlot(self.chunk_index, self.file_index + 1)

    def format(self, template: str, **keys: str) -> str:
        return template.format(chunk_index=self.chunk_index, file_index=self.file_index, **keys)


def video_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [key for key, ft in features.items() if ft["dtype"] == "video"]


def episode_video_columns(key: str) -> tuple[str, str, str, str]:
    """The episodes-table columns locating one episode in a camera's mp4 files."""
    prefix = f"videos/{key}/"
    return (
        prefix + "chunk_index",
        prefix + "file_index",
        prefix + "from_timestamp",
        prefix + "to_timestamp",
    )
