"""Fill the table where the objects stood: the scan never saw it, so once an object moves the
static splats would show a hole (or the object's ghostly base).

Static Gaussians over each object's footprint (grown by ``margin``) near the table are
removed. Each footprint is then covered by a copy of the table beside it: the shift (within
``reach``) whose band of table around the footprint best matches the band around the hole,
in a top-down colour map of the table Gaussians, gives the Gaussians to copy (all their
attributes, view-dependent colour included), so the wood grain and the shading continue
across the footprint. A footprint with no whole stretch of table within reach (a crate's,
near the table's edge or other footprints) is filled tile by tile instead: each ``tile``-sized
piece gets its own copy, the piece's band of seen table matched where it has one. A smooth fill
(OpenCV's Telea inpainting of the colour map, on flat discs) was a lighter, textureless patch
the exterior camera saw (a kitchen twin's crate spot: a blurred smear of the table's colours);
it is kept only for pieces with no stretch of table within reach at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from reconstruct.solid import Solid
from reconstruct.units import Units, in_units
from sim_env.splats import GaussianSet, concat


@dataclass(frozen=True)
class FillConfig:
    """Attributes (metres):
    spacing: colour-map cell size (and distance between smooth-fill discs).
    margin: footprints grow by this much before filling.
    ring: the table band around a footprint whose colours the smooth fill continues.
    depth: static Gaussians over a footprint between -depth and +height are removed.
    height: see ``depth``.
    opacity: of the smooth-fill discs.
    band: the band around a hole whose colours pick the table to copy.
    reach: how far (beyond the hole's own size) a copied stretch of table may lie.
    copy: copy the table beside each footprint (False: smooth fill only).
    tile: a footprint no whole copy fits is filled in pieces of this size (0: smooth fill).
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "spacing", "margin", "ring", "depth", "height", "band", "reach", "tile",
    )  # fmt: skip

    spacing: float = 0.003
    margin: float = 0.008
    ring: float = 0.04
    depth: float = 0.02
    height: float = 0.006
    opacity: float = 0.97
    band: float = 0.012
    reach: float = 0.06
    copy: bool = True
    tile: float = 0.04

    def in_units(self, units: Units) -> FillConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


def _over_footprints(points: np.ndarray, solids: list[Solid], margin: float) -> np.ndarray:
    inside = np.zeros(len(points), bool)
    for solid in solids:
        inside |= solid.inside_footprint(solid.to_body(points), margin)
    return inside


