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
# a camera, named ``observation.images.<camera>`` (``observation.image`` when there is one).
STATE_KEY = "observation.state"
ACTION_KEY = "action"
POLICY_VECTORS = (STATE_KEY, ACTION_KEY)
IMAGES_PREFIX = "observation.images."
SINGLE_IMAGE_KEY = "observation.image"
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


def image_key(camera: str) -> str:
    """A camera's feature key: ``wrist_image_left`` -> ``observation.images.wrist_image_left``."""
    return IMAGES_PREFIX + camera


def camera_name(key: str) -> str | None:
    """The camera a feature key names (``image_key``'s inverse); None for any other key."""
    camera = key.removeprefix(IMAGES_PREFIX)
    return camera if camera and camera != key else None


def is_camera_key(key: str) -> bool:
    """Whether LeRobot's convention names a camera ``key``."""
    return key == SINGLE_IMAGE_KEY or camera_name(key) is not None


def camera_key_problem(key: str, dtype: str) -> str | None:
    """What is wrong with the name of feature ``key`` of ``dtype`` as a LeRobot camera; None
    when nothing is. Datasets twinbench exported before it followed the convention named
    cameras by their bare names (``exterior_image_1_left``)."""
    visual = dtype in VISUAL_DTYPES
    if visual and not is_camera_key(key):
        return (
            f"camera {key!r} is not named as LeRobot policies expect: {image_key(key)!r} "
            f"(cameras are {IMAGES_PREFIX}<camera>; a dataset exported under the bare camera "
            "names must be generated again)"
        )
    if not visual and is_camera_key(key):
        return f"{key!r} names a camera, but its dtype is {dtype!r}, not one of {VISUAL_DTYPES}"
    return None


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
