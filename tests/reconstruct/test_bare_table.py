"""The bare table (``reconstruct.bare_table``): frames of a known textured table with the
objects taken off are placed against the scan's frames within millimetres, a frame of another
table is not placed, and the table picture shows what the objects hid from the scan."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from reconstruct.bare_table import (
    BareTableConfig,
    BareTableOutputs,
    bare_config,
    lift_to_table,
    load_bare_views,
    place_frame,
    run_bare,
    table_features,
)
from reconstruct.errors import ReconstructError
from reconstruct.stage import StageContext
from reconstruct.table_texture import TableConfig, footprints, paint_table
from reconstruct.views import View
from sim_env.render.table_texture import TableTexture, over_table
from sim_env.splats import GaussianSet, rasterize

EXTENT = (0.0, 0.0, 0.3, 0.2)  # the table, metres
OUTLINE = np.array([[0.0, 0.0], [0.3, 0.0], [0.3, 0.2], [0.0, 0.2]])
SIZE = (320, 240)
K = np.array([[260.0, 0, SIZE[0] / 2], [0, 260.0, SIZE[1] / 2], [0, 0, 1]])
BOX = np.array([[x, y, z] for x in (0.12, 0.18) for y in (0.07, 0.13) for z in (0, 0.05)])


def _table(seed: int) -> np.ndarray:
    """[200, 300, 4] a blotchy random table, 1 mm texels: features at every scale."""
    rng = np.random.default_rng(seed)
    grey = np.zeros((200, 300), np.float32)
    for sigma in (1.5, 4.0, 10.0):
        noise = cv2.GaussianBlur(rng.normal(size=(200, 300)).astype(np.float32), (0, 0), sigma)
        grey += noise / noise.std()
    tint = np.array([1.0, 0.8, 0.6], np.float32)
    rgb = np.clip(0.5 + 0.12 * grey[..., None], 0, 1) * tint
    return np.concatenate([rgb, np.ones((200, 300, 1), np.float32)], axis=-1)


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    view = np.eye(4)
    view[:3, :3] = np.stack([right, np.cross(forward, right), forward])
    view[:3, 3] = -view[:3, :3] @ eye
    return view


def _box() -> GaussianSet:
    """An opaque red box of Gaussians standing where ``BOX`` is."""
    grid = np.stack(np.meshgrid(np.linspace(0.125, 0.175, 9), np.linspace(0.075, 0.125, 9),
                                np.linspace(0.004, 0.05, 8)))  # fmt: skip
    means = grid.reshape(3, -1).T
    n = len(means)
    return GaussianSet.from_colors(
        means, np.tile([1.0, 0, 0, 0], (n, 1)), np.full((n, 3), 0.006), np.full(n, 0.99),
        np.tile([0.9, 0.05, 0.05], (n, 1)),
    )  # fmt: skip


def _views(table: np.ndarray, angles, height: float, box: bool, gain: float = 1.0) -> list[View]:
    """Frames of ``table`` (and the box) from around it, ``height`` m up, 28 cm out."""
    texture = TableTexture(table, EXTENT, 0.0)
    views = []
    for i, angle in enumerate(angles):
        eye = np.array([0.15 + 0.28 * np.cos(angle), 0.1 + 0.28 * np.sin(angle), height])
        view = _look_at(eye, np.array([0.15, 0.1, 0.0]))
        rgb = np.zeros(SIZE[::-1] + (3,), np.float32)
        depth = np.zeros(SIZE[::-1], np.float32)
        alpha = np.zeros(SIZE[::-1], np.float32)
        if box:
            g = _box()
            rgb, depth, alpha = rasterize(
                g.means, g.quats, g.scales, g.opacities, g.sh, view, K, *SIZE
            )
        image, _, _ = over_table(rgb, depth, alpha, texture.draw(view, K, *SIZE))
        views.append(View(f"frame_{i:02d}", np.clip(image * gain, 0, 1), K, view))
    return views


SCAN_ANGLES = np.linspace(0, 2 * np.pi, 10, endpoint=False)
BARE_ANGLES = SCAN_ANGLES[:6] + 0.3  # the bare pass: between the scan's viewpoints


def _pose_error(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Camera centre distance (m) and rotation angle (degrees) between two viewmats."""
    centre = lambda v: -v[:3, :3].T @ v[:3, 3]  # noqa: E731
    turn = a[:3, :3] @ b[:3, :3].T
    angle = np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1)))
    return float(np.linalg.norm(centre(a) - centre(b))), float(angle)


def test_a_pixel_lifted_to_the_table_is_the_point_it_sees():
    view = _views(_table(0), SCAN_ANGLES[:1], 0.3, False)[0]
    points = np.array([[0.1, 0.05, 0.0], [0.2, 0.15, 0.0], [0.15, 0.1, 0.0]])
    cam = points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
    pixels = (cam[:, :2] / cam[:, 2:]) * np.diag(K)[:2] + K[:2, 2] - 0.5  # cv2's centres
    lifted, ok = lift_to_table(pixels, view)
    assert ok.all() and np.allclose(lifted, points, atol=1e-9)
    _, behind = lift_to_table(np.array([[160.0, -400.0]]), view)  # above the horizon
    assert not behind.any()


