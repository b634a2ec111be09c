"""Rubric criteria against hand-computed geometry, and PolaRiS's ever-reached semantics."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.rubric import (
    InsideXY,
    ObjectBox,
    Rubric,
    RubricContext,
    RubricState,
    RubricTracker,
    Upright,
    _area,
    _clip,
    _hull_2d,
)

UNIT = ObjectBox(center=np.zeros(3), half_extents=np.full(3, 0.5))


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _state(obj_xy, box_xy=(0, 0), obj_rot=None, obj_z=0.5) -> RubricState:
    return RubricState(
        object_pos={"a": np.array([*obj_xy, obj_z]), "b": np.array([*box_xy, 0.5])},
        object_rot={"a": np.eye(3) if obj_rot is None else obj_rot, "b": np.eye(3)},
        tcp_pos=np.zeros(3),
        gripper=0.0,
    )


def test_polygon_clip_area():
    square = _hull_2d(np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]))
    shifted = square + [0.5, 0.25]
    assert _area(square) == pytest.approx(1.0)
    assert _area(_clip(shifted, square)) == pytest.approx(0.5 * 0.75)


@pytest.mark.parametrize(
    ("offset", "inside"), [(0.0, True), (0.15, True), (0.25, False), (0.9, False)]
)
def test_inside_xy_fraction(offset, inside):
    # a 1x1 object shifted by `offset` along x over a 1x1 container overlaps 1 - offset.
    boxes = {"a": UNIT, "b": UNIT}
    ctx = RubricContext(_state((offset, 0)), _state((offset, 0)), boxes)
    assert InsideXY("a", "b", fraction=0.8)(ctx) is inside


def test_inside_xy_rotated_and_gap():
    boxes = {"a": ObjectBox(np.zeros(3), np.array([0.2, 0.2, 0.2])), "b": UNIT}
    rotated = _state((0, 0), obj_rot=_rot_z(np.pi / 4))
    assert InsideXY("a", "b")(RubricContext(rotated, rotated, boxes))
    high = _state((0, 0), obj_z=2.0)
    assert not InsideXY("a", "b", max_gap=0.1)(RubricContext(high, high, boxes))
    assert InsideXY("a", "b")(RubricContext(high, high, boxes))


def test_upright():
    tilted = np.array([[1, 0, 0], [0, np.cos(0.5), -np.sin(0.5)], [0, np.sin(0.5), np.cos(0.5)]])
    state = _state((0, 0), obj_rot=tilted)
    ctx = RubricContext(state, state, {"a": UNIT, "b": UNIT})
    assert not Upright("a", max_tilt_deg=15)(ctx)
    assert Upright("a", max_tilt_deg=30)(ctx)


def test_dependencies_and_ever_reached():
    class Flag:
        def __init__(self, key):
            self.key = key

        def __call__(self, ctx):
            return ctx.now.gripper == self.key

    rubric = Rubric(names=("first", "second"), criteria=(Flag(1.0), Flag(2.0)), requires=((), (0,)))
    tracker = RubricTracker(rubric, {})
    base = _state((0, 0))
    tracker.reset(base)

    def at(g):
        return RubricState(base.object_pos, base.object_rot, base.tcp_pos, g)

    tracker.update(at(2.0), 1)  # second holds but its requirement was never reached
    assert tracker.reached() == {"first": None, "second": None}
    tracker.update(at(1.0), 2)
    tracker.update(at(0.0), 3)  # criteria stay reached once reached
    tracker.update(at(2.0), 4)
    assert tracker.reached() == {"first": 2, "second": 4}
    assert tracker.success and tracker.progress == 1.0
