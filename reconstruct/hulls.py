"""Convex collision hulls of an object's solid.

MuJoCo collides with a mesh's convex hull, so a concave object (a tray) must be split into
convex parts. Two methods:

- ``boxes`` (default): a convex solid (``solid``) is its own hull; a container (a height
  field whose floor is enclosed by walls) becomes a prism over its footprint up to the
  floor plus boxes over the walls (the largest rectangles of wall cells, greedily). Fast,
  and a container stays open.
- ``coacd``: CoACD's decomposition of the watertight mesh, for shapes that are not height
  fields. On our trays it covered 1.45x the solid's volume (the hulls close over the inside).

coacd breaks open3d if it is imported first, so open3d is imported here before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d  # noqa: F401  (must precede coacd)
import trimesh
from scipy import ndimage

from reconstruct.errors import ReconstructError
from reconstruct.solid import Solid

METHODS = ("boxes", "coacd")


@dataclass(frozen=True)
class HullConfig:
    """Attributes:
    method: ``boxes`` or ``coacd``.
    top_percentile: ``boxes``: a wall box's top is this percentile of its cells' heights.
    min_share: ``boxes``: walls are covered until less than this share is left.
    threshold: ``coacd``'s concavity threshold (smaller: more, tighter parts).
    max_hulls: at most this many parts.
    seed: ``coacd``'s seed.
    """

    method: str = "boxes"
    top_percentile: float = 75.0
    min_share: float = 0.15
    threshold: float = 0.05
    max_hulls: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ReconstructError(
                f"unknown hull method {self.method!r}; choose one of {', '.join(METHODS)}",
                field="objects.hulls.method",
            )


def largest_rectangle(mask: np.ndarray) -> tuple[int, int, int, int, int]:
    """(area, r0, r1, c0, c1) of the largest all-True rectangle of a 2D bool grid (inclusive
    bounds; area 0 when there is none), by the histogram-stack method."""
    rows, cols = mask.shape
    height = np.zeros(cols, int)
    best = (0, 0, -1, 0, -1)
    for r in range(rows):
        height = np.where(mask[r], height + 1, 0)
        stack: list[int] = []
        for c in range(cols + 1):
            h = height[c] if c < cols else 0
            while stack and height[stack[-1]] >= h:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = height[top] * (c - left)
                if area > best[0]:
                    best = (area, r - height[top] + 1, r, left, c - 1)
            stack.append(c)
    return best


def prism(solid: Solid, cells: np.ndarray, top: float) -> trimesh.Trimesh:
    """The convex prism from the table to ``top`` over the given ``[ny, nx]`` cells."""
    rows, cols = np.nonzero(cells)
    corners = np.concatenate([np.c_[cols + dc, rows + dr] for dr in (0, 1) for dc in (0, 1)])
    xy = solid.grid_origin + corners * solid.cell
    return trimesh.convex.convex_hull(
        np.r_[np.c_[xy, np.zeros(len(xy))], np.c_[xy, np.full(len(xy), top)]]
    )


def box_parts(solid: Solid, config: HullConfig = HullConfig()) -> list[trimesh.Trimesh]:
    """Convex parts (body frame) of a solid: a convex solid is its own hull; a container is
    a prism over its footprint up to its floor plus boxes over its walls."""
    if solid.floor is None:
        return [solid.mesh]
    footprint, heights = solid.footprint, solid.heights
    parts = [prism(solid, footprint, float(np.median(heights[solid.floor])))]
    walls = footprint & ndimage.binary_closing(heights >= solid.wall_height, iterations=2)
    left = walls.copy()
    while left.sum() > config.min_share * walls.sum() and len(parts) < config.max_hulls:
        area, r0, r1, c0, c1 = largest_rectangle(left)
        if area == 0:
            break
        block = np.zeros_like(walls)
        block[r0 : r1 + 1, c0 : c1 + 1] = True
        top = float(np.percentile(heights[block], config.top_percentile))
        lo = solid.grid_origin + np.array([c0, r0]) * solid.cell
        hi = solid.grid_origin + np.array([c1 + 1, r1 + 1]) * solid.cell
        box = trimesh.creation.box(extents=[*(hi - lo), top])
        box.apply_translation([*((lo + hi) / 2), top / 2])
        parts.append(box)
        left &= ~block
    return parts


def coacd_parts(mesh: trimesh.Trimesh, config: HullConfig = HullConfig()) -> list[trimesh.Trimesh]:
    """Convex parts of a watertight mesh (same frame) by CoACD, largest first."""
    import coacd

    coacd.set_log_level("error")
    parts = coacd.run_coacd(
        coacd.Mesh(np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)),
        threshold=config.threshold,
        max_convex_hull=config.max_hulls,
        preprocess_mode="off",  # the solids are already watertight and manifold
        seed=config.seed,
    )
    hulls = [trimesh.convex.convex_hull(np.asarray(v)) for v, _ in parts if len(v) >= 4]
    return sorted([h for h in hulls if h.volume > 0], key=lambda h: -h.volume)


def collision_hulls(solid: Solid, config: HullConfig = HullConfig()) -> list[trimesh.Trimesh]:
    """The solid's convex hulls by ``config.method``; each is convex by construction."""
    hulls = (
        box_parts(solid, config) if config.method == "boxes" else coacd_parts(solid.mesh, config)
    )
    if not hulls:
        raise ReconstructError("the convex decomposition found no solid part", field="objects")
    return hulls
