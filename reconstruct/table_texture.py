"""Paint the table top's picture (``scene.table_texture``, ``sim_env.render.table_texture``)
from the frames.

Every texel of the picture is a point on the table plane (z = 0). It is projected into each
frame that sees it and the frames' colours are averaged, each weighted by how squarely the
frame looks at the table, down near its image border (seams fade), and not at all where an
object's solid covers the texel in that frame, and down where splats standing on the table
are opaque (there the frame shows an object or clutter, not the table behind it). The picture's
alpha is the table's outline as the align stage found it.

Texels no frame saw (under the objects), and each object's footprint grown by ``margin``
whatever the frames saw there, are painted from the bare table's frames when it was filmed with
the objects taken off (``reconstruct.bare_table``; their colours matched to the scan's on the
texels both saw), and otherwise filled with a copy of the table beside them
(``reconstruct.holefill.match_shifts``: the stretch whose band of table best matches the band
around the hole), so the grain continues. The frames' pixels at an object's foot mix in its
colour, and a smooth fill (push-pull) from them spread it under the whole footprint: on the
bundled tabletop twin a blue disc where the can stood and a pink smear under the red box, and
smooth patches under the tray and the green box that a locator reads as table unlike the rest.
Push-pull is kept only for pieces no stretch of table within ``reach`` fits.

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
from reconstruct.holefill import match_shifts
from reconstruct.units import Units, in_units
from reconstruct.views import View
from sim_env.envmap import bilinear
from sim_env.splats import GaussianSet, rasterize

MIN_WEIGHT = 0.5  # a texel is seen when its frames' weights add up to this (about one frame)
TRUST_POWER = 4  # a frame's weight falls as (1 - standing splats' opacity) ** this
MIN_COMMON = 200  # texels both pictures saw, at least, to match the bare one's colours


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
    margin: each object's footprint (its solids seen from above) grows by this and is filled,
        not painted.
    band: the band of table around a hole whose colours pick the stretch to copy into it.
    reach: how far (beyond the hole's own size) that stretch may lie.
    tile: a hole no whole stretch fits is filled in pieces of this size.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "texel", "standing", "edge", "guard_height", "guard_reach", "margin", "band", "reach",
        "tile",
    )  # fmt: skip

    texel: float = 0.002
    image_width: int = 480
    min_cosine: float = 0.35
    standing: float = 0.008
    edge: float = 0.1
    guard_height: float = 0.05
    guard_reach: float = 0.03
    margin: float = 0.01
    band: float = 0.012
    reach: float = 0.06
    tile: float = 0.04

    def in_units(self, units: Units) -> TableConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class TablePaint:
    """The painted picture and where it lies."""

    rgba: np.ndarray  # [H, W, 4] float32 in [0, 1]: colour, alpha 1 on the table, 0 beyond
    seen: np.ndarray  # [H, W] bool: some frame saw the texel and no footprint covers it
    extent: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max, world units
    copied: np.ndarray  # [H, W] bool: filled with a copy of the table beside it
    bare: np.ndarray  # [H, W] bool: painted from the bare table's frames (the rest of ~seen,
    # neither copied nor bare: push-pull)


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


def footprints(
    solids: Sequence[np.ndarray], extent: tuple[float, ...], shape: tuple[int, int], margin: float
) -> np.ndarray:
    """[H, W] bool: the texels under any of the convex ``solids`` (``[V, 3]`` world points
    each) seen from above, grown by ``margin`` (world units)."""
    cols = shape[1]
    texel = (extent[2] - extent[0]) / cols
    mask = np.zeros(shape, np.uint8)
    for points in solids:
        uv = (np.asarray(points)[:, :2] - [extent[0], extent[3]]) / [texel, -texel]
        hull = cv2.convexHull(np.round(uv * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, 4)
    grow = int(np.ceil(margin / texel))
    if grow > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
        mask = cv2.dilate(mask, kernel)
    return mask.astype(bool)


def copy_fill(
    smooth: np.ndarray,  # [H, W, 3] the painted picture, holes filled smoothly
    usable: np.ndarray,  # [H, W] bool: painted table that may be copied
    holes: np.ndarray,  # [H, W] bool: texels to fill
    config: TableConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """``smooth`` with ``holes`` filled by copies of the table beside them where one fits (the
    smooth fill stays where none does), and the ``[H, W]`` mask of the copied texels."""
    out = smooth.copy()
    copied = np.zeros(holes.shape, bool)
    if not holes.any() or not usable.any():
        return out, copied
    texel = config.texel
    band, steps = max(1, round(config.band / texel)), max(2, round(config.reach / texel))
    tile = max(1, round(config.tile / texel)) if config.tile > 0 else 0
    for region, shift in match_shifts(smooth, usable, holes, band, steps, tile):
        if shift is None:
            continue
        rows, cols = np.nonzero(region)
        out[rows, cols] = smooth[rows + shift[0], cols + shift[1]]
        copied |= region
    return out, copied


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


def _accumulate(
    views: Sequence[View],
    points: np.ndarray,  # [H, W, 3] texel centres, world
    config: TableConfig,
    covered: list[np.ndarray] | None = None,
    hidden: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted colour sum ``[H, W, 3]`` and weight ``[H, W]`` of the texels over ``views``."""
    total = np.zeros(points.shape[:2] + (3,), np.float64)
    weight = np.zeros(points.shape[:2], np.float64)
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
    return total, weight


