"""The gap report's measurements: image statistics on images with known answers, the colour
calibration on frames with a known exposure, and both worlds' frames of one package (mesh and
splats of the same scene) agreeing where they must."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.render.config import HybridConfig
from studies.fidelity.calibrate import fit_camera_colour, scene_mask
from studies.fidelity.gap_frames import FramePair, WorldPair
from studies.fidelity.gap_metrics import (
    alias_rms,
    band_power_ratio,
    channel_stats,
    dilate,
    edge_f1,
    mask_iou,
)

RNG = np.random.default_rng(0)


def _texture(h: int = 90, w: int = 160) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)


def _box_blur(image: np.ndarray) -> np.ndarray:
    f = image.astype(float)
    out = sum(np.roll(np.roll(f, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    return out.round().astype(np.uint8)


def test_blur_shows_as_missing_high_frequencies():
    sharp = _texture()
    same = band_power_ratio([sharp], [sharp])
    assert all(v == pytest.approx(1.0) for v in same.values())
    blurred = band_power_ratio([_box_blur(sharp)], [sharp])
    assert blurred["high"] < 0.1 < blurred["low"]


def test_alias_rms_is_zero_for_a_box_filtering_renderer_and_large_for_point_sampling():
    high = _texture(180, 320)
    box = high.astype(float).reshape(90, 2, 160, 2, 3).mean(axis=(1, 3))
    assert alias_rms(box.round().astype(np.uint8), high) < 0.5
    assert alias_rms(high[::2, ::2], high) > 30  # every other pixel: noise aliases fully


def test_edges_agree_with_themselves_and_not_once_moved():
    image = np.zeros((60, 80, 3), np.uint8)
    image[20:40, 30:50] = 255
    assert edge_f1(image, image) == pytest.approx(1.0)
    assert edge_f1(np.roll(image, 6, axis=1), image) < 0.7
    assert edge_f1(np.roll(image, 1, axis=1), image) == pytest.approx(1.0)  # within the slack


def test_stats_and_masks():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 100
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    assert channel_stats([image], [mask]) == {"mean": [100.0, 0.0, 0.0], "std": [0.0, 0.0, 0.0]}
    assert mask_iou(mask, mask) == 1.0 and mask_iou(mask, ~mask) == 0.0
    assert dilate(np.eye(5, dtype=bool)[2:3].repeat(5, 0) & np.eye(5, dtype=bool), 1).sum() == 9


def _pair(source: np.ndarray, twin: np.ndarray) -> FramePair:
    h, w = source.shape[:2]
    robot = np.zeros((h, w), bool)
    robot[:5, :5] = True
    depth = np.full((h, w), 1.0)
    alpha = np.ones((h, w))
    splat_depth = np.full((h, w), 1.0)
    splat_depth[-3:, -3:] = 0.5  # a floater 50 cm in front of the table
    alpha[-6:-3, -3:] = 0.1  # a hole
    return FramePair(source, depth, robot, source, twin, alpha, splat_depth, robot.copy())


def test_floaters_holes_and_the_calibration_mask():
    image = _texture(20, 30)
    pair = _pair(image, image)
    assert pair.floaters().sum() == 9 and pair.holes().sum() == 9
    mask = scene_mask(pair)
    assert not mask[:5, :5].any() and not mask[-6:-3, -3:].any() and mask.sum() > 400


def test_camera_colour_fit_undoes_an_exposure():
    source = _texture(40, 60)
    twin = (source.astype(float) * np.array([0.7, 0.8, 0.75]) + 10).round().astype(np.uint8)
    matrix = np.array(fit_camera_colour([_pair(source, twin)]))
    mapped = twin.astype(float) / 255 @ matrix[:, :3].T + matrix[:, 3]
    assert np.abs(mapped * 255 - source).mean() < 1.0


@pytest.fixture(scope="module")
def same_world(tmp_path_factory):
    """A primitive package with splats made from its own meshes, as both source and twin."""
    cfg = PrimitiveSceneConfig(splat_density=3.0, n_initial_conditions=1)
    package = write_primitive_package(tmp_path_factory.mktemp("gap") / "pkg", cfg)
    pair = WorldPair(package, package, HybridConfig(lod_pixels=None))
    ic = package.spec.initial_conditions[0]
    pair.set_state(ic, ic)
    yield pair
    pair.close()


def test_a_world_and_its_own_splats_frame_alike(same_world):
    frame = same_world.frame("exterior_image_1_left", (160, 90))
    assert frame.source.shape == frame.twin.shape == (90, 160, 3)
    assert frame.source_robot.any()
    assert mask_iou(frame.source_robot, frame.twin_robot) > 0.8
    assert frame.floaters().mean() < 0.02
    # the robot is MuJoCo's in both: its pixels are the same, away from its silhouette
    inner = frame.source_robot & ~dilate(~frame.twin_robot, 1)
    assert np.abs(frame.source[inner].astype(int) - frame.twin[inner]).max() <= 2
