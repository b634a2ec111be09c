"""The simulated phone's exterior pass: after the orbit it walks on around, without a cut, to
where the robot's exterior camera stands and films from there aimed where that camera looks;
a build without one films and keys exactly as before (kept work folders resume)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reconstruct.synthetic.build import BuildConfig, scan_key, with_exterior_pass
from reconstruct.synthetic.scan import ClosePass, ExteriorPass, ScanConfig, camera_path
from sim_env.package import load_package

SOURCE = Path(__file__).resolve().parents[2] / "sim_env" / "envs" / "tabletop_source"


def _poses(config: ScanConfig) -> np.ndarray:
    return camera_path(np.arange(round(config.total_s * config.fps)) / config.fps, config)


def _eyes(poses: np.ndarray) -> np.ndarray:
    return np.einsum("tji,tj->ti", -poses[:, :, :3], poses[:, :, 3])  # -R^T t


def test_the_exterior_pass_films_from_the_exterior_cameras_pose_without_a_cut() -> None:
    orbit = ScanConfig()
    ext = ExteriorPass(duration_s=8.0, eye=(0.6, -0.7, 0.55), target=(0.33, 0.12, 0.0))
    first, poses = _poses(orbit), _poses(replace(orbit, exterior=ext))
    assert len(poses) == round(24.0 * orbit.fps)
    np.testing.assert_array_equal(poses[: len(first)], first)  # the orbit is unchanged
    close = replace(orbit, close=ClosePass(duration_s=6.0))
    after_close = _poses(replace(close, exterior=ext))
    np.testing.assert_array_equal(after_close[: round(22.0 * orbit.fps)], _poses(close))
    eyes = _eyes(poses)
    hover = slice(round((16.0 + ext.ramp_s) * orbit.fps), None)
    distance = np.linalg.norm(eyes[hover] - np.asarray(ext.eye), axis=1)
    assert distance.min() < 0.02 and distance.max() < 0.2  # it stands where the camera does
    assert np.linalg.norm(_eyes(first) - np.asarray(ext.eye), axis=1).min() > 0.1  # 14 cm
    axis = np.asarray(ext.target) - np.asarray(ext.eye)
    axis /= np.linalg.norm(axis)
    looks = poses[hover][:, 2, :3]  # the cameras' optical axes (OpenCV +z) in world
    assert np.degrees(np.arccos(np.clip(looks @ axis, -1, 1))).max() < 12  # aimed alike
    steps = np.linalg.norm(np.diff(eyes, axis=0), axis=1)
    assert steps.max() < 1.5 * np.linalg.norm(np.diff(_eyes(first), axis=0), axis=1).max()


def test_a_build_with_an_exterior_pass_films_its_sources_exterior_camera() -> None:
    source = load_package(SOURCE)
    config = with_exterior_pass(BuildConfig(), 8.0, source)
    ext = config.scan.exterior
    assert ext is not None and ext.duration_s == 8.0
    camera = next(c for c in source.spec.cameras if c.name == "exterior_image_1_left")
    np.testing.assert_allclose(ext.eye, camera.pose.pos)
    assert ext.target[2] == pytest.approx(0.0, abs=1e-9)  # its optical axis on the table
    assert config.frames.max_frames == round(70 * 24 / 16)  # frames and steps grow alike
    assert config.splats.train.iterations == round(1500 * 24 / 16)


def test_a_scan_without_an_exterior_pass_keeps_its_key() -> None:
    class Source:
        content_hash = "h"

    key = scan_key(ScanConfig(), Source())  # type: ignore[arg-type]
    assert "exterior" not in key["scan"]  # recorded keys (the kitchen's) still match
    with_pass = replace(ScanConfig(), exterior=ExteriorPass())
    assert scan_key(with_pass, Source())["scan"]["exterior"]  # type: ignore[arg-type]