def matched_colours(
    rgb: np.ndarray,  # [H, W, 3] the scan's picture
    other: np.ndarray,  # [H, W, 3] another picture of the same table (the bare frames')
    common: np.ndarray,  # [H, W] bool: texels both saw
) -> np.ndarray:
    """``other`` with each channel mapped (gain and offset, least squares on ``common``) to
    ``rgb``'s colours: the bare table is filmed later, under another exposure."""
    if common.sum() < MIN_COMMON:
        return other
    out = other.copy()
    for c in range(3):
        a = np.c_[other[common, c], np.ones(int(common.sum()))]
        gain, offset = np.linalg.lstsq(a, rgb[common, c], rcond=None)[0]
        out[..., c] = gain * other[..., c] + offset
    return out


def paint_table(
    views: Sequence[View],
    outline: np.ndarray,  # [K, 2] the table's outline, world xy
    config: TableConfig,
    standing: GaussianSet | None = None,  # splats on the table, world frame
    solids: Sequence[np.ndarray] = (),  # [V, 3] world points of each convex object piece
    bare: Sequence[View] = (),  # the table filmed with the objects taken off
) -> TablePaint:
    """The table picture painted from ``views`` (see the module)."""
    xy, on_table, extent = texel_grid(np.asarray(outline, np.float64), config.texel)
    points = np.concatenate([xy, np.zeros(xy.shape[:2] + (1,))], axis=-1)
    covered = standing_alpha(views, standing)
    hidden = solid_masks(views, solids) if len(solids) else None
    total, weight = _accumulate(views, points, config, covered, hidden)
    under = footprints(solids, extent, on_table.shape, config.margin)
    seen = (weight >= MIN_WEIGHT) & ~under
    rgb = np.where(seen[..., None], total / np.maximum(weight, 1e-12)[..., None], 0.0)
    from_bare = np.zeros_like(seen)
    if len(bare):
        bare_total, bare_weight = _accumulate(bare, points, config)
        bare_seen = bare_weight >= MIN_WEIGHT
        bare_rgb = bare_total / np.maximum(bare_weight, 1e-12)[..., None]
        bare_rgb = matched_colours(rgb, bare_rgb, seen & bare_seen & on_table)
        from_bare = ~seen & bare_seen & on_table
        rgb[from_bare] = bare_rgb[from_bare]
    known = seen | from_bare
    smooth = push_pull(rgb.astype(np.float32), known.astype(np.float32), wrap_x=False)
    filled, copied = copy_fill(smooth, known & on_table, ~known & on_table, config)
    rgba = np.concatenate([filled, on_table[..., None].astype(np.float32)], axis=-1)
    return TablePaint(np.clip(rgba, 0.0, 1.0), seen, extent, copied, from_bare)


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


def summary(
    paint: TablePaint, views: int, dropped: int, edge: int = 0, bare_views: int = 0
) -> dict[str, Any]:
    rows, cols = paint.rgba.shape[:2]
    on_table = paint.rgba[..., 3] >= 0.5
    return {
        "views": views,
        "bare_views": bare_views,
        "size_px": [cols, rows],
        "extent": list(paint.extent),
        "seen": round(float(paint.seen[on_table].mean()) if on_table.any() else 0.0, 4),
        "copied": round(float(paint.copied[on_table].mean()) if on_table.any() else 0.0, 4),
        "bare": round(float(paint.bare[on_table].mean()) if on_table.any() else 0.0, 4),
        "smooth": round(
            float((~paint.seen & ~paint.copied & ~paint.bare)[on_table].mean())
            if on_table.any()
            else 0.0,
            4,
        ),
        "dropped_gaussians": dropped,
        "edge_gaussians": edge,
    }
