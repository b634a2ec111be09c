"""The table top's picture painted from the frames (``reconstruct.table_texture``): views of a
known textured table, drawn by the renderer's own table texture, paint it back; what stands on
the table does not smear over it."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.table_texture import (
    TableConfig,
    copy_fill,
    edge_layer,
    footprints,
    outline_distance,
    paint_table,
    table_layer,
)
from reconstruct.views import View
from sim_env.render.table_texture import TableTexture, over_table
from sim_env.splats import GaussianSet, rasterize

EXTENT = (0.0, 0.0, 0.3, 0.2)  # the known table, metres
OUTLINE = np.array([[0.0, 0.0], [0.3, 0.0], [0.3, 0.2], [0.0, 0.2]])
SIZE = (200, 150)


def _known_table() -> np.ndarray:
    """[100, 150, 4] a smooth pattern with sharp squares, all table (2 mm texels)."""
    y, x = np.mgrid[0:100, 0:150].astype(np.float32)
    rgb = np.stack([0.5 + 0.3 * np.sin(x / 9), 0.5 + 0.3 * np.cos(y / 7), 0.4 + 0 * x], -1)
    rgb[((x // 10) + (y // 10)) % 4 == 0] = (0.1, 0.1, 0.8)
    return np.concatenate([rgb, np.ones((100, 150, 1), np.float32)], axis=-1)


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """[4, 4] world -> camera (OpenCV axes) from ``eye`` towards ``target``."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    view = np.eye(4)
    view[:3, :3] = np.stack([right, down, forward])
    view[:3, 3] = -view[:3, :3] @ eye
    return view


def _blob() -> GaussianSet:
    """An opaque red box of Gaussians standing on the table at (0.15, 0.1), 4 cm tall."""
    grid = np.stack(np.meshgrid(*[np.linspace(-0.02, 0.02, 9)] * 2, np.linspace(0.005, 0.04, 8)))
    means = grid.reshape(3, -1).T + [0.15, 0.1, 0.0]
    n = len(means)
    return GaussianSet.from_colors(
        means, np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 0.006), np.full(n, 0.99),
        np.tile([0.9, 0.05, 0.05], (n, 1)),
    )  # fmt: skip


def _views(blob: GaussianSet | None) -> list[View]:
    """Frames orbiting the table at 30 cm, 45 degrees up, of the table (and the blob)."""
    texture = TableTexture(_known_table(), EXTENT, 0.0)
    k = np.array([[160.0, 0, SIZE[0] / 2], [0, 160.0, SIZE[1] / 2], [0, 0, 1]])
    views = []
    for i, angle in enumerate(np.linspace(0, 2 * np.pi, 12, endpoint=False)):
        eye = np.array([0.15 + 0.3 * np.cos(angle), 0.1 + 0.3 * np.sin(angle), 0.3])
        view = _look_at(eye, np.array([0.15, 0.1, 0.0]))
        table = texture.draw(view, k, *SIZE)
        rgb = np.zeros(SIZE[::-1] + (3,), np.float32)
        depth = np.zeros(SIZE[::-1], np.float32)
        alpha = np.zeros(SIZE[::-1], np.float32)
        if blob is not None:
            g = blob
            rgb, depth, alpha = rasterize(
                g.means, g.quats, g.scales, g.opacities, g.sh, view, k, *SIZE
            )
        image, _, _ = over_table(rgb, depth, alpha, table)
        views.append(View(f"frame_{i:02d}", np.clip(image, 0, 1), k, view))
    return views


def test_views_of_a_known_table_paint_it_back():
    paint = paint_table(_views(None), OUTLINE, TableConfig(texel=0.002))
    assert paint.extent == pytest.approx(EXTENT)
    assert paint.rgba.shape == (100, 150, 4) and np.all(paint.rgba[..., 3] == 1.0)
    truth = _known_table()[..., :3]
    error = np.abs(paint.rgba[..., :3] - truth)[paint.seen]
    assert paint.seen.mean() > 0.95
    assert error.mean() < 0.04  # the frames' resolution blurs the squares' edges a little


