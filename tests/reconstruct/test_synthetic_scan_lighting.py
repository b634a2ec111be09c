"""The simulated phone sees the source world as the evaluation's cameras do.

The twin is reconstructed from the phone's video and compared against the source world's
cameras: if the scan were lit differently (no headlight, no specular, other light levels) the
twin would learn other colours than the policies see in the source world. A frame of the
phone, put at a source camera's pose with its intrinsics, must equal that camera's frame of
the same state (robot hidden: it is not in the scan).
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from reconstruct.synthetic.scan import PhoneRenderer, ScanConfig
from sim_env.cameras import world_to_camera
from sim_env.package import load_package
from sim_env.registry import resolve_env
from sim_env.render.mujoco_renderer import VISUAL_GROUPS, MujocoRenderer
from sim_env.scene import ROBOT_VISUAL_GROUP, apply_initial_condition, build_scene

TOLERANCE = 2.0  # 0-255, mean absolute difference (rasterization of the same scene)


@pytest.fixture(scope="module")
def source():
    return load_package(resolve_env("tabletop_source"))


@pytest.mark.parametrize("camera", ["exterior_image_1_left", "wrist_image_left"])
def test_phone_frame_equals_the_source_camera_frame(source, camera: str) -> None:
    spec = next(c for c in source.spec.cameras if c.name == camera)
    scene = build_scene(source)
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, source.spec.initial_conditions[0])
    groups = tuple(g for g in VISUAL_GROUPS if g != ROBOT_VISUAL_GROUP)
    renderer = MujocoRenderer(scene.model, groups=groups)
    try:
        expected = renderer.render_layers(data, camera).rgb.astype(np.float32)
    finally:
        renderer.close()
    assert (spec.fx, spec.cx, spec.cy) == (spec.fy, (spec.width - 1) / 2, (spec.height - 1) / 2)
    config = ScanConfig(size=(spec.width, spec.height), focal=spec.fx / spec.width)
    phone = PhoneRenderer(source, config)
    try:
        pose = world_to_camera(data, scene.cameras[camera])[:3]
        frame = phone.render(pose) * 255.0
    finally:
        phone.close()
    difference = np.abs(frame - expected).mean(axis=2)
    print(f"\n{camera}: mean |phone - source| {difference.mean():.2f} (0-255)")
    assert expected.mean() > 20  # the camera sees the lit scene
    assert difference.mean() < TOLERANCE
    assert np.mean(difference > 8) < 0.01  # no region lit differently
