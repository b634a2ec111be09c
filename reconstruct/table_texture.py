"""Paint the table top's picture (``scene.table_texture``, ``sim_env.render.table_texture``)
from the frames.

Every texel of the picture is a point on the table plane (z = 0). It is projected into each
frame that sees it and the frames' colours are averaged, each weighted by how squarely the
frame looks at the table, down near its image border (seams fade), and not at all where an
object's solid covers the texel in that frame, and down where splats standing on the table
are opaque (there the frame shows an object or clutter, not the table behind it). Texels no frame saw (under the objects) are filled from their neighbours
(push-pull). The picture's alpha is the table's outline as the align stage found it.

The static splats the picture replaces are dropped: the table's surface under it, and its edge's
blur (splats the trainer hung beyond and under the edge to draw it: on the bundled tabletop twin
they showed as table-coloured speckles in the black beyond the table, and dropping them took the
best source-only locator from 0.37 to 0.50 of states located; source world 0.78).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from scipy.spatial import cKDTree

from reconstruct.background import project, push_pull, view_weight
from reconstruct.geometry import inside
from reconstruct.units import Units, in_units
from reconstruct.views import View
from sim_env.envmap import bilinear
from sim_env.splats import GaussianSet, rasterize

MIN_WEIGHT = 0.5  # a texel is seen when its frames' weights add up to this (about one frame)
TRUST_POWER = 4  # a frame's weight falls as (1 - standing splats' opacity) ** this


@dataclass(frozen=True)
class TableConfig:
    """Attributes:
    texel: the picture's texel, metres.
    image_width: the frames are painted from at this width, px.
    min_cosine: a frame paints a texel only when it looks at it within arccos(this) of the
        table's normal (0.35: about 70 degrees).
    standing: splats higher than this above the table (metres) stand on it: they hide the
        table in the frames that see them, and the package keeps them; the static splats
        below it, over the table, are the picture's now and are dropped.
    edge: the table's edge: static splats up to this far beyond the outline, below the
        table's top and no more than this below it, are the blur of the edge the picture
        draws sharp, and are dropped (the bundled twins': most within 6 cm out, 1-5 cm down).
    guard_height, guard_reach: a static splat higher than ``guard_height`` over the table
        within ``guard_reach`` (horizontally) of an edge splat keeps it: a wall or a cupboard
        beside the table, not the table's blur.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "texel", "standing", "edge", "guard_height", "guard_reach",
    )  # fmt: skip

    texel: float = 0.002
    image_width: int = 480
    min_cosine: float = 0.35
    standing: float = 0.008
    edge: float = 0.1
    guard_height: float = 0.05
    guard_reach: float = 0.03

    def in_units(self, units: Units) -> TableConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class TablePaint:
    """The painted picture and where it lies."""

    rgba: np.ndarray  # [H, W, 4] float32 in [0, 1]: colour, alpha 1 on the table, 0 beyond
    seen: np.ndarray  # [H, W] bool: some frame saw the texel (the others are filled)
    extent: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max, world units


def texel_grid(outline: np.ndarray, texel: float) -> tuple[np.ndarray, np.ndarray, tuple]:
    """World xy of every texel centre ``[H, W, 2]`` (row 0 at y_max), whether it lies inside
    the ``[K, 2]`` outline ``[H, W]``, and the grid's extent."""
    lo = np.floor(outline.min(0) / texel) * texel
    hi = np.ceil(outline.max(0) / texel) * texel
    cols, rows = np.maximum(np.round((hi - lo) / texel).astype(int), 2)
    x = lo[0] + (np.arange(cols) + 0.5) * texel
    y = hi[1] - (np.arange(rows) + 0.5) * texel
    xy = np.stack(np.meshgrid(x, y), axis=-1)
    polygon = np.round((outline - [lo[0], hi[1]]) / [texel, -texel] * 16).astype(np.int32)
    inside = np.zeros((rows, cols), np.uint8)
    cv2.fillPoly(inside, [polygon.reshape(-1, 1, 2)], 1, shift=4)
    extent = (float(lo[0]), float(hi[1] - rows * texel), float(lo[0] + cols * texel), float(hi[1]))
    return xy, inside.astype(bool), extent


def standing_alpha(views: Sequence[View], standing: GaussianSet | None) -> list[np.ndarray] | None:
    """[H, W] per view: the opacity of the splats standing on the table."""
    if standing is None or len(standing) == 0:
        return None
    g = standing
    return [
        rasterize(g.means, g.quats, g.scales, g.opacities, g.sh, v.viewmat, v.K, *v.size)[2]
        for v in views
    ]


def solid_masks(views: Sequence[View], solids: Sequence[np.ndarray]) -> list[np.ndarray]:
    """[H, W] bool per view: the pixels the convex ``solids`` (``[V, 3]`` world points each)
    cover, grown by 2 px."""
    masks = []
    for view in views:
        mask = np.zeros(view.image.shape[:2], np.uint8)
        for points in solids:
            cam = points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
            if np.any(cam[:, 2] <= 1e-6):
                continue  # reaches behind the camera: a frame that close is not used for it
            xy = (cam[:, :2] / cam[:, 2:]) * np.diag(view.K)[:2] + view.K[:2, 2]
            cv2.fillConvexPoly(mask, cv2.convexHull(np.round(xy * 16).astype(np.int32)), 1, 16, 4)
        masks.append(cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0)
    return masks


