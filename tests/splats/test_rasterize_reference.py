"""The numba rasterizer against the float64 brute-force reference in conftest.py."""

import numpy as np
import pytest

from sim_env.splats import rasterize

MIN_PSNR = 45.0


def _compare(scene, reference, psnr_fn, **kwargs):
    rgb, depth, alpha = rasterize(**scene, backend="cpu", **kwargs)
    ref_rgb, ref_depth, ref_alpha = reference(**scene, **kwargs)
    assert rgb.dtype == depth.dtype == alpha.dtype == np.float32
    assert rgb.shape == (scene["height"], scene["width"], 3)
    assert depth.shape == alpha.shape == (scene["height"], scene["width"])
    assert psnr_fn(rgb, ref_rgb) >= MIN_PSNR
    assert psnr_fn(alpha, ref_alpha) >= MIN_PSNR
    covered = ref_alpha > 0.05
    np.testing.assert_allclose(depth[covered], ref_depth[covered], rtol=1e-3, atol=1e-4)
    return rgb, depth, alpha


@pytest.mark.parametrize("sh_degree", [None, 0, 1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_scenes_match_reference(
    sh_degree, seed, reference, psnr_fn, camera_factory, scene_factory
):
    scene = scene_factory(seed, 200, camera_factory(), sh_degree)
    _compare(scene, reference, psnr_fn, background=np.array([0.2, 0.4, 0.6]))


def test_lower_sh_degree_than_stored(reference, psnr_fn, camera_factory, scene_factory):
    scene = scene_factory(5, 200, camera_factory(), 3)
    _compare(scene, reference, psnr_fn, sh_degree=1)


def test_odd_image_size_and_off_centre_camera(reference, psnr_fn, camera_factory, scene_factory):
    camera = camera_factory(width=37, height=29, eye=(0.9, -1.0, 0.2), target=(0.2, 0.1, 0.1))
    _compare(scene_factory(2, 300, camera, 1), reference, psnr_fn)


def test_saturated_pixels_and_early_tile_exit(reference, psnr_fn, camera_factory, scene_factory):
    """Opaque layers in front drive pixels (and whole tiles) to transmittance < 1e-4."""
    camera = camera_factory()
    scene = scene_factory(3, 200, camera, 0)
    cam_to_world = np.linalg.inv(camera.viewmat)
    rng = np.random.default_rng(3)
    wall = cam_to_world[:3, 3] + 0.4 * cam_to_world[:3, 2] + rng.normal(0, 0.05, (40, 3))
    scene["means"] = np.concatenate([scene["means"], wall.astype(np.float32)])
    scene["quats"] = np.concatenate([scene["quats"], np.tile(np.float32([1, 0, 0, 0]), (40, 1))])
    scene["scales"] = np.concatenate([scene["scales"], np.full((40, 3), 0.3, np.float32)])
    scene["opacities"] = np.concatenate([scene["opacities"], np.full(40, 0.98, np.float32)])
    scene["colors"] = np.concatenate(
        [scene["colors"], rng.normal(0, 1, (40, 1, 3)).astype(np.float32)]
    )
    _, _, alpha = _compare(scene, reference, psnr_fn)
    assert (alpha > 0.999).mean() > 0.5


def test_nothing_visible_gives_zero_depth_and_alpha(camera_factory, scene_factory):
    scene = scene_factory(4, 50, camera_factory(), None)
    scene["means"] = scene["means"] * 0 + np.float32([0, -5, 0])  # all behind the camera
    rgb, depth, alpha = rasterize(**scene, background=np.array([0.1, 0.2, 0.3]), backend="cpu")
    assert not alpha.any() and not depth.any()
    np.testing.assert_array_equal(rgb, np.broadcast_to(np.float32([0.1, 0.2, 0.3]), rgb.shape))


def test_empty_scene(camera_factory):
    camera = camera_factory()
    empty = np.zeros((0, 3), np.float32)
    rgb, depth, alpha = rasterize(
        empty, np.zeros((0, 4)), empty, np.zeros(0), empty, camera.viewmat, camera.K,
        camera.width, camera.height,
    )  # fmt: skip
    assert not rgb.any() and not depth.any() and not alpha.any()


def test_near_and_far_planes_cull(camera_factory, scene_factory, reference, psnr_fn):
    scene = scene_factory(6, 200, camera_factory(), 0)
    rgb, _, alpha = rasterize(**scene, backend="cpu", near_plane=0.5, far_plane=1.7)
    ref_rgb, _, ref_alpha = reference(**scene, near=0.5, far=1.7)
    assert psnr_fn(rgb, ref_rgb) >= MIN_PSNR and psnr_fn(alpha, ref_alpha) >= MIN_PSNR
    full_alpha = rasterize(**scene, backend="cpu")[2]
    assert alpha.sum() < full_alpha.sum()
