"""An object's solid from the surface samples seen above the table, and its body frame.

A phone orbiting a table sees objects from above and the sides, never from below, and objects
rest on the table: so an object is taken as the solid between the table (z = 0) and its
observed top surface, a height field over its footprint. An object whose low cells are
enclosed by high ones (a tray's floor inside its walls) is a container and keeps the height
field's extrusion (watertight by construction, open upward). Any other object is the convex
hull of its samples and their shadow on the table: fused depth rounds small objects' tops
and edges down, and where a top is missing (a box's lid coloured like its inside) the hull
still closes it; the splats' opaque centres, which sit on the surfaces, join the samples.

Body frame: the origin is the centre of the footprint's minimum-area rectangle on the table
(z = 0); x runs along the rectangle's longer side (yaw in (-90, 90] degrees), for a nearly
square footprint the yaw is taken in (-45, 45], and a round footprint gets yaw 0. The source
world builds its objects with the same convention, so poses transfer between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree

from reconstruct.errors import ReconstructError
from reconstruct.units import Units, in_units


@dataclass(frozen=True)
class SolidConfig:
    """Attributes:
    cell: height-field cell size, metres.
    closing: footprint gaps up to this many cells are closed.
    square_ratio: footprints with a side ratio below this are treated as square.
    round_fill: a squarish footprint filling less than this fraction of its rectangle is round.
    top_percentile: a convex object's samples are clipped at this height percentile (stray
        points above the top would lift the hull).
    min_depth: a container's floor lies at least this far below its walls (m), ...
    min_floor: ... covers at least this share of its footprint, ...
    max_open_floor: ... of which at most this share touches the footprint's outline.
    max_triangles: a container's extruded mesh is simplified to this many triangles.
    surface_opacity: refined Gaussians at least this opaque ...
    surface_floor: ... centred higher than this above the table ...
    surface_spacing: ... with at least ``surface_neighbours`` others this close lie on the
        object's surface (``splat_surface``); ...
    surface_wall: ... those standing this high give a convex object's outline (the table's
        Gaussians around its foot stand lower) ...
    min_surface: ... and at least this many are needed to shape a solid from them.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "cell", "min_depth", "surface_floor", "surface_spacing", "surface_wall"
    )  # fmt: skip

    cell: float = 0.0025
    closing: int = 2
    square_ratio: float = 1.15
    round_fill: float = 0.88
    top_percentile: float = 98.0
    max_triangles: int = 4000
    min_depth: float = 0.015
    min_floor: float = 0.2
    max_open_floor: float = 0.3
    surface_opacity: float = 0.8
    surface_floor: float = 0.003
    surface_spacing: float = 0.008
    surface_neighbours: int = 5
    surface_wall: float = 0.01
    min_surface: int = 30

    def in_units(self, units: Units) -> SolidConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class Solid:
    """An object's watertight mesh in its body frame and where that frame is in the world."""

    position: np.ndarray  # [3] body origin in the world, metres (z = 0)
    yaw: float  # radians about world z
    mesh: trimesh.Trimesh  # body frame, bottom at z = 0
    footprint: np.ndarray  # [ny, nx] bool cells, body frame
    heights: np.ndarray  # [ny, nx] metres over the footprint (0 elsewhere)
    grid_origin: np.ndarray  # [2] body-frame xy of cell (0, 0)'s corner
    cell: float
    floor: np.ndarray | None = None  # [ny, nx] a container's floor cells, None otherwise
    wall_height: float = 0.0  # a container's floor/wall threshold, metres

    @property
    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def to_body(self, points: np.ndarray) -> np.ndarray:
        """``[N, 3]`` world points -> body frame."""
        return (np.asarray(points) - self.position) @ self.rotation

    def to_world(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) @ self.rotation.T + self.position

    def inside_footprint(self, points_body: np.ndarray, margin: float) -> np.ndarray:
        """``[N]`` whether body-frame points lie over the footprint dilated by ``margin``."""
        grown = ndimage.binary_dilation(
            self.footprint, iterations=max(0, int(np.ceil(margin / self.cell)))
        )
        ij = np.floor((points_body[:, :2] - self.grid_origin) / self.cell).astype(int)
        ny, nx = grown.shape
        ok = (ij[:, 0] >= 0) & (ij[:, 0] < nx) & (ij[:, 1] >= 0) & (ij[:, 1] < ny)
        out = np.zeros(len(points_body), bool)
        out[ok] = grown[ij[ok, 1], ij[ok, 0]]
        return out


