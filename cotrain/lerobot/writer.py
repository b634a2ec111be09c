"""Write a LeRobot v3.0 dataset episode by episode; ``finalize`` writes the metadata.

Frame rows go to ``data/chunk-XXX/file-YYY.parquet`` (many episodes per file), each camera's
episodes are appended to ``videos/observation.images.<camera>/chunk-XXX/file-YYY.mp4`` (a
camera feature not named so is refused), and ``meta/`` gets info.json, stats.json,
tasks.parquet and the episodes table. Vector features are fixed-size float lists,
shape-(1,) features plain scalars, as LeRobot's own writer stores them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cotrain.errors import DatasetError
from cotrain.lerobot import layout, stats
from cotrain.lerobot.video import VideoAppender, probe_video

MB = 1024 * 1024


@dataclass(frozen=True, eq=False)
class EpisodeInput:
    """One episode to write.

    Attributes:
        task: its language instruction.
        values: every non-visual feature -> [T, *shape] array (index columns are added here).
        videos: every video feature -> the episode's own mp4, encoded at the dataset's fps.
        image_stats: every video feature -> ``stats.image_stats`` of the episode's frames.
    """

    task: str
    values: Mapping[str, np.ndarray]
    videos: Mapping[str, Path] = field(default_factory=dict)
    image_stats: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """What every episode of a dataset shares."""

    features: Mapping[str, Mapping[str, Any]]  # the dataset's own features (no index columns)
    fps: int
    robot_type: str
    limits: layout.FileLimits = field(default_factory=layout.FileLimits)


def _arrow_column(values: np.ndarray, feature: Mapping[str, Any]) -> pa.Array:
    shape = tuple(feature["shape"])
    flat = np.ascontiguousarray(values, dtype=feature["dtype"]).reshape(len(values), -1)
    if shape == (1,):
        return pa.array(flat[:, 0])
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), int(np.prod(shape)))


class DatasetWriter:
    """Appends episodes to a new dataset directory (its meta/, data/ and videos/ are replaced)."""

    def __init__(self, root: Path, spec: DatasetSpec):
        self.root, self.spec = Path(root), spec
        for key, feature in spec.features.items():
            problem = layout.camera_key_problem(key, feature["dtype"])
            if problem:
                raise DatasetError(problem, file=self.root, field=key)
        self.features = {**spec.features, **layout.INDEX_FEATURES}
        self.video_keys = layout.video_keys(spec.features)
        for part in ("meta", "data", "videos"):
            shutil.rmtree(self.root / part, ignore_errors=True)
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict[str, Any]] = []
        self.episode_stats: list[dict[str, stats.Stats]] = []
        self.frames = 0
        self._data_slot = layout.FileSlot()
        self._data_tables: list[pa.Table] = []
        self._video_slots = {key: layout.FileSlot() for key in self.video_keys}
        self._videos: dict[str, VideoAppender] = {}

    def add_episode(self, episode: EpisodeInput) -> int:
        """Append one episode; returns its episode index."""
        index = len(self.episodes)
        length = self._check(episode)
        task_index = self.tasks.setdefault(episode.task, len(self.tasks))
        frame_index = np.arange(length)
        columns = {
            **{key: np.asarray(episode.values[key]) for key in self._vector_keys()},
            "timestamp": (frame_index / self.spec.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(length, index),
            "index": self.frames + frame_index,
            "task_index": np.full(length, task_index),
        }
        row: dict[str, Any] = {"episode_index": index, "tasks": [episode.task], "length": length}
        row |= self._add_data(columns)
        for key in self.video_keys:
            row |= self._add_video(key, Path(episode.videos[key]))
        episode_stats = {
            key: stats.array_stats(value.reshape(length, *self.features[key]["shape"]))
            for key, value in columns.items()
        }
        episode_stats |= {key: dict(episode.image_stats[key]) for key in self.video_keys}
        row |= {
            f"stats/{feature}/{name}": value
            for feature, per in stats.to_json(episode_stats).items()
            for name, value in per.items()
        }
        row |= {"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
        self.episodes.append(row)
        self.episode_stats.append(episode_stats)
        self.frames += length
        return index

    def _vector_keys(self) -> list[str]:
        return [
            key for key, ft in self.spec.features.items() if ft["dtype"] not in layout.VISUAL_DTYPES
        ]

    def _check(self, episode: EpisodeInput) -> int:
        missing = [k for k in self._vector_keys() if k not in episode.values]
        missing += [k for k in self.video_keys if k not in episode.videos]
        missing += [k for k in self.video_keys if k not in episode.image_stats]
        if missing:
            raise DatasetError(f"episode lacks features {missing}", file=self.root)
        lengths = {key: len(episode.values[key]) for key in self._vector_keys()}
        for key, value in episode.values.items():
            shape = tuple(self.spec.features[key]["shape"])
            if np.shape(value)[1:] not in (shape, () if shape == (1,) else shape):
                raise DatasetError(
                    f"expected [T, {', '.join(map(str, shape))}], got {np.shape(value)}",
                    file=self.root,
                    field=key,
                )
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise DatasetError(f"features differ in length or are empty: {lengths}", file=self.root)
        return next(iter(lengths.values()))

    # -- data parquet --------------------------------------------------------------------------
    def _add_data(self, columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
        table = pa.table({key: _arrow_column(v, self.features[key]) for key, v in columns.items()})
        pending = sum(t.nbytes for t in self._data_tables)
        if pending and pending + table.nbytes > self.spec.limits.data_files_size_in_mb * MB:
            self._flush_data()
            self._data_slot = self._data_slot.next(self.spec.limits.chunks_size)
        self._data_tables.append(table)
        start = self.frames
        return {
            "data/chunk_index": self._data_slot.chunk_index,
            "data/file_index": self._data_slot.file_index,
            "dataset_from_index": start,
            "dataset_to_index": start + table.num_rows,
        }

    def _flush_data(self) -> None:
        if not self._data_tables:
            return
        path = self.root / self._data_slot.format(layout.DATA_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(self._data_tables), path)
        self._data_tables = []

    # -- videos --------------------------------------------------------------------------------
    def _add_video(self, key: str, source: Path) -> dict[str, Any]:
        appender = self._videos.get(key)
        limit = self.spec.limits.video_files_size_in_mb * MB
        if appender is not None and appender.bytes + source.stat().st_size > limit:
            appender.close()
            self._video_slots[key] = self._video_slots[key].next(self.spec.limits.chunks_size)
            appender = None
        if appender is None:
            path = self.root / self._video_slots[key].format(layout.VIDEO_PATH, video_key=key)
            appender = self._videos[key] = VideoAppender(path, self.spec.fps)
        start, end = appender.append(source)
        chunk, file, from_ts, to_ts = layout.episode_video_columns(key)
        slot = self._video_slots[key]
        return {chunk: slot.chunk_index, file: slot.file_index, from_ts: start, to_ts: end}

    # -- metadata ------------------------------------------------------------------------------
    def finalize(self) -> dict[str, Any]:
        """Close the files and write meta/; returns info.json's content."""
        if not self.episodes:
            raise DatasetError("a dataset needs at least one episode", file=self.root)
        self._flush_data()
        for appender in self._videos.values():
            appender.close()
        meta = self.root / "meta"
        episodes_path = self.root / layout.FileSlot().format(layout.EPISODES_PATH)
        episodes_path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(self.episodes), episodes_path)
        tasks = pd.DataFrame(
            {"task_index": list(self.tasks.values())}, index=pd.Index(list(self.tasks), name="task")
        )
        tasks.to_parquet(self.root / layout.TASKS_PATH)
        keys = self.episode_stats[0].keys()
        dataset_stats = {k: stats.aggregate([e[k] for e in self.episode_stats]) for k in keys}
        _write_json(self.root / layout.STATS_PATH, stats.to_json(dataset_stats))
        info = self._info()
        _write_json(meta / "info.json", info)
        return info

    def _info(self) -> dict[str, Any]:
        features = {key: {**ft, "shape": list(ft["shape"])} for key, ft in self.features.items()}
        for key in self.video_keys:
            first = self.root / layout.FileSlot().format(layout.VIDEO_PATH, video_key=key)
            features[key]["info"] = probe_video(first)
        limits = self.spec.limits
        return {
            "codebase_version": layout.CODEBASE_VERSION,
            "robot_type": self.spec.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.frames,
            "total_tasks": len(self.tasks),
            "chunks_size": limits.chunks_size,
            "data_files_size_in_mb": limits.data_files_size_in_mb,
            "video_files_size_in_mb": limits.video_files_size_in_mb,
            "fps": self.spec.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": layout.DATA_PATH,
            "video_path": layout.VIDEO_PATH if self.video_keys else None,
            "features": features,
        }


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=4, ensure_ascii=False) + "\n")
