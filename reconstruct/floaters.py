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
- huge: a Gaussian whose largest axis exceeds ``max_scale``;
- faint: a Gaussian less opaque than ``min_opacity`` with fewer than ``min_neighbours``
  centres at least that opaque within ``radius``: a haze in the air, which barely shows in
  any training view, so the photos never pinned it down (faint Gaussians on a surface, which
  shade it, stay);
- poorly seen: a centre inside fewer than ``min_views`` of the training cameras' frusta, or
  whose widest angle between two of those cameras' rays is under ``min_parallax_deg`` (its
  depth along the rays is unconstrained, as for a point triangulated from a short baseline;
  COLMAP drops such points). Occlusion is not modelled: a frustum holds what is behind a wall.

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
    "Cameras",
    "FloaterConfig",
    "Floaters",
    "faint",
    "find_floaters",
    "in_view",
    "isolated",
    "neighbour_counts",
    "parallax_deg",
    "pieces",
    "poorly_seen",
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
    min_opacity: a Gaussian less opaque than this (peak opacity in [0, 1]) with fewer than
        ``min_neighbours`` centres at least this opaque within ``radius`` is faint.
    min_views, min_parallax_deg: a centre inside fewer training cameras' frusta than this,
        or whose rays to them spread less than this (degrees), is poorly seen.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = ("radius", "link", "max_scale", "reach")

    radius: float = 0.02
    min_neighbours: int = 3
    link: float = 0.02
    min_share: float = 0.05
    max_scale: float = 0.05
    reach: float = 0.03
    # On the Buddha photos (11 training photos) and the 4K clip made from them, 0.05 / 1 / 0
    # keep the statue's Gaussians (13 of the 15,253 in its box go on the photos, none on the
    # clip) at no held-out PSNR cost. min_parallax_deg 5 would take the clip's 865 Gaussians
    # seen from one photo's frames only (-0.2 dB held out), but on the photos (as would
    # min_views 2) also 357 opaque ones at the statue's foot that one photo alone framed.
    min_opacity: float = 0.05
    min_views: int = 1
    min_parallax_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in self.LENGTHS:
            if not getattr(self, name) > 0:
                raise ReconstructError("must be positive (metres)", field=f"floaters.{name}")
        if self.min_neighbours < 0:
            raise ReconstructError("must not be negative", field="floaters.min_neighbours")
        for name in ("min_share", "min_opacity"):
            if not 0 <= getattr(self, name) <= 1:
                raise ReconstructError("must lie in [0, 1]", field=f"floaters.{name}")
        if self.min_views < 0:
            raise ReconstructError("must not be negative", field="floaters.min_views")
        if not 0 <= self.min_parallax_deg < 180:
            raise ReconstructError(
                "must lie in [0, 180) degrees", field="floaters.min_parallax_deg"
            )

    def in_units(self, units: Units) -> FloaterConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class Floaters:
    """Which of N centres are floaters (``mask``, ``[N]`` bool), and why (counts; a floater
    is counted under the first reason that holds: huge, faint, poorly seen, isolated, small
    piece)."""

    mask: np.ndarray
    huge: int
    isolated: int
    small: int
    faint: int = 0
    unseen: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "removed": int(self.mask.sum()),
            "huge": self.huge,
            "faint": self.faint,
            "poorly_seen": self.unseen,
            "isolated": self.isolated,
            "small_pieces": self.small,
        }


@dataclass(frozen=True, eq=False)
class Cameras:
    """The splats' training cameras (``poorly_seen``)."""

    viewmats: np.ndarray  # [C, 4, 4] world -> camera (OpenCV axes, +z forward), world units
    K: np.ndarray  # [C, 3, 3] pinhole intrinsics, pixels
    sizes: np.ndarray  # [C, 2] image width, height, pixels

    @property
    def centres(self) -> np.ndarray:
        """``[C, 3]`` camera centres, world units."""
        rotations, translations = self.viewmats[:, :3, :3], self.viewmats[:, :3, 3]
        return -np.einsum("cji,cj->ci", rotations, translations)


def in_view(means: np.ndarray, cameras: Cameras) -> np.ndarray:
    """``[N, C]`` whether each of the ``[N, 3]`` centres lies in front of camera ``c`` and
    projects inside its image."""
    seen = np.zeros((len(means), len(cameras.viewmats)), bool)
    for c, (viewmat, k, (width, height)) in enumerate(
        zip(cameras.viewmats, cameras.K, cameras.sizes, strict=True)
    ):
        local = means @ viewmat[:3, :3].T + viewmat[:3, 3]
        z = local[:, 2]
        front = z > 0
        u = k[0, 0] * local[front, 0] / z[front] + k[0, 2]
        v = k[1, 1] * local[front, 1] / z[front] + k[1, 2]
        seen[front, c] = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    return seen


