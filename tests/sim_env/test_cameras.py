"""MuJoCo's cameras agree with the package's OpenCV intrinsics and poses, pixel for pixel."""

from __future__ import annotations

import numpy as np
import yaml

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import save_package


def test_projection_matches_render(package_copy):
    # An off-centre principal point and fx != fy catch sign and axis mistakes.
    data = yaml.safe_load((package_copy / "env.yaml").read_text())
    cam = data["cameras"][0]
    cam.update(width=240, height=160, fx=150.0, fy=170.0, cx=100.0, cy=90.0)
    save_package(data, package_copy)
    env = TwinEnv(package_copy, EnvConfig(cameras=("exterior_image_1_left",)))
    env.reset(options={"initial_condition": 0})
    layers = env.renderer.render_layers(env.data, "exterior_image_1_left", segmentation=True)
    cube_geoms = [
        g
        for g in env.scene.object_geoms
        if env.model.geom_bodyid[g] == env.scene.objects[0].body_id
    ]
    mask = np.isin(layers.segmentation, cube_geoms)
    assert mask.sum() > 10
    rows, cols = np.nonzero(mask)
    view = world_to_camera(env.data, env.scene.cameras["exterior_image_1_left"])
    centre = env.data.xpos[env.scene.objects[0].body_id]
    p = view[:3, :3] @ centre + view[:3, 3]
    k = Intrinsics(240, 160, 150.0, 170.0, 100.0, 90.0).matrix()
    u, v, _ = k @ p / p[2]
    assert abs(cols.mean() - u) < 1.5 and abs(rows.mean() - v) < 1.5
    env.close()


def test_scaled_intrinsics_keep_pixel_centres():
    k = Intrinsics(1280, 720, 700.0, 700.0, 639.5, 359.5).scaled(320, 180)
    assert (k.cx, k.cy) == (159.5, 89.5) and k.fx == 175.0
