"""Hybrid rendering: splats and the MuJoCo robot composited by depth."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.env import EnvConfig, TwinEnv
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.render.composite import composite
from sim_env.render.hybrid import HybridRenderer
from sim_env.render.mujoco_renderer import MujocoRenderer


def _layers(h=4, w=4):
    splat_rgb = np.zeros((h, w, 3), np.float32)
    splat_rgb[..., 0] = 0.8  # a red splat surface, opaque
    return splat_rgb, np.full((h, w), 1.0, np.float32), np.ones((h, w), np.float32)


def test_robot_occludes_when_nearer_and_is_occluded_when_farther():
    splat_rgb, splat_depth, alpha = _layers()
    robot = np.zeros((4, 4, 3), np.uint8)
    robot[..., 2] = 255  # a blue robot
    depth = np.full((4, 4), np.inf, np.float32)
    depth[:, :2] = 0.5  # nearer than the splats on the left
    depth[:, 2:3] = 2.0  # farther in the third column; nothing drawn in the last
    out = composite(splat_rgb, splat_depth, alpha, robot, depth, np.zeros(3))
    assert (out[:, :2] == [0, 0, 255]).all()
    assert (out[:, 2:] == [204, 0, 0]).all()


def test_translucent_splats_blend_over_what_is_behind():
    splat_rgb, splat_depth, alpha = _layers(1, 2)
    alpha[:] = 0.5
    splat_rgb *= 0.5  # premultiplied
    robot = np.full((1, 2, 3), 200, np.uint8)
    depth = np.array([[2.0, np.inf]], np.float32)
    out = composite(splat_rgb, splat_depth, alpha, robot, depth, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(
        out[0, 0], np.round(255 * (np.array([0.4, 0, 0]) + 0.5 * 200 / 255)).astype(int)
    )
    np.testing.assert_array_equal(out[0, 1], [102, 128, 0])


@pytest.fixture(scope="module")
def splat_env(tmp_path_factory):
    cfg = PrimitiveSceneConfig(splat_density=3.0, n_initial_conditions=2)
    package = write_primitive_package(tmp_path_factory.mktemp("splat") / "pkg", cfg)
    env = TwinEnv(package, EnvConfig(image_size=(160, 90)))
    yield env
    env.close()


def _red_centroid(image: np.ndarray) -> np.ndarray:
    """(x, y) of the red pixels, pixel (i, j)'s centre at (i + 0.5, j + 0.5)."""
    red = (image[..., 0] > 150) & (image[..., 1] < 80) & (image[..., 2] < 80)
    assert red.sum() > 5
    rows, cols = np.nonzero(red)
    return np.array([cols.mean(), rows.mean()]) + 0.5


def test_auto_picks_hybrid_and_matches_mesh_render(splat_env):
    assert isinstance(splat_env.renderer, HybridRenderer)
    splat_env.reset(options={"initial_condition": 0})
    hybrid = splat_env.renderer.render(splat_env.data, "exterior_image_1_left", (160, 90))
    mesh = MujocoRenderer(splat_env.model).render(
        splat_env.data, "exterior_image_1_left", (160, 90)
    )
    # The cube is where the mesh render puts it, and the robot (MuJoCo in both) is identical.
    # The thresholded masks differ by up to 0.5 px (the mesh's shaded faces against the splats'
    # flat colours and softer edges); test_pixel_centre checks the sub-pixel agreement.
    np.testing.assert_allclose(_red_centroid(hybrid), _red_centroid(mesh), atol=0.75)


def test_object_splats_follow_the_simulated_pose(splat_env):
    env = splat_env
    env.reset(options={"initial_condition": 0})
    cube = env.scene.objects[0]
    env.data.qpos[cube.qpos_adr : cube.qpos_adr + 2] += [0.05, -0.06]
    import mujoco

    mujoco.mj_forward(env.model, env.data)
    image = env.renderer.render(env.data, "exterior_image_1_left", (160, 90))
    camera = env.package.spec.cameras[0]
    k = Intrinsics.of(camera).scaled(160, 90).matrix()
    view = world_to_camera(env.data, env.scene.cameras[camera.name])
    p = view[:3, :3] @ env.data.xpos[cube.body_id] + view[:3, 3]
    u, v, _ = k @ p / p[2]
    # The visible faces' centroid sits 0.7 px above the projected centre (the top face shows).
    assert np.linalg.norm(_red_centroid(image) - [u, v]) < 1.0


def test_level_of_detail_is_close_to_exact(splat_env):
    from sim_env.render.config import HybridConfig

    env = splat_env
    env.reset(options={"initial_condition": 0})
    exact_renderer = HybridRenderer(env.package, env.scene, HybridConfig(lod_pixels=None))
    exact = exact_renderer.render(env.data, "exterior_image_1_left", (160, 90)).astype(float)
    lod = HybridRenderer(env.package, env.scene, HybridConfig(lod_pixels=1.0))
    coarse = lod.render(env.data, "exterior_image_1_left", (160, 90)).astype(float)
    merged = lod.world_gaussians(env.data, "exterior_image_1_left", *_camera(env, (160, 90)))
    assert len(merged) < 0.8 * len(exact_renderer.world_gaussians(env.data))
    mse = ((exact - coarse) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 30
    lod.close()
    exact_renderer.close()


def _camera(env, size):
    camera = env.package.spec.cameras[0]
    k = Intrinsics.of(camera).scaled(*size).matrix()
    return world_to_camera(env.data, env.scene.cameras[camera.name]), k
