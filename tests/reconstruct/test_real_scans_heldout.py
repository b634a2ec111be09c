"""The held-out PSNR breakdown's geometry and arithmetic (benchmarks.real_scans_heldout)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.real_scans_heldout import masked_psnr, psnr_without, seen_count, training_config
from reconstruct.train.metrics import psnr
from reconstruct.views import View

K = np.array([[50.0, 0.0, 32.0], [0.0, 50.0, 32.0], [0.0, 0.0, 1.0]])


def camera_at(x: float) -> View:
    """A 64x64 camera at (x, 0, -1) looking along +z (world = camera axes, shifted)."""
    viewmat = np.eye(4)
    viewmat[:3, 3] = [-x, 0.0, 1.0]
    return View("v", np.zeros((64, 64, 3), np.float32), K, viewmat)


def test_seen_count_counts_frames_that_see_a_point_unhidden():
    left, right = camera_at(-0.1), camera_at(0.1)
    wall = np.full((64, 64), 1.0)  # both frames see a surface at depth 1 everywhere
    points = np.array([[[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 2.0], [np.nan] * 3]])
    count = seen_count(points, [(left, wall), (right, wall)], per_metre=1.0)
    # on the wall: both; far to the side: outside both frames; behind the wall: hidden; none
    assert count.tolist() == [[2, 0, 0, 0]]
    count = seen_count(points, [(left, np.full((64, 64), 4.0)), (right, wall)], per_metre=1.0)
    assert count.tolist() == [[2, 0, 1, 0]]  # the left frame's surface is now behind it


def test_psnr_without_a_mask_is_the_whole_image_and_with_everything_masked_is_perfect():
    rng = np.random.default_rng(0)
    a, b = rng.random((8, 8, 3)), rng.random((8, 8, 3))
    none, half = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    half[:4] = True
    assert psnr_without(a, b, none) == pytest.approx(psnr(a, b), abs=1e-4)
    assert psnr_without(a, b, ~none) == pytest.approx(120.0)
    assert psnr_without(a, b, half) > psnr(a, b)
    assert masked_psnr(a, b, none) != masked_psnr(a, b, none)  # NaN: no pixels
    assert masked_psnr(a, b, ~none) == pytest.approx(psnr(a, b), abs=1e-4)


def test_training_config_overrides_named_numbers_and_refuses_others():
    config = training_config(228, 500, ["appearance_lr=0.001", "sh_degree=0"])
    assert (config.image_width, config.train.iterations) == (228, 500)
    assert config.train.appearance_lr == 0.001 and config.train.sh_degree == 0
    assert isinstance(config.train.sh_degree, int)
    with pytest.raises(SystemExit, match="apperance_lr"):
        training_config(228, None, ["apperance_lr=1"])
