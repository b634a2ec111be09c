"""Read a LeRobot v3.0 dataset: metadata, frame rows as arrays, episode videos as frames.

The reader trusts the layout only as far as it needs to find things; ``validate`` checks it
fully. Every failure is a DatasetError naming the file (and field) that let it down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cotrain.errors import DatasetError
from cotrain.lerobot import layout
from cotrain.lerobot.video import decode_frames


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetError("missing: not a LeRobot v3.0 dataset", file=path)
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"not valid JSON: {exc}", file=path) from exc
    if not isinstance(content, dict):
        raise DatasetError("expected a JSON object", file=path)
    return content


def read_parquet(path: Path) -> pa.Table:
    if not path.is_file():
        raise DatasetError("missing", file=path)
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DatasetError(f"unreadable parquet: {exc}", file=path) from exc


def column_array(
    table: pa.Table, key: str, shape: tuple[int, ...], dtype: str, *, file: Path
) -> np.ndarray:
    """A frame column as [T, *shape] (scalar columns of shape (1,) features as [T])."""
    if key not in table.column_names:
        raise DatasetError(f"column missing (columns: {table.column_names})", file=file, field=key)
    column = table.column(key).combine_chunks()
    size = int(np.prod(shape))
    if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        if len(lengths) and (lengths != size).any():
            row = int(np.flatnonzero(lengths != size)[0])
            raise DatasetError(
                f"row {row} has {lengths[row]} values, the feature's shape {list(shape)} needs {size}",
                file=file,
                field=key,
            )
        values = pc.list_flatten(column).to_numpy(zero_copy_only=False).reshape(-1, *shape)
    elif shape == (1,):
        values = column.to_numpy(zero_copy_only=False)
    else:
        raise DatasetError(
            f"expected a list column for shape {list(shape)}, got {column.type}",
            file=file,
            field=key,
        )
    if values.dtype != np.dtype(dtype):
        raise DatasetError(f"dtype {values.dtype}, info.json says {dtype}", file=file, field=key)
    return values


class DatasetReader:
    """A LeRobot v3.0 dataset directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.info = read_json(self.root / layout.INFO_PATH)
        for key in ("fps", "features", "data_path"):
            if key not in self.info:
                raise DatasetError("field missing", file=self.root / layout.INFO_PATH, field=key)
        self.fps = int(self.info["fps"])
        self.features: Mapping[str, Mapping[str, Any]] = self.info["features"]
        self.video_keys = layout.video_keys(self.features)

    @cached_property
    def tasks(self) -> pd.DataFrame:
        """Index ``task`` (the instruction), column ``task_index``."""
        return read_parquet(self.root / layout.TASKS_PATH).to_pandas()

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """One row per episode from every ``meta/episodes`` file, by episode index."""
        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError("no episodes files", file=self.root / "meta" / "episodes")
        frames = [read_parquet(f).to_pandas() for f in files]
        table = pd.concat(frames, ignore_index=True)
        if "episode_index" not in table.columns:
            raise DatasetError("column missing", file=files[0], field="episode_index")
        return table.sort_values("episode_index", ignore_index=True)

    def data_file(self, episode: Mapping[str, Any]) -> Path:
        return self.root / self.info["data_path"].format(
            chunk_index=int(episode["data/chunk_index"]), file_index=int(episode["data/file_index"])
        )

    def video_file(self, key: str, episode: Mapping[str, Any]) -> Path:
        chunk, file, _, _ = layout.episode_video_columns(key)
        return self.root / self.info["video_path"].format(
            video_key=key, chunk_index=int(episode[chunk]), file_index=int(episode[file])
        )

    def data_files(self) -> list[Path]:
        rows = self.episodes.drop_duplicates(["data/chunk_index", "data/file_index"])
        return [self.data_file(row) for _, row in rows.iterrows()]

    def feature_array(self, table: pa.Table, key: str, *, file: Path) -> np.ndarray:
        feature = self.features[key]
        return column_array(table, key, tuple(feature["shape"]), feature["dtype"], file=file)

    def episode(self, index: int) -> dict[str, np.ndarray]:
        """Every non-visual feature of one episode, [T, *shape] (shape-(1,) features as [T])."""
        row = self.episodes.iloc[index]
        file = self.data_file(row)
        table = read_parquet(file)
        mask = pc.equal(table.column("episode_index"), pa.scalar(index, pa.int64()))
        table = table.filter(mask)
        return {
            key: self.feature_array(table, key, file=file)
            for key, ft in self.features.items()
            if ft["dtype"] not in layout.VISUAL_DTYPES
        }

    def _span(self, key: str, row: Mapping[str, Any]) -> tuple[int, int, int]:
        first = round(float(row[f"videos/{key}/from_timestamp"]) * self.fps)
        last = round(float(row[f"videos/{key}/to_timestamp"]) * self.fps)
        return int(row["episode_index"]), first, last

    def episode_frames(self, key: str, index: int) -> np.ndarray:
        """uint8 [T, H, W, 3] frames of one episode from a video feature."""
        row = self.episodes.iloc[index]
        path = self.video_file(key, row)
        return next(_split_frames(decode_frames(path, self.fps), [self._span(key, row)]))[1]

    def iter_episode_frames(self, key: str) -> Iterator[tuple[int, np.ndarray]]:
        """(episode index, uint8 [T, H, W, 3]) for every episode, decoding each file once."""
        by_file: dict[Path, list[tuple[int, int, int]]] = {}
        for _, row in self.episodes.iterrows():
            by_file.setdefault(self.video_file(key, row), []).append(self._span(key, row))
        for path, spans in by_file.items():
            yield from _split_frames(decode_frames(path, self.fps), spans)


def _split_frames(
    frames: Iterator[tuple[int, np.ndarray]], spans: list[tuple[int, int, int]]
) -> Iterator[tuple[int, np.ndarray]]:
    """Group a file's (index, frame) stream into episodes' [first, last) index spans."""
    pending = sorted(spans, key=lambda span: span[1])
    collected: list[np.ndarray] = []
    for index, image in frames:
        while pending and index >= pending[0][2]:
            yield pending.pop(0)[0], _stack(collected)
            collected = []
        if not pending:
            return
        if index >= pending[0][1]:
            collected.append(image)
    for episode, _, _ in pending:
        yield episode, _stack(collected)
        collected = []


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)
