"""MuJoCo's cameras agree with the package's OpenCV intrinsics and poses, pixel for pixel."""

from __future__ import annotations

import numpy as np
import yaml

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import save_package
from sim_env.package.schema import CameraSpec, Pose


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
    k = Intrinsics.of(env.package.spec.cameras[0]).matrix()
    u, v, _ = k @ p / p[2]
    # Pixel (i, j)'s centre is (i + 0.5, j + 0.5); the visible faces' centroid is 0.12 px from
    # the projected body centre.
    assert abs(cols.mean() + 0.5 - u) < 0.4 and abs(rows.mean() + 0.5 - v) < 0.4
    env.close()


def test_package_intrinsics_convert_to_pixel_areas():
    # OpenCV's centred principal point (the middle pixel's centre at (w - 1) / 2) is the
    # image's middle edge-to-edge, w / 2, where the renderers put it.
    spec = CameraSpec(
        name="c", width=1280, height=720, fx=700.0, fy=650.0, cx=639.5, cy=359.5, pose=Pose()
    )
    k = Intrinsics.of(spec)
    assert (k.cx, k.cy, k.fx, k.fy) == (640.0, 360.0, 700.0, 650.0)


def test_scaled_intrinsics_keep_the_field_of_view():
    k = Intrinsics(1280, 720, 700.0, 650.0, 600.0, 400.0).scaled(320, 180)
    assert (k.width, k.height, k.fx, k.fy, k.cx, k.cy) == (320, 180, 175.0, 162.5, 150.0, 100.0)