def occupancy(
    xy: np.ndarray, origin: np.ndarray, shape: tuple[int, int], cell: float
) -> np.ndarray:
    """``[ny, nx]`` cells holding at least one of the ``[N, 2]`` points."""
    ij = np.floor((xy - origin) / cell).astype(int)
    grid = np.zeros(shape, bool)
    grid[ij[:, 1], ij[:, 0]] = True
    return grid


def clean_footprint(grid: np.ndarray, closing: int) -> np.ndarray:
    """Close gaps, fill holes, keep the largest piece, remove diagonal-only contacts (so the
    extruded mesh's edges are each shared by exactly two faces)."""
    mask = ndimage.binary_closing(np.pad(grid, closing + 1), iterations=closing)[
        closing + 1 : -closing - 1, closing + 1 : -closing - 1
    ]
    mask = ndimage.binary_fill_holes(mask | grid)
    labels, count = ndimage.label(mask)
    if count > 1:
        mask = labels == (1 + int(np.argmax(ndimage.sum(mask, labels, range(1, count + 1)))))
    for _ in range(4):  # a 2x2 block [[1, 0], [0, 1]] or [[0, 1], [1, 0]]: fill a corner
        a, b, c, d = mask[:-1, :-1], mask[:-1, 1:], mask[1:, :-1], mask[1:, 1:]
        pinch = (a & d & ~b & ~c) | (b & c & ~a & ~d)
        if not pinch.any():
            break
        rows, cols = np.nonzero(pinch)
        mask[rows, cols + 1] = True
    return mask


def body_yaw(xy: np.ndarray, config: SolidConfig) -> tuple[np.ndarray, float]:
    """Footprint rectangle centre ``[2]`` (world) and yaw (rad) by the module's convention."""
    lo = xy.min(0) - 2 * config.cell
    shape = tuple((np.ceil((xy.max(0) + 2 * config.cell - lo) / config.cell)).astype(int)[::-1])
    mask = clean_footprint(occupancy(xy, lo, shape, config.cell), config.closing)
    rows, cols = np.nonzero(mask)
    cells = np.c_[cols, rows].astype(np.float32) + 0.5
    box = cv2.boxPoints(cv2.minAreaRect(cells)) * config.cell + lo  # [4, 2] world corners
    centre = box.mean(0)
    edges = [box[1] - box[0], box[2] - box[1]]
    lengths = [float(np.linalg.norm(e)) for e in edges]
    longer = edges[int(np.argmax(lengths))]
    yaw = float(np.arctan2(longer[1], longer[0]))
    aspect = max(lengths) / max(min(lengths), 1e-9)
    period = np.pi if aspect >= config.square_ratio else np.pi / 2
    yaw = (yaw + period / 2) % period - period / 2  # into [-period/2, period/2)
    fill = mask.sum() * config.cell**2 / max(lengths[0] * lengths[1], 1e-12)
    if aspect < config.square_ratio and fill < config.round_fill:
        yaw = 0.0
    return centre, yaw


