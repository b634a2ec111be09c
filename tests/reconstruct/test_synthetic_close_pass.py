"""The simulated phone's close pass: after the orbit it spirals in and down around the objects
without a cut (SfM matches each frame with its successors), and a build without one films,
keys and picks frames exactly as before (kept work folders, the kitchen's included, resume)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reconstruct.synthetic.build import BuildConfig, scan_key, with_close_pass
from reconstruct.synthetic.scan import ClosePass, ScanConfig, camera_path
from reconstruct.synthetic.spec import KITCHEN


def _eyes(config: ScanConfig) -> np.ndarray:
    times = np.arange(round(config.total_s * config.fps)) / config.fps
    poses = camera_path(times, config)
    return np.einsum("tji,tj->ti", -poses[:, :, :3], poses[:, :, 3])  # -R^T t


def test_the_close_pass_films_the_objects_closer_and_lower_without_a_cut() -> None:
    orbit = ScanConfig()
    close = replace(orbit, close=ClosePass(duration_s=10.0, centre=(0.5, 0.0, 0.03)))
    first, both = _eyes(orbit), _eyes(close)
    assert len(both) == round(26.0 * orbit.fps)
    np.testing.assert_array_equal(both[: len(first)], first)  # the orbit is unchanged
    lap = both[len(first) + round(close.close.ramp_s * orbit.fps) :]
    distance = np.hypot(lap[:, 0] - 0.5, lap[:, 1])
    assert distance.max() < 0.4 < np.hypot(first[:, 0] - 0.38, first[:, 1]).min()
    assert lap[:, 2].max() < 0.25 < first[:, 2].min()
    steps = np.linalg.norm(np.diff(both, axis=0), axis=1)
    assert steps.max() <= np.linalg.norm(np.diff(first, axis=0), axis=1).max() + 1e-9


def test_a_build_with_a_close_pass_circles_its_worlds_objects_and_picks_more_frames() -> None:
    config = with_close_pass(BuildConfig(), 14.0)
    assert config.scan.close is not None
    np.testing.assert_allclose(config.scan.close.centre, (0.52, 0.0, 0.03))  # the objects' middle
    assert config.frames.max_frames == round(70 * 30 / 16)
    base, train = BuildConfig().splats.train, config.splats.train  # each frame keeps its steps
    assert train.iterations == round(base.iterations * 30 / 16)
    assert train.sh_degree_step == round(base.sh_degree_step * 30 / 16)
    assert train.densify.stop == round(base.densify.stop * 30 / 16) < train.iterations
    kitchen = with_close_pass(replace(BuildConfig(), world=KITCHEN), 14.0)
    assert kitchen.scan.close is not None
    np.testing.assert_allclose(kitchen.scan.close.centre, (0.51, -0.01, 0.03))  # its own objects


def test_a_scan_without_a_close_pass_keeps_its_key() -> None:
    class Source:
        content_hash = "h"

    key = scan_key(ScanConfig(), Source())  # type: ignore[arg-type]
    assert "close" not in key["scan"]  # recorded keys from before the close pass still match
    assert scan_key(replace(ScanConfig(), close=ClosePass()), Source())["scan"]["close"]  # type: ignore[arg-type]