def test_what_stands_on_the_table_does_not_smear_over_it():
    blob = _blob()
    views = _views(blob)
    aware = paint_table(views, OUTLINE, TableConfig(texel=0.002), standing=blob)
    blind = paint_table(views, OUTLINE, TableConfig(texel=0.002))
    truth = _known_table()[..., :3]
    # around the blob's foot (outside it: the frames see that table from some side)
    ring = np.zeros((100, 150), bool)
    ring[20:80, 40:110] = True
    ring[35:65, 60:90] = False
    aware_error = np.abs(aware.rgba[..., :3] - truth)[ring & aware.seen].mean()
    blind_error = np.abs(blind.rgba[..., :3] - truth)[ring].mean()
    assert aware_error < 0.05 and aware_error < 0.5 * blind_error
    assert not aware.seen[45:55, 70:80].any()  # under the blob: no frame saw it (filled)


def test_the_table_layer_is_the_static_splats_on_the_table_under_the_standing_height():
    paint = paint_table(_views(None), OUTLINE, TableConfig(texel=0.002))
    means = np.array([[0.1, 0.1, 0.001], [0.1, 0.1, 0.02], [0.5, 0.1, 0.001], [0.1, 0.1, -0.01]])
    n = len(means)
    gs = GaussianSet.from_colors(
        means, np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 0.002), np.full(n, 0.9),
        np.full((n, 3), 0.5),
    )  # fmt: skip
    assert table_layer(gs, paint, 0.008).tolist() == [True, False, False, True]


def _gaussians(means: list[list[float]]) -> GaussianSet:
    n = len(means)
    return GaussianSet.from_colors(
        np.asarray(means, float), np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 0.004),
        np.full(n, 0.9), np.full((n, 3), 0.6),
    )  # fmt: skip


def test_outline_distance_is_zero_inside_and_euclidean_outside():
    xy = np.array([[0.1, 0.1], [0.35, 0.1], [0.33, 0.24], [-0.03, 0.1]])
    assert np.allclose(outline_distance(OUTLINE, xy), [0.0, 0.05, 0.05, 0.03])


def test_the_tables_edge_blur_goes_and_what_stands_beside_the_table_stays():
    blur = [[0.32, 0.1, -0.01], [0.15, -0.05, -0.03], [0.1, 0.24, 0.002]]  # out 2-5 cm, under
    kept = [
        [0.1, 0.1, 0.001],  # on the table: the table layer's, not the edge's
        [0.5, 0.1, -0.01],  # 20 cm out: something else
        [0.15, -0.05, -0.3],  # 30 cm under: the floor
        [0.32, 0.0, 0.02],  # beside the table, above its top
    ]
    wall = [[-0.02, 0.1, z] for z in (-0.04, -0.01, 0.05, 0.2)]  # against the table's side
    layer = edge_layer(_gaussians(blur + kept + wall), OUTLINE, TableConfig())
    assert layer.tolist() == [True] * 3 + [False] * 4 + [False] * 4
    without_wall_top = edge_layer(_gaussians(wall[:2]), OUTLINE, TableConfig())
    assert without_wall_top.all()  # the guard is what keeps the wall's foot


def test_an_objects_solid_keeps_it_off_the_table_without_its_splats():
    views = _views(_blob())
    # the blob as its splats reach (their 6 mm scales spread it 1-2 cm past their centres)
    box = np.array([[x, y, z] for x in (0.115, 0.185) for y in (0.065, 0.135) for z in (0, 0.055)])
    masked = paint_table(views, OUTLINE, TableConfig(texel=0.002), solids=[box])
    blind = paint_table(views, OUTLINE, TableConfig(texel=0.002))
    truth = _known_table()[..., :3]
    ring = np.zeros((100, 150), bool)
    ring[20:80, 40:110] = True
    ring[35:65, 60:90] = False
    ring &= masked.seen  # painted: the footprint grown by ``margin`` is copied, not painted
    masked_error = np.abs(masked.rgba[..., :3] - truth)[ring].mean()
    blind_error = np.abs(blind.rgba[..., :3] - truth)[ring].mean()
    assert masked_error < 0.06 and masked_error < 0.5 * blind_error
    assert not masked.seen[45:55, 70:80].any()  # under the box: filled, not painted red
    assert masked.copied[45:55, 70:80].all()
    assert masked.rgba[45:55, 70:80, 0].mean() < 0.7


