"""Closed-form answers: one Gaussian's footprint, depth ordering, moved subsets."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sim_env.splats import GaussianSet, concat, rasterize, transform, transform_subset

W, H, F = 64, 48, 80.0
K = np.array([[F, 0, 32.5], [0, F, 24.5], [0, 0, 1]])  # principal point on pixel (32, 24)'s centre
IDENTITY = np.eye(4)


def _one(z, scale, opacity, color):
    """One isotropic Gaussian on the optical axis at depth z."""
    return dict(
        means=np.float32([[0, 0, z]]),
        quats=np.float32([[1, 0, 0, 0]]),
        scales=np.full((1, 3), scale, np.float32),
        opacities=np.float32([opacity]),
        colors=np.float32([color]),
    )


def test_isotropic_footprint_is_the_low_passed_2d_gaussian():
    z, scale, opacity, color = 2.0, 0.03, 0.8, [0.9, 0.5, 0.2]
    rgb, depth, alpha = rasterize(
        **_one(z, scale, opacity, color), viewmat=IDENTITY, K=K, width=W, height=H
    )
    var = (F * scale / z) ** 2 + 0.3  # projected variance plus gsplat's 0.3 px^2 low-pass
    ys, xs = np.mgrid[0:H, 0:W]
    expected = opacity * np.exp(-((xs - 32) ** 2 + (ys - 24) ** 2) / (2 * var))
    expected[expected < 1 / 255] = 0.0
    np.testing.assert_allclose(alpha, expected, atol=2e-6)
    np.testing.assert_allclose(rgb, expected[..., None] * np.float32(color), atol=2e-6)
    np.testing.assert_allclose(rgb[24, 32], opacity * np.float32(color), rtol=1e-6)
    # float32 expected depth is sum(w z) / (1 - T): at alpha ~ 1/255, 1 - (1 - a) loses ~eps / a
    np.testing.assert_allclose(depth[alpha > 0], z, rtol=1e-5)
    assert alpha[24, 32 + int(np.ceil(np.sqrt(2 * var * np.log(255 * opacity))))] == 0.0


def test_peak_alpha_is_clamped_at_0999():
    _, _, alpha = rasterize(
        **_one(2.0, 0.05, 1.0, [1, 1, 1]), viewmat=IDENTITY, K=K, width=W, height=H
    )
    assert alpha.max() == pytest.approx(0.999, abs=1e-7)


def _pair(z_red, z_blue, opacity=0.7):
    red, blue = _one(z_red, 0.05, opacity, [1, 0, 0]), _one(z_blue, 0.05, opacity, [0, 0, 1])
    return {k: np.concatenate([red[k], blue[k]]) for k in red}


@pytest.mark.parametrize(("z_red", "z_blue"), [(1.5, 2.5), (2.5, 1.5)])
def test_nearer_gaussian_is_in_front(z_red, z_blue):
    rgb, depth, alpha = rasterize(**_pair(z_red, z_blue), viewmat=IDENTITY, K=K, width=W, height=H)
    # at the centre both alphas are the opacity a: colour = c_front a + c_back a (1 - a)
    a = 0.7
    front, back = (0, 2) if z_red < z_blue else (2, 0)
    centre = rgb[24, 32]
    assert centre[front] == pytest.approx(a, rel=1e-5)
    assert centre[back] == pytest.approx(a * (1 - a), rel=1e-5)
    assert alpha[24, 32] == pytest.approx(1 - (1 - 0.7) ** 2, rel=1e-5)
    expected_depth = (0.7 * min(z_red, z_blue) + 0.21 * max(z_red, z_blue)) / 0.91
    assert depth[24, 32] == pytest.approx(expected_depth, rel=1e-5)


def test_swapping_depths_swaps_colours():
    a = rasterize(**_pair(1.5, 2.5), viewmat=IDENTITY, K=K, width=W, height=H)[0]
    b = rasterize(**_pair(2.5, 1.5), viewmat=IDENTITY, K=K, width=W, height=H)[0]
    np.testing.assert_allclose(a[..., 0], b[..., 2], atol=1e-6)
    np.testing.assert_allclose(a[..., 2], b[..., 0], atol=1e-6)


def _random_set(seed, n, degree):
    rng = np.random.default_rng(seed)
    return GaussianSet.from_raw(
        rng.normal(0, 0.2, (n, 3)),
        rng.normal(size=(n, 4)),
        rng.uniform(np.log(0.005), np.log(0.05), (n, 3)),
        rng.normal(1, 1, n),
        rng.normal(0, 0.5, (n, (degree + 1) ** 2, 3)),
    )


def _render(gs, viewmat, camera):
    return rasterize(
        gs.means,
        gs.quats,
        gs.scales,
        gs.opacities,
        gs.sh,
        viewmat,
        camera.K,
        camera.width,
        camera.height,
    )


def _pose(seed):
    rot = Rotation.random(random_state=seed).as_matrix()
    t = np.random.default_rng(seed).normal(0, 0.1, 3)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, t
    return rot, t, pose


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_moving_gaussians_equals_moving_the_camera_by_the_inverse(degree, camera_factory, psnr_fn):
    camera = camera_factory()
    gs = _random_set(7, 300, degree)
    rot, t, pose = _pose(11)
    moved = _render(transform(gs, rot, t), camera.viewmat, camera)
    # the object moved by T looks like the unmoved object seen by the camera moved by T^-1
    reference = _render(gs, camera.viewmat @ pose, camera)
    for a, b in zip(moved, reference, strict=True):
        assert psnr_fn(a, b, peak=max(1.0, float(np.abs(b).max()))) >= 60


def test_moved_subset_moves_only_its_pixels(camera_factory, psnr_fn):
    camera = camera_factory()
    background = _random_set(1, 200, 1)
    obj = _random_set(2, 100, 1)
    scene = concat([background, obj])
    rot, t, pose = _pose(5)
    moved = transform_subset(scene, np.arange(200, 300), rot, t)
    np.testing.assert_array_equal(moved.means[:200], scene.means[:200])
    expected = concat([background, transform(obj, rot, t)])
    for name in ("means", "quats", "scales", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(moved, name), getattr(expected, name))
    obj_only = _render(transform(obj, rot, t), camera.viewmat, camera)[0]
    assert psnr_fn(obj_only, _render(obj, camera.viewmat @ pose, camera)[0]) >= 60
