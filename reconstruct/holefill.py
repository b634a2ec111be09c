"""Fill the table where the objects stood: the scan never saw it, so once an object moves the
static splats would show a hole (or the object's ghostly base).

Static Gaussians over each object's footprint (grown by ``margin``) near the table are
removed, and flat discs on the table plane replace them, coloured by inpainting (OpenCV's
Telea) a top-down colour map of the surrounding table Gaussians, so the table's texture and
shading continue across the footprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from reconstruct.solid import Solid
from reconstruct.units import Units, in_units
from sim_env.splats import GaussianSet


@dataclass(frozen=True)
class FillConfig:
    """Attributes (metres):
    spacing: distance between fill discs (and colour-map cell size).
    margin: footprints grow by this much before filling.
    ring: the table band around a footprint whose colours are continued.
    depth: static Gaussians over a footprint between -depth and +height are removed.
    height: see ``depth``.
    opacity: of the fill discs.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = ("spacing", "margin", "ring", "depth", "height")

    spacing: float = 0.003
    margin: float = 0.008
    ring: float = 0.04
    depth: float = 0.02
    height: float = 0.006
    opacity: float = 0.97

    def in_units(self, units: Units) -> FillConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


def _over_footprints(points: np.ndarray, solids: list[Solid], margin: float) -> np.ndarray:
    inside = np.zeros(len(points), bool)
    for solid in solids:
        inside |= solid.inside_footprint(solid.to_body(points), margin)
    return inside


def fill_table(
    static: GaussianSet, solids: list[Solid], config: FillConfig = FillConfig()
) -> tuple[GaussianSet, np.ndarray]:
    """Fill discs for every footprint, and the ``[N]`` mask of static Gaussians they replace."""
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
    lo = corners[:, :2].min(0) - config.ring - config.margin
    hi = corners[:, :2].max(0) + config.ring + config.margin
    nx, ny = (np.ceil((hi - lo) / s)).astype(int)
    gx, gy = np.meshgrid(lo[0] + (np.arange(nx) + 0.5) * s, lo[1] + (np.arange(ny) + 0.5) * s)
    cells = np.c_[gx.ravel(), gy.ravel(), np.zeros(gx.size)]
    to_fill = _over_footprints(cells, solids, config.margin).reshape(ny, nx)
    table = (
        near_table
        & ~hidden
        & np.all((static.means[:, :2] >= lo) & (static.means[:, :2] < hi), axis=1)
    )
    ij = np.floor((static.means[table, :2] - lo) / s).astype(int)
    weight = static.opacities[table]
    colour_sum = np.zeros((ny, nx, 3))
    weight_sum = np.zeros((ny, nx))
    np.add.at(colour_sum, (ij[:, 1], ij[:, 0]), static.colors[table] * weight[:, None])
    np.add.at(weight_sum, (ij[:, 1], ij[:, 0]), weight)
    known = (weight_sum > 0.05) & ~to_fill
    image = np.where(known[..., None], colour_sum / np.maximum(weight_sum, 1e-9)[..., None], 0.0)
    image8 = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    filled = (
        cv2.inpaint(image8, (~known).astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float64)
        / 255
    )
    level = float(np.median(static.means[table, 2])) if table.any() else 0.0
    rows, cols = np.nonzero(to_fill)
    n = len(rows)
    means = np.c_[gx[rows, cols], gy[rows, cols], np.full(n, level)]
    scales = np.tile([0.75 * s, 0.75 * s, 0.02 * s], (n, 1))
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    fill = GaussianSet.from_colors(
        means, quats, scales, np.full(n, config.opacity), filled[rows, cols]
    )
    return fill.with_sh_degree(static.sh_degree), hidden