def test_the_pictures_alpha_is_the_tables_outline():
    views = _views(None)[:2]  # frames that see only part of it
    triangle = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, 0.2]])
    paint = paint_table(views, triangle, TableConfig(texel=0.002))
    alpha = paint.rgba[..., 3]
    assert alpha.mean() == pytest.approx(0.5, abs=0.02)
    assert alpha[-1, 0] == 1.0 and alpha[0, -1] == 0.0  # (0, 0) is in, (0.3, 0.2) is out


def _grain(shape: tuple[int, int] = (100, 150)) -> np.ndarray:
    """[H, W, 3] stripes along x (a wood grain): the colour varies with the row only."""
    y = np.arange(shape[0], dtype=np.float32)[:, None, None]
    rgb = np.concatenate([0.5 + 0.3 * np.sin(y / 3), 0.4 + 0.2 * np.cos(y / 5), 0.3 + 0 * y], -1)
    return np.broadcast_to(rgb, (*shape, 3)).copy()


def test_a_hole_in_the_grain_is_filled_with_the_grain():
    truth = _grain()
    holes = np.zeros(truth.shape[:2], bool)
    holes[40:60, 60:90] = True
    smooth = truth.copy()
    smooth[holes] = truth[holes].mean(axis=0)  # what a smooth fill gives: the mean colour
    config = TableConfig(texel=0.002)
    out, copied = copy_fill(smooth, ~holes, holes, config)
    assert copied.tolist() == holes.tolist()
    assert np.abs(out - truth).max() < 1e-6  # the ring matched only where the rows line up
    assert np.abs(smooth - truth)[holes].mean() > 0.05  # which the smooth fill did not


def test_a_hole_with_no_table_within_reach_keeps_the_smooth_fill():
    truth = _grain((40, 40))
    holes = np.ones((40, 40), bool)
    holes[:, :3] = False  # a strip of table too narrow to copy the hole from
    out, copied = copy_fill(truth, ~holes, holes, TableConfig(texel=0.002, tile=0))
    assert not copied.any() and np.array_equal(out, truth)


def test_footprints_are_the_solids_seen_from_above_grown_by_the_margin():
    box = np.array([[x, y, z] for x in (0.1, 0.14) for y in (0.06, 0.1) for z in (0, 0.05)])
    extent = (0.0, 0.0, 0.3, 0.2)
    bare = footprints([box], extent, (100, 150), 0.0)
    grown = footprints([box], extent, (100, 150), 0.01)
    assert bare.sum() == pytest.approx(20 * 20, rel=0.12)  # 4 x 4 cm in 2 mm texels
    assert bare[60, 60] and not bare[75, 60] and not bare[60, 75]
    rows, cols = np.nonzero(grown)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == pytest.approx(
        (45, 74, 45, 74), abs=1
    )
    assert footprints([], extent, (100, 150), 0.01).sum() == 0


def test_what_the_frames_saw_at_an_objects_foot_is_not_painted():
    """Frames see the table right beside a box's foot, and their pixels there mix in the box's
    red: inside the footprint's margin the picture is copied table, not those pixels."""
    views = _views(_blob())
    box = np.array([[x, y, z] for x in (0.115, 0.185) for y in (0.065, 0.135) for z in (0, 0.055)])
    paint = paint_table(views, OUTLINE, TableConfig(texel=0.002, margin=0.01), solids=[box])
    under = footprints([box], paint.extent, paint.seen.shape, 0.01)
    assert not (paint.seen & under).any() and paint.copied[under].all()
    truth = _known_table()[..., :3]
    redness = paint.rgba[..., 0] - paint.rgba[..., 1:3].mean(-1)
    assert redness[under].mean() < (truth[..., 0] - truth[..., 1:3].mean(-1)).mean() + 0.05