def extrude(
    heights: np.ndarray, mask: np.ndarray, origin: np.ndarray, cell: float
) -> trimesh.Trimesh:
    """The watertight solid between z = 0 and ``heights`` over the ``mask`` cells.

    Args:
        heights: ``[ny, nx]`` metres (read where ``mask``).
        mask: ``[ny, nx]`` bool footprint, without diagonal-only contacts.
        origin: ``[2]`` xy of cell (0, 0)'s corner; cells are ``cell`` metres wide.
    """
    ny, nx = mask.shape
    corner_h = np.zeros((ny + 1, nx + 1))
    corner_n = np.zeros((ny + 1, nx + 1))
    for dy in (0, 1):
        for dx in (0, 1):
            corner_h[dy : dy + ny, dx : dx + nx] += np.where(mask, heights, 0.0)
            corner_n[dy : dy + ny, dx : dx + nx] += mask
    top_z = corner_h / np.maximum(corner_n, 1)
    gy, gx = np.mgrid[0 : ny + 1, 0 : nx + 1]
    n_corners = (ny + 1) * (nx + 1)
    xy = np.c_[gx.ravel() * cell + origin[0], gy.ravel() * cell + origin[1]]
    vertices = np.r_[np.c_[xy, top_z.ravel()], np.c_[xy, np.zeros(n_corners)]]

    def vid(row, col, bottom=False):
        return row * (nx + 1) + col + (n_corners if bottom else 0)

    rows, cols = np.nonzero(mask)
    a, b = vid(rows, cols), vid(rows, cols + 1)
    c, d = vid(rows + 1, cols + 1), vid(rows + 1, cols)
    faces = [np.c_[a, b, c], np.c_[a, c, d]]  # top, counter-clockwise from above
    faces += [
        np.c_[a + n_corners, c + n_corners, b + n_corners],
        np.c_[a + n_corners, d + n_corners, c + n_corners],
    ]
    padded = np.pad(mask, 1)
    inner = padded[1:-1, 1:-1]
    for (dr, dc), (p, q) in {
        (0, 1): ((0, 1), (1, 1)),  # +x side: corners (r, c+1) -> (r+1, c+1)
        (0, -1): ((1, 0), (0, 0)),
        (1, 0): ((1, 1), (1, 0)),  # +y side
        (-1, 0): ((0, 0), (0, 1)),
    }.items():
        neighbour = padded[1 + dr : 1 + dr + ny, 1 + dc : 1 + dc + nx]
        r, cc = np.nonzero(inner & ~neighbour)
        u, v = vid(r + p[0], cc + p[1]), vid(r + q[0], cc + q[1])
        faces += [np.c_[u, u + n_corners, v + n_corners], np.c_[u, v + n_corners, v]]
    mesh = trimesh.Trimesh(vertices, np.concatenate(faces), process=False)
    mesh.remove_unreferenced_vertices()
    return mesh


def otsu(values: np.ndarray) -> float:
    """The threshold splitting ``values`` into two classes of greatest between-class variance."""
    ordered = np.sort(values)
    n = len(ordered)
    prefix = np.cumsum(ordered)
    k = np.arange(1, n)
    mean_low, mean_high = prefix[:-1] / k, (prefix[-1] - prefix[:-1]) / (n - k)
    i = int(np.argmax(k * (n - k) * (mean_high - mean_low) ** 2))
    return float((ordered[i] + ordered[i + 1]) / 2)


def container_floor(
    footprint: np.ndarray, heights: np.ndarray, config: SolidConfig
) -> tuple[np.ndarray, float] | None:
    """A container's floor cells and its floor/wall height threshold, or None."""
    if footprint.sum() < 16:
        return None
    threshold = otsu(heights[footprint])
    low = footprint & (heights < threshold)
    high = footprint & ~low
    if not low.any() or not high.any():
        return None
    rim = footprint & ~ndimage.binary_erosion(footprint, iterations=2)
    enclosed = (low & rim).sum() <= config.max_open_floor * low.sum()
    deep = np.median(heights[high]) - np.median(heights[low]) >= config.min_depth
    big = low.sum() >= config.min_floor * footprint.sum()
    return (low, threshold) if enclosed and deep and big else None