@dataclass(frozen=True, eq=False)
class _Grid:
    """A top-down grid of ``spacing`` cells from ``lo`` over the table around the footprints."""

    lo: np.ndarray  # [2] world xy of the first cell's corner
    spacing: float
    shape: tuple[int, int]  # rows (y), columns (x)

    def centres(self) -> np.ndarray:
        """[rows * cols, 3] cell centres on z = 0, row-major."""
        ny, nx = self.shape
        gx, gy = np.meshgrid(
            self.lo[0] + (np.arange(nx) + 0.5) * self.spacing,
            self.lo[1] + (np.arange(ny) + 0.5) * self.spacing,
        )
        return np.c_[gx.ravel(), gy.ravel(), np.zeros(gx.size)]

    def cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of points ``[N, 2]`` (out-of-grid ones included, unclipped)."""
        ij = np.floor((xy - self.lo) / self.spacing).astype(int)
        return ij[:, 1], ij[:, 0]


def _shifts(region: np.ndarray, steps: int) -> list[tuple[int, int]]:
    """Candidate (rows, cols) shifts: 24 directions, from one cell past the region's extent
    along each to ``steps`` cells further, every two cells."""
    rows, cols = np.nonzero(region)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    out = []
    for angle in np.radians(np.arange(0, 360, 15)):
        c, s = np.cos(angle), np.sin(angle)
        along_x = width / abs(c) if abs(c) > 1e-6 else np.inf
        along_y = height / abs(s) if abs(s) > 1e-6 else np.inf
        start = min(along_x, along_y)
        for d in np.arange(start + 1, start + 1 + steps, 2):
            out.append((round(d * s), round(d * c)))
    return sorted(set(out))


def _best_shift(
    image: np.ndarray,
    usable: np.ndarray,
    piece: np.ndarray,  # [rows, cols] bool: the cells to copy into
    ring: np.ndarray,  # [rows, cols] bool: seen table around them to match (may be empty)
    shifts: list[tuple[int, int]],
) -> tuple[int, int] | None:
    """The shift that lands ``piece`` and ``ring`` on usable table and matches ``ring``'s
    colours best (without a ring: the shortest such shift)."""
    rows_n, cols_n = piece.shape
    area_r, area_c = np.nonzero(piece | ring)
    ring_r, ring_c = np.nonzero(ring)
    best, best_cost = None, np.inf
    for dr, dc in shifts:
        r, c = area_r + dr, area_c + dc
        if r.min() < 0 or c.min() < 0 or r.max() >= rows_n or c.max() >= cols_n:
            continue
        if not usable[r, c].all():
            continue
        if len(ring_r):
            cost = float(np.mean((image[ring_r + dr, ring_c + dc] - image[ring_r, ring_c]) ** 2))
        else:
            cost = float(np.hypot(dr, dc))
        if cost < best_cost:
            best, best_cost = (dr, dc), cost
    return best


def match_shifts(
    image: np.ndarray,  # [rows, cols, 3] the table's colour map
    usable: np.ndarray,  # [rows, cols] bool: cells of seen table that may be copied
    holes: np.ndarray,  # [rows, cols] bool: cells to fill
    band: int,  # cells
    steps: int,  # cells
    tile: int = 0,  # cells; 0: no piecewise fill
) -> list[tuple[np.ndarray, tuple[int, int] | None]]:
    """Per connected hole: its cells and the shift of the stretch of table to copy into it,
    the one whose band around it best matches the hole's band. A hole no whole stretch fits
    comes back in ``tile``-sized pieces, each with its own shift (None: no stretch of table
    within reach)."""
    count, labels = cv2.connectedComponents(holes.astype(np.uint8), connectivity=8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    out = []
    for k in range(1, count):
        region = labels == k
        ring = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~holes & usable
        shifts = _shifts(region, steps)
        best = _best_shift(image, usable, region, ring, shifts)
        if best is not None or tile <= 0:
            out.append((region, best))
            continue
        rows, cols = np.nonzero(region)
        for r0 in range(rows.min(), rows.max() + 1, tile):
            for c0 in range(cols.min(), cols.max() + 1, tile):
                piece = np.zeros_like(region)
                piece[r0 : r0 + tile, c0 : c0 + tile] = region[r0 : r0 + tile, c0 : c0 + tile]
                if not piece.any():
                    continue
                near = cv2.dilate(piece.astype(np.uint8), kernel).astype(bool) & ring
                out.append((piece, _best_shift(image, usable, piece, near, shifts)))
    return out


def fill_table(
    static: GaussianSet, solids: list[Solid], config: FillConfig = FillConfig()
) -> tuple[GaussianSet, np.ndarray]:
    """Fill Gaussians for every footprint, and the ``[N]`` mask of static Gaussians they
    replace."""
    if not solids:
        return static.subset(np.zeros(0, int)), np.zeros(len(static), bool)
    z = static.means[:, 2]
    near_table = (z > -config.depth) & (z < config.height)
    hidden = near_table & _over_footprints(static.means, solids, config.margin)
    s = config.spacing
    corners = np.concatenate(
        [
            solid.to_world(np.c_[solid.mesh.vertices[:, :2], np.zeros(len(solid.mesh.vertices))])
            for solid in solids
        ]
    )
    size = np.ptp(corners[:, :2], axis=0).max() if config.copy else 0.0
    grow = config.ring + config.margin + (size + config.reach if config.copy else 0.0)
    lo, hi = corners[:, :2].min(0) - grow, corners[:, :2].max(0) + grow
    nx, ny = (np.ceil((hi - lo) / s)).astype(int)
    grid = _Grid(lo, s, (ny, nx))
    to_fill = _over_footprints(grid.centres(), solids, config.margin).reshape(ny, nx)
    table = near_table & ~hidden
    rows, cols = grid.cells(static.means[:, :2])
    table &= (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    weight = static.opacities[table]
    colour_sum = np.zeros((ny, nx, 3))
    weight_sum = np.zeros((ny, nx))
    np.add.at(colour_sum, (rows[table], cols[table]), static.colors[table] * weight[:, None])
    np.add.at(weight_sum, (rows[table], cols[table]), weight)
    known = (weight_sum > 0.05) & ~to_fill
    image = np.where(known[..., None], colour_sum / np.maximum(weight_sum, 1e-9)[..., None], 0.0)
    image8 = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    filled = (
        cv2.inpaint(image8, (~known).astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float64)
        / 255
    )
    smooth = to_fill.copy()
    copies = []
    if config.copy:
        # seen table: cells a table Gaussian covers (within twice its median size of a
        # centre): the gaps between centres are the Gaussians' spacing, not the table's edge
        reach_cells = (
            int(np.ceil(2 * np.median(static.scales[table, :2].max(1)) / s)) if table.any() else 1
        )
        cover = cv2.dilate(
            (weight_sum > 0).astype(np.uint8), np.ones((2 * reach_cells + 1,) * 2, np.uint8)
        )
        seen = cover.astype(bool)
        usable = seen & ~to_fill
        band, steps = max(1, round(config.band / s)), max(2, round(config.reach / s))
        tile = max(1, round(config.tile / s)) if config.tile > 0 else 0
        for region, shift in match_shifts(filled, usable, to_fill, band, steps, tile):
            if shift is None:
                continue
            dr, dc = shift
            picked = np.zeros(len(static), bool)
            inside = (rows - dr >= 0) & (rows - dr < ny) & (cols - dc >= 0) & (cols - dc < nx)
            picked[inside] = region[rows[inside] - dr, cols[inside] - dc]
            picked &= table
            copy = static.subset(np.nonzero(picked)[0])
            offset = np.array([-dc * s, -dr * s, 0.0])
            copies.append(
                GaussianSet(copy.means + offset, copy.quats, copy.scales, copy.opacities, copy.sh)
            )
            smooth &= ~region
    level = float(np.median(static.means[table, 2])) if table.any() else 0.0
    disc_rows, disc_cols = np.nonzero(smooth)
    n = len(disc_rows)
    centres = grid.centres().reshape(ny, nx, 3)[disc_rows, disc_cols]
    means = np.c_[centres[:, :2], np.full(n, level)]
    scales = np.tile([0.75 * s, 0.75 * s, 0.02 * s], (n, 1))
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    discs = GaussianSet.from_colors(
        means, quats, scales, np.full(n, config.opacity), filled[disc_rows, disc_cols]
    ).with_sh_degree(static.sh_degree)
    return concat([discs, *copies]), hidden
