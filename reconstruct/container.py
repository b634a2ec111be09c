"""Open containers (a tray, a crate, a bowl) found whole from their walls.

A scan keeps a container's walls and loses much of its floor and of their tops: the floor
stands a few millimetres above the table, and where few views saw a wall its fused top dips
to 1-1.5 cm, under the height that seeds a candidate (``segment``). So the walls come out as
separate candidates (3-5 for the synthetic tray in the reduced build, joined only by wall
stretches too low to be candidates), and a solid built from them as a block, or as the hull
of the pieces found. The geometry on the table decides what belongs together:

- walls are the cells (``cell``) whose highest sample stands at least ``wall_height`` up,
  less any part wide enough to hold a disc ``max_wall_width`` across (a box's, a can's or a
  statue's top): a wall is thin;
- gaps up to ``max_gap`` between walls are closed; each connected set of walls is one
  container's, at most ``max_size`` across, and its floor is the largest region inside its
  convex outline that is not wall;
- walls enclose a floor when it covers at least ``min_floor`` of the outline, no more than
  ``max_clutter`` of it lies under something wide (an object standing there: the floor is
  empty) and, looking from its cells in 16 directions, at least ``min_enclosed`` of the
  looks meet a wall: measured on rectangles 1-3 times as long as wide, a ring 1.0, a U
  0.64-0.88 (0.72-0.80 up to 4:3), an L 0.57-0.61.

The candidates standing mostly over a container's walls and floor are its pieces
(``segment``). Two walls meeting at a corner (an L) enclose nothing: they do not say which
side the floor is on (a tray's corner, or two thin things set at right angles), so they stay
the candidates they were and the user's edits may merge them (a solid of them is then their
hull, ``solid``); so do boxes side by side and boxes around an empty patch (no walls).

Fusion also smears the walls: the synthetic tray's fused walls (1 cm thick) stand 1.5-3 cm
thick, its +x wall's outer face 1.5 cm out and its +y wall's 1 cm, so a solid of them was
3 x 2.4 cm too large and its centroid 9 mm off (the kitchen crate's 3-4 x 2-3 cm too large).
The splats' opaque centres sit on the surfaces, within the true walls: the container's
outline is cut to the convex hull of those over its walls (less lone ones,
``support_spacing``), its walls as thick as the fused ones stand in from that edge (twice
their median depth) and the rest inside is floor (``supported``); too few of them on the
walls (``min_support``), or too little floor left, keep the fused walls.

A container's solid is its walls and a thin floor over
the enclosed cells (as thick as its samples stand, at least ``floor_thickness``), over the
walls' and floor's outline only: not a block filled down from the walls' tops, and not the
table around it; the walls stand level, as high as their best-seen stretches. Lengths are metres (``ContainerConfig.in_units``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from reconstruct.errors import ReconstructError
from reconstruct.geometry import inside
from reconstruct.solid import Solid, SolidConfig, body_yaw, clean_footprint, extrude, simplified
from reconstruct.units import Units, in_units


@dataclass(frozen=True)
class ContainerConfig:
    """Attributes (metres, but the two shares):
    cell: grid cell of the walls and floor (at 2.5 mm, the solid's, simplifying a tray's mesh
        took 9-40 s, at 4 mm 0.4 s).
    wall_height: cells whose highest sample stands this high are wall (the synthetic tray's
        8 mm floor fuses at 5-10 mm, its low wall stretches at 10-15).
    max_wall_width: a wall is thinner than this (boxes and cans of 4.5 cm and more are not).
    max_gap: walls this close are one container's; gaps this wide are closed.
    max_size: a container is at most this wide (its outline's diagonal).
    min_floor: the floor covers at least this share of the container's outline, ...
    max_clutter: ... at most this share of it lies under something wide, ...
    min_enclosed: ... and at least this share of the looks from it meet a wall.
    floor_thickness: the thinnest floor a container is given (when it is seen at the table).
    rim_percentile: its walls all stand as high as this percentile of their cells' tops (a
        rim is level; fused tops dip where few views saw them: the reduced build's tray's
        walls 1-3 cm of 4.5, and unlike heights pulled its centroid 2-5 mm sideways).
    support_spacing: a splat centre on a wall has at least two others this close (the
        synthetic tray's lone ones, 8 of 210, stood 4-16 mm off its walls), ...
    min_support: ... and at least this many of them place the walls (fewer: the fused walls).
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "cell", "wall_height", "max_wall_width", "max_gap", "max_size", "floor_thickness",
        "support_spacing",
    )  # fmt: skip

    cell: float = 0.004
    wall_height: float = 0.01
    max_wall_width: float = 0.04
    max_gap: float = 0.06
    max_size: float = 0.5
    min_floor: float = 0.25
    max_clutter: float = 0.1
    min_enclosed: float = 0.68
    floor_thickness: float = 0.005
    rim_percentile: float = 90.0
    support_spacing: float = 0.008
    min_support: int = 30

    def __post_init__(self) -> None:
        for name in ("min_floor", "max_clutter", "min_enclosed"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ReconstructError(
                    f"must be a share in (0, 1], got {getattr(self, name)}",
                    field=f"objects.segment.container.{name}",
                )
        if not 0.0 < self.floor_thickness < self.wall_height:
            raise ReconstructError(
                f"must be positive and below wall_height ({self.wall_height})",
                field="objects.segment.container.floor_thickness",
            )

    def in_units(self, units: Units) -> ContainerConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class Enclosure:
    """Walls and the floor they enclose on a grid over the table (any frame with z up)."""

    walls: np.ndarray  # [ny, nx] bool, gaps closed
    floor: np.ndarray  # [ny, nx] bool
    origin: np.ndarray  # [2] xy of cell (0, 0)'s corner
    cell: float
    enclosed: float  # share of the looks from the floor that meet a wall

    @property
    def outline(self) -> np.ndarray:
        """``[ny, nx]`` the container's cells: walls and floor."""
        return self.walls | self.floor

    def contains(self, xy: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """``[N]`` whether the ``[N, 2]`` points lie over the outline (or over ``cells``)."""
        cells = self.outline if cells is None else cells
        ij = np.floor((np.asarray(xy) - self.origin) / self.cell).astype(int)
        ny, nx = self.walls.shape
        ok = (ij[:, 0] >= 0) & (ij[:, 0] < nx) & (ij[:, 1] >= 0) & (ij[:, 1] < ny)
        out = np.zeros(len(ij), bool)
        out[ok] = cells[ij[ok, 1], ij[ok, 0]]
        return out

    def occupied(self, xy: np.ndarray) -> np.ndarray:
        """``[ny, nx]`` the cells holding at least one of the ``[N, 2]`` points."""
        ij = np.floor((np.asarray(xy) - self.origin) / self.cell).astype(int)
        ny, nx = self.walls.shape
        ij = ij[(ij[:, 0] >= 0) & (ij[:, 0] < nx) & (ij[:, 1] >= 0) & (ij[:, 1] < ny)]
        out = np.zeros((ny, nx), bool)
        out[ij[:, 1], ij[:, 0]] = True
        return out

    def trimmed(self, high_xy: np.ndarray) -> np.ndarray:
        """``[ny, nx]`` the container's own cells: its floor and its walls out to twice the
        median distance of their sampled cells (``[N, 2]`` ``high_xy``) from the floor, without
        the bumps beside it that closing the gaps joined to them."""
        distance = ndimage.distance_transform_edt(~self.floor)
        sampled = self.occupied(high_xy) & self.walls
        if not sampled.any():
            return self.outline
        reach = 2 * float(np.median(distance[sampled])) + 1
        return self.floor | (self.walls & (distance <= reach))


def _grid(xy: np.ndarray, cell: float, pad: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Origin ``[2]`` and (ny, nx) of a grid of ``cell`` over ``[N, 2]`` points, centred on
    their box (a solid's outline overshoots them by the same on both sides), at least ``pad``
    cells of margin on every side."""
    lo, hi = xy.min(0), xy.max(0)
    counts = np.ceil((hi - lo) / cell).astype(int) + 2 * pad + 1
    origin = (lo + hi) / 2 - counts * cell / 2
    return origin, (int(counts[1]), int(counts[0]))


def _cells(xy: np.ndarray, origin: np.ndarray, shape: tuple[int, int], cell: float) -> np.ndarray:
    ij = np.floor((xy - origin) / cell).astype(int)
    grid = np.zeros(shape, bool)
    grid[ij[:, 1], ij[:, 0]] = True
    return grid


def high_samples(points: np.ndarray, config: ContainerConfig) -> np.ndarray:
    """``[H, 3]`` the samples standing at least ``wall_height`` up."""
    return points[points[:, 2] >= config.wall_height]


def disc(radius: float) -> np.ndarray:
    """A structuring element: the cells within ``radius`` (cells) of the centre."""
    span = np.arange(-int(radius), int(radius) + 1)
    return np.hypot(*np.meshgrid(span, span)) <= radius


def thin_cells(cells: np.ndarray, width: float) -> np.ndarray:
    """``[ny, nx]`` the ``cells`` not within two cells of a disc ``width`` across (``width`` in
    cells) that fits inside them: walls, without boxes, cans or statues."""
    whole = ndimage.binary_closing(np.pad(cells, 1))[1:-1, 1:-1]  # cells the samples missed
    thick = ndimage.binary_opening(whole, structure=disc(width / 2))
    return cells & ~ndimage.binary_dilation(thick, iterations=2)


def _convex_cells(cells: np.ndarray) -> np.ndarray:
    """``[ny, nx]`` the cells of the convex hull of the ``cells``' centres."""
    rows, cols = np.nonzero(cells)
    hull = cv2.convexHull(np.c_[cols, rows].astype(np.int32))
    out = np.zeros(cells.shape, np.uint8)
    cv2.fillConvexPoly(out, hull, 1)
    return out.astype(bool)


def enclosed_share(walls: np.ndarray, floor: np.ndarray, directions: int = 16) -> float:
    """The share of the looks from the ``floor`` cells in ``directions`` evenly spread
    directions that meet one of the ``walls`` cells (``[ny, nx]`` grids) before the grid's edge."""
    rows, cols = np.nonzero(floor)
    ny, nx = walls.shape
    met = 0
    for angle in np.arange(directions) * 2 * np.pi / directions:
        step = np.array([np.sin(angle), np.cos(angle)])
        looking = np.arange(len(rows))
        for k in range(1, int(np.hypot(ny, nx)) + 1):
            r = np.round(rows[looking] + k * step[0]).astype(int)
            c = np.round(cols[looking] + k * step[1]).astype(int)
            inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
            hit = np.zeros(len(looking), bool)
            hit[inside] = walls[r[inside], c[inside]]
            met += int(hit.sum())
            looking = looking[inside & ~hit]
            if not len(looking):
                break
    return met / max(directions * len(rows), 1)


def _enclosed_floor(
    walls: np.ndarray, thick: np.ndarray, config: ContainerConfig
) -> tuple[np.ndarray, float] | None:
    """The floor the ``walls`` cells enclose and its enclosed share, or None (module
    docstring); ``thick`` cells (an object standing there) must not cover it."""
    hull = _convex_cells(walls)
    labels, count = ndimage.label(hull & ~walls)
    if count == 0:
        return None
    sizes = ndimage.sum(np.ones(walls.shape), labels, range(1, count + 1))
    floor = labels == 1 + int(np.argmax(sizes))
    rows, cols = np.nonzero(walls | floor)
    diagonal = np.hypot(np.ptp(rows) + 1, np.ptp(cols) + 1) * config.cell
    if (
        floor.sum() < config.min_floor * (walls | floor).sum()
        or (floor & thick).sum() > config.max_clutter * floor.sum()
        or diagonal > config.max_size
    ):
        return None
    enclosed = enclosed_share(walls, floor)
    return (floor, enclosed) if enclosed >= config.min_enclosed else None


def enclosures(points: np.ndarray, config: ContainerConfig) -> list[Enclosure]:
    """Every set of thin walls among the ``[P, 3]`` samples that encloses an empty floor
    (module docstring), on one grid."""
    high = high_samples(points, config)
    if len(high) < 10:
        return []
    close = max(1.0, config.max_gap / 2 / config.cell)
    origin, shape = _grid(high[:, :2], config.cell, int(close) + 2)
    seen = _cells(high[:, :2], origin, shape, config.cell)
    thin = thin_cells(seen, config.max_wall_width / config.cell)
    closed = ndimage.binary_closing(thin, structure=disc(close))
    labels, count = ndimage.label(closed, structure=np.ones((3, 3)))
    found = []
    for label in range(1, count + 1):
        walls = labels == label
        floor = _enclosed_floor(walls, seen & ~thin, config)
        if floor is not None:
            found.append(Enclosure(walls, floor[0], origin, config.cell, floor[1]))
    return found


def enclosure(points: np.ndarray, config: ContainerConfig) -> Enclosure | None:
    """The largest of the ``enclosures`` of the ``[P, 3]`` samples; None when there is none."""
    found = enclosures(points, config)
    return max(found, key=lambda e: int(e.outline.sum())) if found else None


def rim_height(
    high: np.ndarray, walls: np.ndarray, origin: np.ndarray, cell: float, percentile: float
) -> float:
    """The ``percentile`` of the highest of the ``[H, 3]`` samples in each of the ``walls``
    cells that holds one: the height of the best-seen stretches of the rim."""
    ij = np.floor((high[:, :2] - origin) / cell).astype(int)
    inside = np.all((ij >= 0) & (ij < np.array(walls.shape[::-1])), axis=1)
    top = np.full(walls.shape, -np.inf)
    np.maximum.at(top, (ij[inside, 1], ij[inside, 0]), high[inside, 2])
    tops = top[walls & np.isfinite(top)]
    return float(np.percentile(tops, percentile)) if len(tops) else 0.0


def refined_frame(
    xy: np.ndarray, centre: np.ndarray, yaw: float, max_turn: float = np.radians(3.0)
) -> tuple[np.ndarray, float]:
    """``body_yaw``'s ``centre`` ``[2]`` and ``yaw`` (rad) refined by the minimum-area
    rectangle of the ``[N, 2]`` samples themselves, not of their cells (whose staircase turned
    a tray's frame by 1-2 degrees and grew its footprint by 3-4 mm a side): its angle the
    nearest to ``yaw`` by quarter turns, when that is within ``max_turn`` (a round footprint's
    yaw 0 stays)."""
    (cx, cy), _, degrees = cv2.minAreaRect(np.asarray(xy, np.float32))
    turns = np.radians(degrees) + np.arange(-4, 5) * np.pi / 2
    nearest = float(turns[np.argmin(np.abs(turns - yaw))])
    if abs(nearest - yaw) > max_turn:
        return centre, yaw
    return np.array([cx, cy]), nearest


def wall_support(xy: np.ndarray, found: Enclosure, config: ContainerConfig) -> np.ndarray:
    """``[K, 2]`` the ``[S, 2]`` support points over ``found``'s walls (or a cell from them)
    with at least two others within ``support_spacing``: a lone splat stands off the surface."""
    near = ndimage.binary_dilation(found.walls, iterations=1)
    xy = xy[found.contains(xy, near)]
    if len(xy) < 3:
        return xy[:0]
    neighbours = cKDTree(xy).query_ball_point(xy, config.support_spacing, return_length=True)
    return xy[neighbours >= 3]


def _hull_cells(
    xy: np.ndarray, origin: np.ndarray, shape: tuple[int, int], cell: float
) -> np.ndarray:
    """``[ny, nx]`` the cells whose centres lie inside the convex hull of the ``[K, 2]`` points
    (all of them when the points are collinear: no hull to cut by)."""
    hull = cv2.convexHull(((xy - origin) / cell).astype(np.float32))[:, 0].astype(float)
    ahead = np.roll(hull, -1, axis=0)
    twice_area = np.sum(hull[:, 0] * ahead[:, 1] - ahead[:, 0] * hull[:, 1])
    if len(hull) < 3 or twice_area == 0:
        return np.ones(shape, bool)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    ccw = hull if twice_area > 0 else hull[::-1]
    return inside(ccw, np.c_[cols.ravel(), rows.ravel()]).reshape(shape)


def supported(
    found: Enclosure, support_xy: np.ndarray, config: ContainerConfig
) -> Enclosure | None:
    """``found`` cut to where the splats' opaque centres (``[S, 2]`` ``support_xy``) stand on
    its walls (module docstring): its outline inside their convex hull, its walls as thick as
    the fused walls stand in from that outline's edge (twice their median depth), the floor
    all inside; None when fewer than ``min_support`` splats stand on its walls or the floor
    left is under half of ``found``'s (the splats do not show the walls: keep the fused ones)."""
    on_walls = wall_support(support_xy, found, config)
    if len(on_walls) < config.min_support:
        return None
    outline = found.outline & _hull_cells(on_walls, found.origin, found.walls.shape, found.cell)
    depth = ndimage.distance_transform_edt(outline) - 0.5  # cells from the edge to a centre
    fused = outline & found.walls
    if not fused.any():
        return None
    walls = outline & (depth <= max(2 * float(np.median(depth[fused])), 0.5))
    labels, count = ndimage.label(outline & ~walls)
    if count == 0:
        return None
    floor = labels == 1 + int(np.argmax(ndimage.sum(labels > 0, labels, range(1, count + 1))))
    if floor.sum() < 0.5 * found.floor.sum():
        return None
    return Enclosure(walls, floor, found.origin, found.cell, enclosed_share(walls, floor))


def container_solid(
    points: np.ndarray,
    config: ContainerConfig,
    solid_config: SolidConfig | None = None,
    support: np.ndarray | None = None,
) -> Solid | None:
    """The solid of a container from its ``[P, 3]`` world samples (walls and a thin floor,
    body frame as ``solid``'s convention); None when the samples are no container.
    ``support`` ``[S, 3]``: the splats' opaque centres around it, which place its walls."""
    solid_config = solid_config or SolidConfig()
    found = enclosure(points, config)
    if found is None:
        return None
    samples = points
    points = points[
        found.contains(points[:, :2], found.trimmed(high_samples(points, config)[:, :2]))
    ]
    walls_xy = high_samples(points, config)[:, :2]
    support_high = np.empty((0, 3)) if support is None else high_samples(support, config)
    on_walls = supported(found, support_high[:, :2], config)
    if on_walls is not None:
        found = on_walls
        walls_xy = wall_support(support_high[:, :2], found, config)
    rows, cols = np.nonzero(found.floor)  # the floor's cells join the wall pieces into one
    floor_xy = found.origin + (np.c_[cols, rows] + 0.5) * found.cell
    centre, yaw = refined_frame(walls_xy, *body_yaw(np.r_[walls_xy, floor_xy], solid_config))
    position = np.array([centre[0], centre[1], 0.0])
    c, s = np.cos(yaw), np.sin(yaw)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    body = (points - position) @ rotation
    framed = enclosure(body, config)  # the same walls on a grid along the body axes
    if framed is None:
        return None
    if on_walls is not None:  # and the same cut, or none at all
        body_support = (support_high[:, :2] - position[:2]) @ rotation[:2, :2]
        framed = supported(framed, body_support, config)
        if framed is None:
            return container_solid(samples, config, solid_config)
    high = high_samples(body, config)
    mask = clean_footprint(framed.trimmed(high[:, :2]), solid_config.closing)
    floor = framed.floor & mask
    low = body[framed.contains(body[:, :2], floor) & (body[:, 2] < config.wall_height)]
    inner = ndimage.binary_erosion(floor, iterations=2)  # the walls' inner faces stay out
    on_floor = low[framed.contains(low[:, :2], inner), 2]
    thickness = max(config.floor_thickness, float(np.median(on_floor)) if len(on_floor) else 0.0)
    rim = rim_height(high, mask & ~floor, framed.origin, framed.cell, config.rim_percentile)
    heights = np.where(mask, np.where(floor, thickness, max(rim, config.wall_height)), 0.0)
    mesh = simplified(
        extrude(heights, mask, framed.origin, framed.cell), solid_config.max_triangles
    )
    wall_height = (thickness + config.wall_height) / 2
    return Solid(position, yaw, mesh, mask, heights, framed.origin, framed.cell, floor, wall_height)