@pytest.fixture(scope="module")
def scan_features():
    table = _table(0)
    scan = _views(table, SCAN_ANGLES, 0.3, box=True)
    return table, scan, table_features(scan, OUTLINE, 2000)


def test_bare_frames_are_placed_within_millimetres(scan_features):
    table, _, features = scan_features
    matcher = features.matcher()
    bare = _views(table, BARE_ANGLES, 0.25, box=False, gain=0.8)  # lower, darker
    for view in bare:
        placed = place_frame(view.image, K, features, matcher, BareTableConfig())
        assert placed.viewmat is not None and placed.inliers >= 100
        distance, angle = _pose_error(placed.viewmat, view.viewmat)
        assert distance < 0.002 and angle < 0.3 and placed.error_px < 1.0


def test_a_frame_of_another_table_is_not_placed(scan_features):
    _, _, features = scan_features
    other = _views(_table(7), BARE_ANGLES[:1], 0.25, box=False)[0]
    placed = place_frame(other.image, K, features, features.matcher(), BareTableConfig())
    assert placed.viewmat is None


def test_the_bare_frames_paint_what_the_objects_hid(scan_features):
    table, scan, _ = scan_features
    bare = _views(table, BARE_ANGLES, 0.25, box=False, gain=0.8)
    config = TableConfig(texel=0.002)
    with_bare = paint_table(scan, OUTLINE, config, standing=_box(), solids=[BOX], bare=bare)
    without = paint_table(scan, OUTLINE, config, standing=_box(), solids=[BOX])
    truth = cv2.resize(table[..., :3], (150, 100), interpolation=cv2.INTER_AREA)
    under = footprints([BOX], with_bare.extent, with_bare.seen.shape, config.margin)
    assert with_bare.bare[under].all() and not with_bare.copied[under].any()
    bare_error = np.abs(with_bare.rgba[..., :3] - truth)[under].mean()
    copy_error = np.abs(without.rgba[..., :3] - truth)[under].mean()
    seen_error = np.abs(with_bare.rgba[..., :3] - truth)[with_bare.seen].mean()
    # the bare frames' colours (0.8x) matched to the scan's: as close as what the scan saw
    assert bare_error < 1.5 * seen_error and bare_error < 0.5 * copy_error


def _context(tmp_path, inputs=None) -> StageContext:
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    scratch.mkdir()
    return StageContext(scan=tmp_path / "scan.mp4", out_dir=out, scratch_dir=scratch,
                        inputs=inputs or {})  # fmt: skip


def test_without_a_bare_table_the_stage_writes_nothing_to_paint(tmp_path):
    summary = run_bare(_context(tmp_path), BareTableConfig())
    outputs = BareTableOutputs.at(tmp_path / "out")
    assert summary == {"source": None, "count": 0, "placed": 0}
    assert load_bare_views(outputs) == [] and outputs.images.is_dir()


def test_placed_frames_load_back_as_views_at_any_width(tmp_path):
    outputs = BareTableOutputs.at(tmp_path)
    outputs.images.mkdir()
    view = _views(_table(0), BARE_ANGLES[:1], 0.25, box=False)[0]
    cv2.imwrite(str(outputs.images / "a.png"), (view.image[..., ::-1] * 255).astype(np.uint8))
    record = {"name": "a.png", "K": K.tolist(), "cam_from_world": view.viewmat[:3].tolist()}
    outputs.views.write_text(json.dumps([record]))
    (loaded,) = load_bare_views(outputs, width=160)
    assert loaded.size == (160, 120) and np.allclose(loaded.K[0, 0], 130.0)
    assert np.allclose(loaded.viewmat, view.viewmat)


def test_a_missing_bare_table_is_named(tmp_path):
    with pytest.raises(ReconstructError, match="bare table's video does not exist") as error:
        bare_config(tmp_path / "bare.mp4")
    assert "bare.mp4" in str(error.value)
    assert bare_config(None) == BareTableConfig()
    with pytest.raises(ReconstructError, match=r"bare\.ratio"):
        BareTableConfig(ratio=0.0)


def test_the_cli_checks_the_bare_table_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from reconstruct.cli import reconstruct_app

    scan = tmp_path / "scan.mp4"
    scan.write_bytes(b"not decoded before the frames stage")
    env = tmp_path / "env"
    common = [str(scan), "-o", str(env), "--scale", "1"]
    missing = CliRunner().invoke(reconstruct_app, [*common, "--bare-table", str(tmp_path / "b")])
    assert isinstance(missing.exception, ReconstructError)
    assert str(tmp_path / "b") in str(missing.exception)
    (tmp_path / "bare.mp4").write_bytes(b"x")
    flat = CliRunner().invoke(
        reconstruct_app,
        [*common, "--bare-table", str(tmp_path / "bare.mp4"), "--no-table-texture"],
    )
    assert flat.exit_code != 0 and "--no-table-texture" in flat.output
    assert not env.exists()
