"""The table top: the convex outline of the scene's surface on the table plane (z = 0).

The scene mesh of a real table is full of holes (glossy or plain patches fuse to nothing),
reaches past the table's edge into the background, and where the table is plain its fused
surface can bend centimetres off the plane (measured on the Buddha photos: a 7 degree slope
across the wooden table, while the printed markers' SfM points lie flat to 2 mm). So the
table top is the convex hull of two kinds of evidence: the largest connected region of mesh
samples on the plane (its holes and the objects' shadows closed by the hull), and the part
of the table that structure from motion saw (the align stage's plane inliers and where the
cameras look; ``align`` writes it as ``table_outline``). Objects stand inside it (what
stands outside is background scenery), the static collision and the static visual's table
are the prism under it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError


@dataclass(frozen=True, eq=False)
class TableTop:
    """A convex polygon on the table plane."""

    outline: np.ndarray  # [K, 2] world xy, counter-clockwise

    @property
    def equations(self) -> np.ndarray:
        """``[K, 3]`` (a, b, c) of the edges: inside where a x + b y + c <= 0."""
        edges = np.roll(self.outline, -1, axis=0) - self.outline
        normals = np.c_[edges[:, 1], -edges[:, 0]]
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        return np.c_[normals, -(normals * self.outline).sum(1)]

    @property
    def area(self) -> float:
        x, y = self.outline.T
        return float(0.5 * (x @ np.roll(y, -1) - y @ np.roll(x, -1)))

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """``[N]`` whether the ``[N, 2]`` points lie inside the outline grown by ``margin``."""
        eq = self.equations
        return np.all(np.asarray(xy) @ eq[:, :2].T + eq[:, 2] <= margin, axis=1)

    def grown(self, points: np.ndarray) -> TableTop:
        """The convex hull of this outline and the ``[M, 2]`` points."""
        return TableTop(_hull(np.r_[self.outline, np.asarray(points, float).reshape(-1, 2)]))

    def prism(self, bottom: float, top: float = 0.0) -> trimesh.Trimesh:
        """The convex solid over the outline between heights ``bottom`` and ``top``."""
        n = len(self.outline)
        return trimesh.convex.convex_hull(
            np.r_[np.c_[self.outline, np.full(n, bottom)], np.c_[self.outline, np.full(n, top)]]
        )


def _hull(xy: np.ndarray) -> np.ndarray:
    return xy[ConvexHull(xy).vertices]  # 2D: counter-clockwise


def find_table_top(
    points: np.ndarray,
    normals: np.ndarray,
    band: float,
    cell: float,
    min_share: float = 0.2,
    seen: np.ndarray | None = None,
) -> TableTop | None:
    """The table top from ``[S, 3]`` surface samples (world) and their ``[S, 3]`` normals, and
    the ``[K, 2]`` outline of the table that SfM ``seen`` (world xy; None when unknown): the
    convex hull of that outline and of the largest connected region of level samples (walls
    crossing the plane are not) within ``band`` of z = 0, on a grid of ``cell``. Without
    ``seen``, None when there is no such region or it covers less than ``min_share`` of the
    samples' xy extent (the plane holds no table)."""
    region = _level_region(points, normals, band, cell)
    if seen is not None and len(seen) >= 3:
        try:
            table = TableTop(_hull(np.asarray(seen, float).reshape(-1, 2)))
        except QhullError:
            return region
        return table if region is None else table.grown(region.outline)
    if region is None:
        return None
    extent = np.percentile(points[:, :2], 98, axis=0) - np.percentile(points[:, :2], 2, axis=0)
    return region if region.area >= min_share * float(np.prod(extent)) else None


def _level_region(
    points: np.ndarray, normals: np.ndarray, band: float, cell: float
) -> TableTop | None:
    """The convex hull of the largest connected region of level samples within ``band`` of
    z = 0 (``find_table_top``); None when there is none."""
    level = np.abs(normals[:, 2]) > 0.8
    flat = points[level & (np.abs(points[:, 2]) < band), :2]
    if len(flat) < 50:
        return None
    lo = flat.min(0) - 3 * cell
    ij = np.floor((flat - lo) / cell).astype(int)
    grid = np.zeros(tuple(ij.max(0)[::-1] + 4), bool)
    grid[ij[:, 1], ij[:, 0]] = True
    labels, count = ndimage.label(ndimage.binary_closing(grid, iterations=2))
    if count == 0:
        return None
    largest = 1 + int(np.argmax(ndimage.sum(grid, labels, range(1, count + 1))))
    rows, cols = np.nonzero(labels == largest)
    corners = np.concatenate([np.c_[cols + dc, rows + dr] for dr in (0, 1) for dc in (0, 1)])
    try:
        return TableTop(_hull(lo + corners * cell))
    except QhullError:
        return None
