"""Check a directory against the LeRobot v3.0 layout, file by file.

What is checked: info.json's fields and feature specs; tasks numbered 0..n-1; episodes numbered
0..n-1 whose frame ranges tile ``0..total_frames``; every data file's columns (dtype and shape
of each feature); per episode, row count = length, frame_index 0..length-1, ``index``
contiguous, timestamps increasing and equal to frame_index / fps; every video's frame count
between an episode's from/to timestamps = its length, at the feature's resolution; stats.json
holding min/max/mean/std/count of the right shapes; the features LeRobot policies read by name,
``observation.state`` and ``action`` (float vectors with one name per component, with dataset
and per-episode statistics), and every camera named ``observation.images.<camera>`` (datasets
exported under bare camera names are refused, naming the key expected). The first violation
raises a DatasetError naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cotrain.errors import DatasetError
from cotrain.lerobot import layout
from cotrain.lerobot.reader import DatasetReader, read_json, read_parquet
from cotrain.lerobot.video import frame_indices, probe_video

INFO_FIELDS = (
    "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks",
    "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits",
    "data_path", "video_path", "features",
)  # fmt: skip
EPISODE_COLUMNS = (
    "episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
    "dataset_from_index", "dataset_to_index",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetSummary:
    """What a valid dataset holds."""

    root: Path
    episodes: int
    frames: int
    tasks: tuple[str, ...]
    fps: int
    robot_type: str | None
    features: dict[str, dict[str, Any]]

    @property
    def video_keys(self) -> list[str]:
        return layout.video_keys(self.features)


def validate(root: str | Path) -> DatasetSummary:
    """Check ``root`` completely; raise DatasetError at the first problem."""
    root = Path(root)
    info = _check_info(root)
    reader = DatasetReader(root)
    tasks = _check_tasks(root, info)
    episodes = _check_episodes(reader, info)
    rows = sum(_check_data_file(reader, path, episodes, tasks) for path in reader.data_files())
    if rows != info["total_frames"]:
        raise DatasetError(
            f"data files hold {rows} rows, total_frames is {info['total_frames']}",
            file=root / layout.INFO_PATH,
            field="total_frames",
        )
    for key in reader.video_keys:
        _check_videos(reader, key, episodes)
    _check_stats(root, info["features"])
    return DatasetSummary(
        root=root,
        episodes=int(info["total_episodes"]),
        frames=int(info["total_frames"]),
        tasks=tuple(tasks.index),
        fps=int(info["fps"]),
        robot_type=info["robot_type"],
        features=info["features"],
    )


def _check_info(root: Path) -> dict[str, Any]:
    file = root / layout.INFO_PATH
    info = read_json(file)
    missing = [key for key in INFO_FIELDS if key not in info]
    if missing:
        raise DatasetError(f"fields missing: {missing}", file=file, field=missing[0])
    if info["codebase_version"] != layout.CODEBASE_VERSION:
        raise DatasetError(
            f"expected {layout.CODEBASE_VERSION!r}, got {info['codebase_version']!r}",
            file=file,
            field="codebase_version",
        )
    for key in ("fps", "total_episodes", "total_frames", "total_tasks", "chunks_size"):
        if not isinstance(info[key], int) or info[key] < (1 if key != "total_frames" else 0):
            raise DatasetError(
                f"expected a positive integer, got {info[key]!r}", file=file, field=key
            )
    features = info["features"]
    if not isinstance(features, dict):
        raise DatasetError("expected a mapping of features", file=file, field="features")
    for key, feature in features.items():
        _check_feature(file, key, feature)
        problem = layout.camera_key_problem(key, feature["dtype"])
        if problem:
            raise DatasetError(problem, file=file, field=f"features.{key}")
    for key in layout.POLICY_VECTORS:
        _check_policy_vector(file, key, features.get(key))
    for key, expected in layout.INDEX_FEATURES.items():
        got = features.get(key, {})
        if got.get("dtype") != expected["dtype"] or list(got.get("shape", [])) != [1]:
            raise DatasetError(
                f"expected dtype {expected['dtype']} and shape [1], got {got or 'nothing'}",
                file=file,
                field=f"features.{key}",
            )
    if layout.video_keys(features) and not info["video_path"]:
        raise DatasetError("video features need a video_path", file=file, field="video_path")
    expected_split = f"0:{info['total_episodes']}"
    if not isinstance(info["splits"], dict) or info["splits"].get("train") != expected_split:
        raise DatasetError(f"expected train: {expected_split!r}", file=file, field="splits")
    return info


def _check_feature(file: Path, key: str, feature: Any) -> None:
    field = f"features.{key}"
    if not isinstance(feature, dict) or not {"dtype", "shape", "names"} <= set(feature):
        raise DatasetError("expected dtype, shape and names", file=file, field=field)
    shape = feature["shape"]
    if not (isinstance(shape, list) and shape and all(isinstance(n, int) and n > 0 for n in shape)):
        raise DatasetError(
            f"shape must be positive integers, got {shape!r}", file=file, field=field
        )
    if feature["dtype"] in layout.VISUAL_DTYPES and (len(shape) != 3 or shape[2] != 3):
        raise DatasetError(f"images need shape [H, W, 3], got {shape}", file=file, field=field)
    if feature["dtype"] not in layout.VISUAL_DTYPES and feature["dtype"] != "string":
        try:
            np.dtype(feature["dtype"])
        except TypeError as exc:
            raise DatasetError(
                f"unknown dtype {feature['dtype']!r}", file=file, field=field
            ) from exc


def _check_policy_vector(file: Path, key: str, feature: dict[str, Any] | None) -> None:
    """LeRobot policies find the state and the action by name: a float vector, named per part."""
    field = f"features.{key}"
    if feature is None:
        raise DatasetError(
            f"missing: LeRobot policies read {key!r} by name (a float32 vector [N])",
            file=file,
            field=field,
        )
    shape, dtype = feature["shape"], feature["dtype"]
    if len(shape) != 1 or dtype not in ("float32", "float64"):
        raise DatasetError(
            f"expected a float32 vector [N], got {dtype} {shape}", file=file, field=field
        )
    names = feature["names"]
    if isinstance(names, dict) and len(names) == 1:  # LeRobot's {"motors": [...]} form
        names = next(iter(names.values()))
    if not (isinstance(names, list) and len(names) == shape[0]):
        raise DatasetError(
            f"expected {shape[0]} names, one per component, got {feature['names']!r}",
            file=file,
            field=f"{field}.names",
        )


def _check_tasks(root: Path, info: dict[str, Any]) -> pd.DataFrame:
    file = root / layout.TASKS_PATH
    tasks = read_parquet(file).to_pandas()
    if "task_index" not in tasks.columns:
        raise DatasetError("column missing", file=file, field="task_index")
    if sorted(tasks["task_index"]) != list(range(len(tasks))):
        raise DatasetError("task indices must be 0..n-1", file=file, field="task_index")
    if not all(isinstance(task, str) for task in tasks.index):
        raise DatasetError("the index must be the task strings", file=file, field="task")
    if len(tasks) != info["total_tasks"]:
        raise DatasetError(
            f"{len(tasks)} tasks, info.json's total_tasks is {info['total_tasks']}",
            file=file,
            field="task_index",
        )
    return tasks


def _check_episodes(reader: DatasetReader, info: dict[str, Any]) -> pd.DataFrame:
    episodes = reader.episodes
    file = reader.root / "meta" / "episodes"
    video_columns = [c for key in reader.video_keys for c in layout.episode_video_columns(key)]
    stats_columns = [
        f"stats/{k}/{name}" for k in layout.POLICY_VECTORS for name in layout.STAT_NAMES
    ]
    required = (*EPISODE_COLUMNS, *video_columns, *stats_columns)
    missing = [c for c in required if c not in episodes.columns]
    if missing:
        raise DatasetError(f"columns missing: {missing}", file=file, field=missing[0])
    if list(episodes["episode_index"]) != list(range(len(episodes))):
        raise DatasetError("episode indices must be 0..n-1", file=file, field="episode_index")
    if len(episodes) != info["total_episodes"]:
        raise DatasetError(
            f"{len(episodes)} episodes, info.json's total_episodes is {info['total_episodes']}",
            file=file,
            field="episode_index",
        )
    length = episodes["length"].to_numpy()
    start, end = episodes["dataset_from_index"].to_numpy(), episodes["dataset_to_index"].to_numpy()
    bad = np.flatnonzero((length < 1) | (end - start != length))
    if bad.size:
        e = int(bad[0])
        raise DatasetError(
            f"episode {e}: length {length[e]} but frames {start[e]}..{end[e]}",
            file=file,
            field="length",
        )
    expected_start = np.concatenate([[0], end[:-1]])
    bad = np.flatnonzero(start != expected_start)
    if bad.size:
        e = int(bad[0])
        raise DatasetError(
            f"episode {e} starts at frame {start[e]}, expected {expected_start[e]} (no gaps)",
            file=file,
            field="dataset_from_index",
        )
    if int(length.sum()) != info["total_frames"]:
        raise DatasetError(
            f"episode lengths sum to {length.sum()}, total_frames is {info['total_frames']}",
            file=file,
            field="length",
        )
    return episodes


def _check_data_file(
    reader: DatasetReader, path: Path, episodes: pd.DataFrame, tasks: pd.DataFrame
) -> int:
    """Check one data file and the episodes it holds; returns its row count."""
    table = read_parquet(path)
    columns = {
        key: reader.feature_array(table, key, file=path)
        for key, ft in reader.features.items()
        if ft["dtype"] not in layout.VISUAL_DTYPES and ft["dtype"] != "string"
    }
    located = episodes[[reader.data_file(row) == path for _, row in episodes.iterrows()]]
    by_episode = pd.Series(np.arange(table.num_rows)).groupby(columns["episode_index"])
    rows_of = {int(e): idx.to_numpy() for e, idx in by_episode}
    strays = sorted(set(rows_of) - set(located["episode_index"]))
    if strays:
        raise DatasetError(
            f"rows of episode {strays[0]}, which meta/episodes places in another file",
            file=path,
            field="episode_index",
        )
    task_of = {index: task for task, index in zip(tasks.index, tasks["task_index"], strict=True)}
    for _, episode in located.iterrows():
        e, length = int(episode["episode_index"]), int(episode["length"])
        rows = rows_of.get(e, np.zeros(0, int))
        if len(rows) != length:
            raise DatasetError(
                f"episode {e} has {len(rows)} rows, meta/episodes says length {length}",
                file=path,
                field="episode_index",
            )
        _check_episode_rows(path, e, episode, {k: v[rows] for k, v in columns.items()}, reader.fps)
        for task_index in np.unique(columns["task_index"][rows]):
            if task_of.get(int(task_index)) not in list(episode["tasks"]):
                raise DatasetError(
                    f"episode {e} uses task_index {task_index}, not among its tasks "
                    f"{list(episode['tasks'])}",
                    file=path,
                    field="task_index",
                )
    return table.num_rows


def _check_episode_rows(
    path: Path, e: int, episode: pd.Series, rows: dict[str, np.ndarray], fps: int
) -> None:
    length = int(episode["length"])
    if not np.array_equal(rows["frame_index"], np.arange(length)):
        raise DatasetError(
            f"episode {e}: frame_index must run 0..{length - 1} in order",
            file=path,
            field="frame_index",
        )
    expected = int(episode["dataset_from_index"]) + np.arange(length)
    if not np.array_equal(rows["index"], expected):
        raise DatasetError(
            f"episode {e}: index must run {expected[0]}..{expected[-1]} (dataset_from_index on)",
            file=path,
            field="index",
        )
    timestamps = rows["timestamp"].astype(np.float64)
    steps = np.flatnonzero(np.diff(timestamps) <= 0)
    if steps.size:
        k = int(steps[0]) + 1
        raise DatasetError(
            f"episode {e}: timestamps not increasing at frame {k} "
            f"({timestamps[k - 1]:.4f} s then {timestamps[k]:.4f} s)",
            file=path,
            field="timestamp",
        )
    drift = np.abs(timestamps - np.arange(length) / fps)
    if drift.max() > layout.TIMESTAMP_TOLERANCE_S:
        k = int(drift.argmax())
        raise DatasetError(
            f"episode {e}: frame {k} at {timestamps[k]:.4f} s, expected {k / fps:.4f} s at {fps} fps",
            file=path,
            field="timestamp",
        )


def _check_videos(reader: DatasetReader, key: str, episodes: pd.DataFrame) -> None:
    height, width, _ = reader.features[key]["shape"]
    by_file: dict[Path, list[pd.Series]] = {}
    for _, episode in episodes.iterrows():
        by_file.setdefault(reader.video_file(key, episode), []).append(episode)
    for path, located in by_file.items():
        if not path.is_file():
            raise DatasetError("missing", file=path, field=key)
        info = probe_video(path)
        if (info["video.height"], info["video.width"]) != (height, width):
            raise DatasetError(
                f"frames are {info['video.width']}x{info['video.height']}, "
                f"info.json's shape says {width}x{height}",
                file=path,
                field=key,
            )
        indices = frame_indices(path, reader.fps)
        for episode in located:
            first = float(episode[f"videos/{key}/from_timestamp"])
            last = float(episode[f"videos/{key}/to_timestamp"])
            count = int(
                (
                    (indices >= round(first * reader.fps)) & (indices < round(last * reader.fps))
                ).sum()
            )
            if count != int(episode["length"]):
                raise DatasetError(
                    f"episode {int(episode['episode_index'])}: {count} frames between "
                    f"{first:.3f} s and {last:.3f} s, meta/episodes says length {int(episode['length'])}",
                    file=path,
                    field=key,
                )


def _check_stats(root: Path, features: dict[str, Any]) -> None:
    file = root / layout.STATS_PATH
    stats = read_json(file)
    for key, feature in features.items():
        if feature["dtype"] == "string":
            continue
        visual = feature["dtype"] in layout.VISUAL_DTYPES
        shape = [feature["shape"][2], 1, 1] if visual else list(feature["shape"])
        per = stats.get(key)
        if not isinstance(per, dict):
            raise DatasetError("statistics missing", file=file, field=key)
        for name in layout.STAT_NAMES:
            value = np.asarray(per.get(name, []), dtype=np.float64)
            want = [1] if name == "count" else shape
            if list(value.shape) != want or not np.isfinite(value).all():
                raise DatasetError(
                    f"expected finite values of shape {want}, got shape {list(value.shape)}",
                    file=file,
                    field=f"{key}.{name}",
                )
