"""The scan's phone sees the world the evaluation renders: at the exterior camera's pose and
intrinsics its renderer gives every object the luminance sim_env's camera gives it (the
tabletop's tray was thought brighter at that camera than any phone view could see)."""

from __future__ import annotations

import numpy as np

from benchmarks.fidelity.gap_views import Views, renderers, shading, switched_off
from studies.fidelity.run import check_pair


def test_a_phone_at_the_exterior_pose_sees_what_the_exterior_camera_sees() -> None:
    source, twin = check_pair("tabletop_source", "tabletop_twin")
    views = Views(source, twin, (160, 90))
    try:
        table = renderers(views, source)
        model = views.pair.source_scene.model
        before = model.vis.headlight.diffuse.copy()
        with switched_off(model, "headlight"):
            assert not model.vis.headlight.diffuse.any()
        np.testing.assert_array_equal(model.vis.headlight.diffuse, before)
        terms = shading(views)
    finally:
        views.close()
    sim, phone = table["sim_env"], table["scan renderer"]
    for name in ("red_box", "green_box", "blue_can", "tray", "table"):
        assert abs(sim[name] - phone[name]) < 1.0, name
    assert table["sim_env, masks grown 1 px"]["tray"] > sim["tray"] + 2  # the ring is table
    assert terms["exterior"]["tray"] == sim["tray"]  # the pose put back
    assert terms["exterior, no headlight"]["tray"] < sim["tray"] - 20