def convex_solid(points: np.ndarray, top_percentile: float) -> trimesh.Trimesh:
    """The convex hull of ``[N, 3]`` body-frame points clipped at a height percentile and of
    their shadow on the table."""
    clipped = points.copy()
    clipped[:, 2] = np.minimum(clipped[:, 2], np.percentile(points[:, 2], top_percentile))
    shadow = np.c_[points[:, :2], np.zeros(len(points))]
    return trimesh.convex.convex_hull(np.r_[clipped, shadow])


def simplified(mesh: trimesh.Trimesh, max_triangles: int) -> trimesh.Trimesh:
    """``mesh`` decimated (quadric error) to at most ``max_triangles``, if it stays watertight;
    otherwise ``mesh`` itself."""
    if len(mesh.faces) <= max_triangles:
        return mesh
    import open3d as o3d

    source = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces)
    )
    reduced = source.simplify_quadric_decimation(max_triangles)
    out = trimesh.Trimesh(np.asarray(reduced.vertices), np.asarray(reduced.triangles), process=True)
    return out if out.is_watertight and out.volume > 0 else mesh


def splat_surface(means: np.ndarray, opacities: np.ndarray, config: SolidConfig) -> np.ndarray:
    """``[K, 3]`` the centres of the ``[N, 3]`` Gaussians (``[N]`` opacities) that lie on an
    object's surface: opaque, above the table, and in a dense crowd. Gaussians refined at the
    phone's resolution (a few mm each) sit on the surface; a lone one stands off it."""
    keep = (opacities >= config.surface_opacity) & (means[:, 2] > config.surface_floor)
    points = means[keep]
    if len(points) <= config.surface_neighbours:
        return points[:0]
    crowd = cKDTree(points).query_ball_point(points, config.surface_spacing, return_length=True)
    return points[crowd > config.surface_neighbours]  # the count includes the point itself


def build_solid(
    points: np.ndarray, config: SolidConfig = SolidConfig(), support: np.ndarray | None = None
) -> Solid:
    """The solid and body frame of an object from its ``[P, 3]`` world surface samples;
    ``support`` ``[S, 3]`` are extra surface points (the splats' opaque centres), used
    where they lie over the footprint."""
    if len(points) < 10:
        raise ReconstructError("an object has fewer than 10 surface samples", field="objects")
    centre, yaw = body_yaw(points[:, :2], config)
    position = np.array([centre[0], centre[1], 0.0])
    c, s = np.cos(yaw), np.sin(yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    body = (points - position) @ rotation
    cell = config.cell
    lo = body[:, :2].min(0) - 2 * cell
    shape = tuple((np.ceil((body[:, :2].max(0) + 2 * cell - lo) / cell)).astype(int)[::-1])
    ij = np.floor((body[:, :2] - lo) / cell).astype(int)
    top = np.full(shape, -np.inf)
    np.maximum.at(top, (ij[:, 1], ij[:, 0]), body[:, 2])
    seen = np.isfinite(top)
    mask = clean_footprint(seen, config.closing)
    _, nearest = ndimage.distance_transform_edt(~seen, return_indices=True)
    heights = top[nearest[0], nearest[1]]  # unseen cells take their nearest seen cell's height
    heights = ndimage.median_filter(heights, size=3)
    heights = np.where(mask, np.maximum(heights, cell), 0.0)
    floor = container_floor(mask, heights, config)
    if floor is not None:
        return Solid(
            position,
            yaw,
            simplified(extrude(heights, mask, lo, cell), config.max_triangles),
            mask,
            heights,
            lo,
            cell,
            floor[0],
            floor[1],
        )
    cloud = body
    if support is not None and len(support):
        extra = (np.asarray(support) - position) @ rotation
        sij = np.floor((extra[:, :2] - lo) / cell).astype(int)
        inside = np.all((sij >= 0) & (sij < np.array(shape[::-1])), axis=1)
        inside[inside] = mask[sij[inside, 1], sij[inside, 0]]
        cloud = np.r_[body, extra[inside & (extra[:, 2] > 0)]]
    return Solid(position, yaw, convex_solid(cloud, config.top_percentile), mask, heights, lo, cell)
