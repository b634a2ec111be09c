"""Feature statistics as LeRobot stores them: min, max, mean, std and count per feature.

Vectors get per-dimension statistics; images get per-channel statistics of pixel values scaled
to [0, 1], shaped (3, 1, 1) so they broadcast over (C, H, W) tensors. Per-episode statistics
combine into dataset statistics with the parallel mean/variance formula (no second pass).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Stats = dict[str, np.ndarray]


def array_stats(values: np.ndarray) -> Stats:
    """Statistics over the first axis of ``values`` [T, *shape]; each has the feature's shape."""
    values = np.asarray(values, dtype=np.float64)
    return {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "count": np.array([len(values)]),
    }


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel statistics of uint8 frames [T, H, W, C], as (C, 1, 1) arrays in [0, 1].

    Accumulated frame by frame: a float copy of a whole 450-frame episode would take ~600 MB.
    """
    channels = frames.shape[-1]
    total, squares = np.zeros(channels), np.zeros(channels)
    low, high = np.full(channels, 255), np.zeros(channels, dtype=np.int64)
    for frame in frames:
        pixels = frame.reshape(-1, channels)
        as_float = pixels.astype(np.float64)
        total += as_float.sum(axis=0)
        squares += np.square(as_float).sum(axis=0)
        low, high = np.minimum(low, pixels.min(axis=0)), np.maximum(high, pixels.max(axis=0))
    n = frames.shape[0] * frames.shape[1] * frames.shape[2]
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - np.square(mean), 0.0))
    column = lambda v: (np.asarray(v, dtype=np.float64) / 255.0).reshape(channels, 1, 1)  # noqa: E731
    return {
        "min": column(low),
        "max": column(high),
        "mean": column(mean),
        "std": column(std),
        "count": np.array([len(frames)]),
    }


def aggregate(parts: Sequence[Mapping[str, np.ndarray]]) -> Stats:
    """Statistics of the union of the samples ``parts`` describe (count-weighted)."""
    if not parts:
        raise ValueError("no statistics to aggregate")
    counts = np.array([float(p["count"][0]) for p in parts])
    total = counts.sum()
    shape = (-1,) + (1,) * np.asarray(parts[0]["mean"]).ndim
    weights = (counts / total).reshape(shape)
    means = np.stack([p["mean"] for p in parts])
    mean = (weights * means).sum(axis=0)
    variances = np.stack([np.square(p["std"]) for p in parts]) + np.square(means - mean)
    return {
        "min": np.min(np.stack([p["min"] for p in parts]), axis=0),
        "max": np.max(np.stack([p["max"] for p in parts]), axis=0),
        "mean": mean,
        "std": np.sqrt((weights * variances).sum(axis=0)),
        "count": np.array([int(total)]),
    }


def to_json(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    """Nested lists, the form of ``meta/stats.json`` and the ``stats/...`` episode columns."""
    return {
        feature: {name: np.asarray(value).tolist() for name, value in per.items()}
        for feature, per in stats.items()
    }
