"""Mip-splatting's 3D filter: its size from the cameras, and the convolution it applies."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.splats import GaussianSet
from sim_env.splats.smoothing import DILATION, SamplingCamera, filter_std, smooth_3d

K = np.array([[100.0, 0.0, 32.0], [0.0, 100.0, 24.0], [0.0, 0.0, 1.0]])


def _camera(z_offset: float = 0.0, focal: float = 100.0) -> SamplingCamera:
    view = np.eye(4)
    view[2, 3] = z_offset  # the camera sits at z = -z_offset, looking along +z
    k = K.copy()
    k[0, 0] = k[1, 1] = focal
    return SamplingCamera(view, k, 64, 48)


def test_filter_is_the_nearest_depth_over_the_finest_focal():
    means = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 4.0], [50.0, 0.0, 2.0], [0.0, 0.0, -1.0]])
    std = filter_std(means, [_camera()])
    np.testing.assert_allclose(std[:2], np.sqrt(DILATION) * np.array([2.0, 4.0]) / 100.0)
    # far outside the image and behind the camera: unseen, the largest seen filter
    np.testing.assert_allclose(std[2:], np.sqrt(DILATION) * 4.0 / 100.0)
    # a second, nearer camera with a longer lens: nearest depth, largest focal
    both = filter_std(means[:2], [_camera(), _camera(z_offset=-1.0, focal=200.0)])
    np.testing.assert_allclose(both, np.sqrt(DILATION) * np.array([1.0, 3.0]) / 200.0)


def test_margin_counts_a_little_outside_the_image():
    edge = 2.0 * (64 * 1.1 - 32) / 100.0  # x at 1.1 x the width, inside the 15% margin
    std = filter_std(np.array([[edge, 0.0, 2.0], [0.0, 0.0, 5.0]]), [_camera()])
    assert std[0] == pytest.approx(np.sqrt(DILATION) * 2.0 / 100.0)


def test_smoothing_keeps_each_gaussians_integral():
    rng = np.random.default_rng(0)
    n = 50
    gs = GaussianSet.from_activated(
        rng.normal(size=(n, 3)), rng.normal(size=(n, 4)), rng.uniform(1e-4, 0.05, (n, 3)),
        rng.uniform(0.1, 0.9, n), rng.normal(size=(n, 1, 3)),
    )  # fmt: skip
    std = rng.uniform(0.001, 0.01, n)
    out = smooth_3d(gs, std)
    np.testing.assert_allclose(out.scales**2, gs.scales**2 + std[:, None] ** 2, rtol=1e-5)
    integral = lambda g: g.opacities * np.prod(g.scales, axis=1)  # noqa: E731
    np.testing.assert_allclose(integral(out), integral(gs), rtol=1e-4)
    assert (out.scales >= std[:, None] * (1 - 1e-6)).all()  # nothing finer than the filter
    np.testing.assert_array_equal(out.means, gs.means)


def test_no_camera_is_an_error():
    with pytest.raises(ValueError, match="at least one camera"):
        filter_std(np.zeros((1, 3)), [])
