"""Median depth (``rasterize(..., depth="median")``): the z of the Gaussian whose blending takes
a pixel's accumulated alpha to 0.5 or above, 0 where it stays below.

The reference composites, pixel by pixel in float64, the per-Gaussian alpha maps that
conftest's brute-force renderer draws for each Gaussian alone, walking them in depth order
with gsplat's rules (fragments below 1/255 skipped, the pixel stops before transmittance would
drop to 1e-4); it shares no code with ``sim_env.splats``.
"""

import importlib

import numpy as np
import pytest

from sim_env.splats import rasterize

T_MIN = 1e-4
CROSSING_MARGIN = 1e-4  # pixels whose transmittance passes this close to 0.5 are ambiguous


def _single(scene: dict, g: int) -> dict:
    one = {k: scene[k][g : g + 1] for k in ("means", "quats", "scales", "opacities", "colors")}
    return {**scene, **one}


def _reference_median(scene: dict, reference, antialiased: bool):
    """-> (median depth [H, W], alpha [H, W], ambiguous [H, W] bool), float64."""
    n, h, w = len(scene["means"]), scene["height"], scene["width"]
    alphas = np.stack(
        [reference(**_single(scene, g), antialiased=antialiased)[2].ravel() for g in range(n)]
    )
    viewmat = np.asarray(scene["viewmat"], np.float64)
    z = np.asarray(scene["means"], np.float64) @ viewmat[2, :3] + viewmat[2, 3]
    trans = np.ones(h * w)
    median = np.zeros(h * w)
    ambiguous = np.zeros(h * w, bool)
    order = np.argsort(z, kind="stable")
    for pixel in range(h * w):
        for g in order:
            a = alphas[g, pixel]
            if a == 0.0:  # culled, off its tiles or below 1/255 (the reference zeroes those)
                continue
            next_t = trans[pixel] * (1 - a)
            if next_t <= T_MIN:  # the pixel is done
                break
            if trans[pixel] > 0.5 >= next_t:
                median[pixel] = z[g]
            if min(abs(trans[pixel] - 0.5), abs(next_t - 0.5)) < CROSSING_MARGIN:
                ambiguous[pixel] = True
            trans[pixel] = next_t
    return median.reshape(h, w), (1 - trans).reshape(h, w), ambiguous.reshape(h, w)


@pytest.mark.parametrize("antialiased", [False, True])
@pytest.mark.parametrize("seed", [1, 2])  # scenes with partly covered pixels too
def test_random_scenes_match_per_pixel_reference(
    seed, antialiased, reference, camera_factory, scene_factory
):
    scene = scene_factory(seed, 60, camera_factory(width=40, height=30), 0)
    _, median, alpha = rasterize(**scene, backend="cpu", antialiased=antialiased, depth="median")
    ref_median, ref_alpha, ambiguous = _reference_median(scene, reference, antialiased)
    # the per-Gaussian composite is the whole-scene reference's, so the walk above is gsplat's
    np.testing.assert_allclose(ref_alpha, reference(**scene, antialiased=antialiased)[2], atol=1e-9)
    np.testing.assert_allclose(alpha, ref_alpha, atol=1e-5)
    clear = ~ambiguous
    np.testing.assert_allclose(median[clear], ref_median[clear], rtol=1e-6, atol=0)
    assert ambiguous.mean() < 0.02
    assert len(np.unique(ref_median[clear])) >= 10  # many Gaussians are some pixel's median
    assert ((ref_alpha > 0.05) & (ref_median == 0)).sum() > 20  # covered, never reaching 0.5


W, H, F = 17, 17, 20.0
K = np.array([[F, 0, 8.5], [0, F, 8.5], [0, 0, 1]])  # principal point on pixel (8, 8)'s centre


def _axis_pair(front_opacity: float, back_opacity: float) -> dict:
    """Two isotropic Gaussians on the optical axis at 1.3 m and 1.0 m (given back first): at
    pixel (8, 8) each one's alpha is its opacity."""
    return dict(
        means=np.float32([[0, 0, 1.3], [0, 0, 1.0]]),
        quats=np.float32([[1, 0, 0, 0], [1, 0, 0, 0]]),
        scales=np.full((2, 3), 0.05, np.float32),
        opacities=np.float32([back_opacity, front_opacity]),
        colors=np.float32([[0, 0, 1], [1, 0, 0]]),
        viewmat=np.eye(4),
        K=K,
        width=W,
        height=H,
    )


@pytest.mark.parametrize(
    ("front", "back", "expected"),
    [
        (0.6, 0.9, 1.0),  # the front one alone takes T to 0.4
        (0.5, 0.9, 1.0),  # ... to exactly 0.5: "0.5 or above" counts
        (0.3, 0.4, 1.3),  # T 0.7 after the front one, 0.42 after the back one
        (0.2, 0.3, 0.0),  # T 0.8, then 0.56: never reaches 0.5
    ],
)
def test_two_gaussians_on_the_axis(front, back, expected):
    scene = _axis_pair(front, back)
    _, median, alpha = rasterize(**scene, depth="median")
    _, mean, _ = rasterize(**scene)
    assert alpha[8, 8] == pytest.approx(1 - (1 - front) * (1 - back), rel=1e-6)
    assert median[8, 8] == pytest.approx(expected, rel=1e-6)
    expected_depth = (front * 1.0 + (1 - front) * back * 1.3) / (1 - (1 - front) * (1 - back))
    assert mean[8, 8] == pytest.approx(expected_depth, rel=1e-5)


def test_median_mode_leaves_colour_alpha_and_default_depth_alone(camera_factory, scene_factory):
    scene = scene_factory(3, 200, camera_factory(), 1)
    default = rasterize(**scene, backend="cpu")
    expected = rasterize(**scene, backend="cpu", depth="expected")
    median = rasterize(**scene, backend="cpu", depth="median")
    for a, b in zip(default, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(median[0], default[0])
    np.testing.assert_array_equal(median[2], default[2])
    assert not np.array_equal(median[1], default[1])


def test_gsplat_backend_refuses_median_depth():
    with pytest.raises(ValueError, match="median"):
        rasterize(**_axis_pair(0.6, 0.9), backend="gsplat", depth="median")
    with pytest.raises(ValueError, match="unknown depth 'mean'"):
        rasterize(**_axis_pair(0.6, 0.9), depth="mean")


def test_auto_backend_draws_median_depth_on_the_cpu(monkeypatch):
    module = importlib.import_module("sim_env.splats.rasterize")

    def no_gpu(*args, **kwargs):
        raise AssertionError("the gsplat path was taken for median depth")

    monkeypatch.setattr(module, "gsplat_cuda_available", lambda: True)
    monkeypatch.setattr(module, "rasterize_gsplat", no_gpu)
    _, median, _ = rasterize(**_axis_pair(0.6, 0.9), backend="auto", depth="median")
    assert median[8, 8] == pytest.approx(1.0, rel=1e-6)