def faint(
    means: np.ndarray, opacities: np.ndarray, min_opacity: float, radius: float, min_neighbours: int
) -> np.ndarray:
    """``[N]`` whether each of the ``[N, 3]`` centres is less opaque than ``min_opacity``
    (``[N]`` opacities in [0, 1]) and has fewer than ``min_neighbours`` centres at least that
    opaque within ``radius``."""
    low = opacities < min_opacity
    if not low.any() or low.all():
        return low
    opaque = cKDTree(means[~low])
    near = np.asarray(opaque.query_ball_point(means[low], radius, return_length=True))
    out = np.zeros(len(means), bool)
    out[np.flatnonzero(low)[near < min_neighbours]] = True
    return out


def _rays(means: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``[N, 3]`` unit vectors from each centre towards the camera at ``centre``."""
    out = centre - means
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def parallax_deg(means: np.ndarray, centres: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``[N]`` the widest angle (degrees) between the rays from each of the ``[N, 3]``
    centres to two of the ``[C, 3]`` camera ``centres`` that see it (``[N, C]`` ``seen``);
    0 with fewer than two. Estimated from the ray farthest from the rays' mean: at least
    half the widest angle and at most all of it (triangle inequality on the sphere)."""
    mean = np.zeros(means.shape)
    for c, centre in enumerate(centres):
        mean[seen[:, c]] += _rays(means[seen[:, c]], centre)
    far = np.zeros(means.shape)  # the seen ray farthest from the mean
    lowest = np.full(len(means), np.inf)
    for c, centre in enumerate(centres):
        rays = _rays(means, centre)
        dot = np.where(seen[:, c], np.einsum("nk,nk->n", rays, mean), np.inf)
        better = dot < lowest
        far[better], lowest[better] = rays[better], dot[better]
    widest = np.ones(len(means))
    for c, centre in enumerate(centres):
        dot = np.einsum("nk,nk->n", _rays(means, centre), far)
        widest = np.where(seen[:, c], np.minimum(widest, dot), widest)
    angle = np.degrees(np.arccos(np.clip(widest, -1.0, 1.0)))
    return np.where(seen.sum(1) >= 2, angle, 0.0)


def poorly_seen(
    means: np.ndarray, cameras: Cameras, min_views: int, min_parallax_deg: float
) -> np.ndarray:
    """``[N]`` whether each of the ``[N, 3]`` centres lies inside fewer than ``min_views``
    of the ``cameras``' frusta, or sees them spread less than ``min_parallax_deg``."""
    seen = in_view(means, cameras)
    few = seen.sum(1) < min_views
    if min_parallax_deg <= 0:
        return few
    return few | (parallax_deg(means, cameras.centres, seen) < min_parallax_deg)


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
    *,
    opacities: np.ndarray | None = None,
    cameras: Cameras | None = None,
) -> Floaters:
    """The floaters among ``[N, 3]`` centres (world units, ``config`` in them too) with their
    ``[N, 3]`` Gaussian standard deviations (None: points, never huge), ``[N]`` opacities
    (None: never faint) and training ``cameras`` (None: never poorly seen); only the
    ``judged`` ones (``[N]`` bool, default all) can be floaters, and only they count as
    neighbours."""
    mask = np.zeros(len(means), bool)
    pool = np.flatnonzero(np.ones(len(means), bool) if judged is None else judged)
    huge = np.zeros(len(pool), bool)
    if scales is not None:
        huge = np.asarray(scales)[pool].max(axis=1, initial=0.0) > config.max_scale
    hazy = np.zeros(len(pool), bool)
    if opacities is not None and config.min_opacity > 0:
        hazy[~huge] = faint(
            means[pool[~huge]],
            np.asarray(opacities)[pool[~huge]],
            config.min_opacity,
            config.radius,
            config.min_neighbours,
        )
    unseen = np.zeros(len(pool), bool)
    if cameras is not None and (config.min_views > 0 or config.min_parallax_deg > 0):
        unseen[~huge & ~hazy] = poorly_seen(
            means[pool[~huge & ~hazy]], cameras, config.min_views, config.min_parallax_deg
        )
    rest = pool[~(huge | hazy | unseen)]
    alone = isolated(means[rest], config.radius, config.min_neighbours)
    survivors = rest[~alone]
    small = small_pieces(means[survivors], config.link, config.min_share)
    mask[pool[huge | hazy | unseen]] = True
    mask[rest[alone]] = True
    mask[survivors[small]] = True
    counts = (int(huge.sum()), int(alone.sum()), int(small.sum()))
    return Floaters(mask, *counts, faint=int(hazy.sum()), unseen=int(unseen.sum()))


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
