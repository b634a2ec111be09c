"""Floaters: Gaussians (or points) that stand alone in space instead of on a surface.

Splats trained on few or blurred views grow sparse, large Gaussians in the air around the
scene; fused into the scene mesh they become sheets and blobs that join a real object into
one candidate far too wide (the Buddha clip at 200 px: the 0.29 m statue fused into a 0.93 m
candidate). Structure from motion leaves the same strays among its points (two lone points
above the Buddha's table pushed the default robot base 0.13 m back). A floater here is what
is

- isolated: fewer than ``min_neighbours`` other centres within ``radius``;
- in a small piece: the rest, linked into pieces by voxels of side ``link`` (26-connected),
  in a piece with fewer than ``min_share`` of the largest piece's members;
- huge: a Gaussian whose largest axis exceeds ``max_scale``.

Pure functions over ``[N, 3]`` arrays in world units; ``FloaterConfig`` holds metres and
``in_units`` converts them (``reconstruct.units``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from reconstruct.errors import ReconstructError
from reconstruct.units import Units, in_units

__all__ = [
    "FloaterConfig",
    "Floaters",
    "find_floaters",
    "isolated",
    "neighbour_counts",
    "pieces",
    "small_pieces",
    "unsupported",
]


@dataclass(frozen=True)
class FloaterConfig:
    """Attributes (lengths in metres):
    radius, min_neighbours: a centre with fewer other centres than this within ``radius``
        is isolated.
    link: the rest are linked into pieces through occupied voxels of this side.
    min_share: a piece with fewer members than this share of the largest is small.
    max_scale: a Gaussian with a larger axis (standard deviation) is huge.
    reach: a surface sample farther than this from every Gaussian but floaters was fused
        from them (``unsupported``).
    """

    LENGTHS: ClassVar[tuple[str, ...]] = ("radius", "link", "max_scale", "reach")

    radius: float = 0.02
    min_neighbours: int = 3
    link: float = 0.02
    min_share: float = 0.05
    max_scale: float = 0.05
    reach: float = 0.03

    def __post_init__(self) -> None:
        for name in self.LENGTHS:
            if not getattr(self, name) > 0:
                raise ReconstructError("must be positive (metres)", field=f"floaters.{name}")
        if self.min_neighbours < 0:
            raise ReconstructError("must not be negative", field="floaters.min_neighbours")
        if not 0 <= self.min_share <= 1:
            raise ReconstructError("must lie in [0, 1]", field="floaters.min_share")

    def in_units(self, units: Units) -> FloaterConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class Floaters:
    """Which of N centres are floaters (``mask``, ``[N]`` bool), and why (counts; a floater
    is counted under the first reason that holds: huge, isolated, small piece)."""

    mask: np.ndarray
    huge: int
    isolated: int
    small: int

    def as_dict(self) -> dict[str, int]:
        return {
            "removed": int(self.mask.sum()),
            "huge": self.huge,
            "isolated": self.isolated,
            "small_pieces": self.small,
        }


def neighbour_counts(points: np.ndarray, radius: float) -> np.ndarray:
    """``[N]`` how many other of the ``[N, 3]`` points lie within ``radius`` of each."""
    if len(points) == 0:
        return np.zeros(0, int)
    tree = cKDTree(points)
    return np.asarray(tree.query_ball_point(points, radius, return_length=True)) - 1


def isolated(points: np.ndarray, radius: float, min_neighbours: int) -> np.ndarray:
    """``[N]`` whether each of the ``[N, 3]`` points has fewer than ``min_neighbours`` others
    within ``radius``."""
    return neighbour_counts(points, radius) < min_neighbours


def pieces(points: np.ndarray, link: float) -> np.ndarray:
    """``[N]`` the piece (0..K-1) each of the ``[N, 3]`` points lies in: points are joined
    through occupied voxels of side ``link`` touching by a face, edge or corner."""
    if len(points) == 0:
        return np.zeros(0, int)
    cells = np.floor((points - points.min(0)) / link).astype(np.int64)
    voxels, owner = np.unique(cells, axis=0, return_inverse=True)
    pairs = cKDTree(voxels).query_pairs(np.sqrt(3) + 1e-6, output_type="ndarray")
    graph = coo_matrix(
        (np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(len(voxels), len(voxels)),
    )
    _, piece = connected_components(graph, directed=False)
    return piece[owner.reshape(-1)]


def small_pieces(points: np.ndarray, link: float, min_share: float) -> np.ndarray:
    """``[N]`` whether each of the ``[N, 3]`` points lies in a small piece (``pieces``): one
    with fewer than ``min_share`` of the largest piece's points."""
    if len(points) == 0:
        return np.zeros(0, bool)
    piece = pieces(points, link)
    members = np.bincount(piece)
    return members[piece] < min_share * members.max()


def find_floaters(
    means: np.ndarray,
    scales: np.ndarray | None,
    config: FloaterConfig,
    judged: np.ndarray | None = None,
) -> Floaters:
    """The floaters among ``[N, 3]`` centres (world units, ``config`` in them too) with their
    ``[N, 3]`` Gaussian standard deviations (None: points, never huge); only the ``judged``
    ones (``[N]`` bool, default all) can be floaters, and only they count as neighbours."""
    mask = np.zeros(len(means), bool)
    pool = np.flatnonzero(np.ones(len(means), bool) if judged is None else judged)
    huge = np.zeros(len(pool), bool)
    if scales is not None:
        huge = np.asarray(scales)[pool].max(axis=1, initial=0.0) > config.max_scale
    rest = pool[~huge]
    alone = isolated(means[rest], config.radius, config.min_neighbours)
    survivors = rest[~alone]
    small = small_pieces(means[survivors], config.link, config.min_share)
    mask[pool[huge]] = True
    mask[rest[alone]] = True
    mask[survivors[small]] = True
    return Floaters(mask, int(huge.sum()), int(alone.sum()), int(small.sum()))


def unsupported(
    samples: np.ndarray, means: np.ndarray, floaters: np.ndarray, reach: float
) -> np.ndarray:
    """``[S]`` whether each of the ``[S, 3]`` surface samples was fused from floaters: its
    nearest of the ``[N, 3]`` Gaussian centres is one (``floaters``, ``[N]`` bool), or no other
    centre lies within ``reach`` (a large floater's tail, away from its centre)."""
    if len(samples) == 0 or not floaters.any():
        return np.zeros(len(samples), bool)
    _, nearest = cKDTree(means).query(samples)
    kept = means[~floaters]
    if len(kept) == 0:
        return np.ones(len(samples), bool)
    far = cKDTree(kept).query(samples, distance_upper_bound=reach)[0] > reach
    return floaters[nearest] | far
