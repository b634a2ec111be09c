"""The fill under the objects continues the table's texture: a footprint on a striped table
comes back striped, the stripes in register with the table around it (a smooth inpainted fill
was a plain patch the exterior camera saw where an object had stood)."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.holefill import FillConfig, fill_table
from reconstruct.solid import Solid, build_solid
from sim_env.splats import GaussianSet, concat, rasterize
from tests.reconstruct.test_objects import box_mesh, samples_of

PERIOD = 0.02  # m: the stripes (along x) repeat this often across y
LIGHT, DARK = np.array([0.8, 0.6, 0.4]), np.array([0.35, 0.22, 0.12])


def stripes(y: np.ndarray) -> np.ndarray:
    """[N] 1 on light stripes, 0 on dark ones."""
    return (np.floor(y / (PERIOD / 2)) % 2 == 0).astype(float)


def striped_table(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(-0.25, 0.25, (n, 2))
    light = stripes(xy[:, 1])[:, None]
    colours = np.clip(light * LIGHT + (1 - light) * DARK + rng.normal(0, 0.02, (n, 3)), 0, 1)
    return xy, colours


def table_around(solid: Solid, seed: int, n: int = 40_000, size: float = 0.0015) -> GaussianSet:
    """``n`` flat Gaussians of ``size`` (m) on a striped table, none over ``solid``'s footprint
    (unseen)."""
    xy, colours = striped_table(np.random.default_rng(seed), n)
    n = len(xy)
    seen = ~solid.inside_footprint(solid.to_body(np.c_[xy, np.zeros(n)]), 0.0)
    return GaussianSet.from_colors(
        np.c_[xy, np.zeros(n)][seen], np.tile([1.0, 0, 0, 0], (n, 1))[seen],
        np.tile([size, size, 0.0001], (n, 1))[seen], np.full(n, 0.95)[seen], colours[seen],
    )  # fmt: skip


def footprint_solid(x: float, y: float, yaw: float, extents) -> Solid:
    return build_solid(samples_of(box_mesh(x, y, yaw, extents)))


def top_down(gs: GaussianSet, size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """RGB [size, size, 3] seen straight down from 0.5 m over the origin, and each pixel's
    ground point [size * size, 3]."""
    view = np.eye(4)
    view[:3, :3] = np.diag([1.0, -1.0, -1.0])
    view[:3, 3] = [0.0, 0.0, 0.5]
    f, c = 400.0, size / 2
    k = np.array([[f, 0, c], [0, f, c], [0, 0, 1]])
    rgb, _, _ = rasterize(gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view, k, size, size)
    u, v = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    ground = np.c_[(u.ravel() - c) / f * 0.5, -(v.ravel() - c) / f * 0.5, np.zeros(u.size)]
    return rgb, ground


@pytest.mark.parametrize(
    ("count", "size"),
    [(40_000, 0.0015), (12_000, 0.0025)],
    ids=["dense", "sparse"],  # sparse: centres further apart than the colour map's cells
)
def test_a_footprint_on_a_striped_table_is_filled_with_stripes_in_register(
    count: int, size: float
) -> None:
    solid = footprint_solid(0.0, 0.0, 30.0, (0.08, 0.05, 0.06))
    table = table_around(solid, 0, count, size)
    fill, replaced = fill_table(table, [solid])
    assert len(fill) > 0 and not replaced.any()
    rgb, ground = top_down(concat([table, fill]))
    inside = solid.inside_footprint(solid.to_body(ground), 0.0)
    shade = rgb.reshape(-1, 3)[inside].mean(axis=1)
    truth = stripes(ground[inside, 1])
    assert inside.sum() > 1000
    # the stripes continue (a smooth fill's shade barely varies) and line up with the table's
    assert shade.std() > 0.08
    assert np.corrcoef(shade, truth)[0, 1] > 0.5


def test_without_copying_the_fill_is_smooth() -> None:
    """The fallback (and the old fill): Telea inpainting on flat discs, textureless."""
    solid = footprint_solid(0.0, 0.0, 30.0, (0.08, 0.05, 0.06))
    table = table_around(solid, 1)
    fill, _ = fill_table(table, [solid], FillConfig(copy=False))
    rgb, ground = top_down(concat([table, fill]))
    inside = solid.inside_footprint(solid.to_body(ground), -0.01)
    assert (
        np.corrcoef(rgb.reshape(-1, 3)[inside].mean(axis=1), stripes(ground[inside, 1]))[0, 1] < 0.5
    )


def test_a_footprint_no_whole_copy_fits_is_filled_in_pieces_of_table() -> None:
    """A crate-sized footprint filling most of the table: no stretch of table of its size is
    within reach, so without pieces it gets the smooth fill; in pieces, the table's texture."""
    solid = footprint_solid(0.0, 0.0, 0.0, (0.30, 0.20, 0.06))
    table = table_around(solid, 2)
    shades = {}
    for tile in (0.0, FillConfig().tile):
        fill, _ = fill_table(table, [solid], FillConfig(tile=tile))
        rgb, ground = top_down(concat([table, fill]), size=300)
        inside = solid.inside_footprint(solid.to_body(ground), -0.01)
        assert inside.sum() > 10_000
        shades[tile] = rgb.reshape(-1, 3)[inside].mean(axis=1)
    assert shades[0.0].std() < 0.05  # smooth: no whole copy fitted
    assert shades[FillConfig().tile].std() > 0.08  # the stripes' contrast is about 0.12