def paint_table(
    views: Sequence[View],
    outline: np.ndarray,  # [K, 2] the table's outline, world xy
    config: TableConfig,
    standing: GaussianSet | None = None,  # splats on the table, world frame
    solids: Sequence[np.ndarray] = (),  # [V, 3] world points of each convex object piece
) -> TablePaint:
    """The table picture painted from ``views`` (see the module)."""
    xy, on_table, extent = texel_grid(np.asarray(outline, np.float64), config.texel)
    points = np.concatenate([xy, np.zeros(xy.shape[:2] + (1,))], axis=-1)
    total = np.zeros(xy.shape[:2] + (3,), np.float64)
    weight = np.zeros(xy.shape[:2], np.float64)
    covered = standing_alpha(views, standing)
    hidden = solid_masks(views, solids) if len(solids) else None
    for i, view in enumerate(views):
        x, y, in_view = project(points, view)
        w, h = view.size
        to_camera = view.centre - points
        cosine = to_camera[..., 2] / np.linalg.norm(to_camera, axis=-1)
        ok = in_view & (cosine >= config.min_cosine)
        if hidden is not None:  # pixel (i, j) covers [i, i + 1) x [j, j + 1)
            col = np.clip(x[ok].astype(int), 0, w - 1)
            row = np.clip(y[ok].astype(int), 0, h - 1)
            ok[ok] = ~hidden[i][row, col]
        if not ok.any():
            continue
        wv = np.zeros_like(weight)
        wv[ok] = view_weight(x[ok], y[ok], w, h) * cosine[ok]
        if covered is not None:
            opacity = bilinear(covered[i][..., None], x[ok], y[ok], wrap_x=False)[:, 0]
            wv[ok] *= np.clip(1.0 - opacity, 0.0, 1.0) ** TRUST_POWER
        total[ok] += wv[ok, None] * bilinear(view.image, x[ok], y[ok], wrap_x=False)
        weight += wv
    seen = weight >= MIN_WEIGHT
    rgb = np.where(seen[..., None], total / np.maximum(weight, 1e-12)[..., None], 0.0)
    filled = push_pull(rgb.astype(np.float32), seen.astype(np.float32), wrap_x=False)
    rgba = np.concatenate([filled, on_table[..., None].astype(np.float32)], axis=-1)
    return TablePaint(np.clip(rgba, 0.0, 1.0), seen, extent)


def write_picture(paint: TablePaint, path: Path) -> None:
    """The picture as an 8-bit RGBA PNG (row 0 at y_max, as ``scene.table_texture`` reads)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rgba = (paint.rgba * 255.0 + 0.5).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(path)


def table_layer(gaussians: GaussianSet, paint: TablePaint, standing: float) -> np.ndarray:
    """[N] whether each static Gaussian is the table's surface where the picture shows it
    (centre below ``standing`` over a texel of the table)."""
    x_min, y_min, x_max, y_max = paint.extent
    rows, cols = paint.rgba.shape[:2]
    col = np.floor((gaussians.means[:, 0] - x_min) / (x_max - x_min) * cols).astype(int)
    row = np.floor((y_max - gaussians.means[:, 1]) / (y_max - y_min) * rows).astype(int)
    ok = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    table = np.zeros(len(gaussians), bool)
    table[ok] = paint.rgba[row[ok], col[ok], 3] >= 0.5
    return table & (gaussians.means[:, 2] < standing)


def outline_distance(outline: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """[N] how far the ``[N, 2]`` points lie outside the convex counter-clockwise ``outline``
    ``[K, 2]`` (0 inside)."""
    a = np.asarray(outline, np.float64)
    ab = np.roll(a, -1, axis=0) - a
    along = np.einsum("nkd,kd->nk", xy[:, None, :] - a[None], ab) / np.einsum("kd,kd->k", ab, ab)
    nearest = a[None] + np.clip(along, 0.0, 1.0)[..., None] * ab[None]
    distance = np.linalg.norm(xy[:, None, :] - nearest, axis=-1).min(axis=1)
    return np.where(inside(a, xy), 0.0, distance)


def edge_layer(gaussians: GaussianSet, outline: np.ndarray, config: TableConfig) -> np.ndarray:
    """[N] whether each static Gaussian is the blur of the table's edge (see ``TableConfig``)."""
    xy, z = gaussians.means[:, :2], gaussians.means[:, 2]
    beyond = outline_distance(outline, xy)
    edge = (beyond > 0) & (beyond <= config.edge) & (z < config.standing) & (z > -config.edge)
    tall = z > config.guard_height
    if edge.any() and tall.any():
        near = cKDTree(xy[tall]).query(xy[edge], distance_upper_bound=config.guard_reach)[0]
        edge[np.flatnonzero(edge)[np.isfinite(near)]] = False
    return edge


def summary(paint: TablePaint, views: int, dropped: int, edge: int = 0) -> dict[str, Any]:
    rows, cols = paint.rgba.shape[:2]
    on_table = paint.rgba[..., 3] >= 0.5
    return {
        "views": views,
        "size_px": [cols, rows],
        "extent": list(paint.extent),
        "seen": round(float(paint.seen[on_table].mean()) if on_table.any() else 0.0, 4),
        "dropped_gaussians": dropped,
        "edge_gaussians": edge,
    }
