"""The exterior camera fitted to the capture: known answers on constructed camera sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.gravity import Cameras
from reconstruct.viewpoint import (
    ExteriorChoice,
    ViewpointConfig,
    coverage,
    frame_viewpoint,
    pick,
    rank_viewpoints,
    workspace_target,
)
from sim_env.cameras import look_at, quat_to_mat

TARGET = workspace_target(np.zeros(2), 0.0, 1.0)  # DROID's, for a base at the origin facing +x


def capture(eyes, targets) -> Cameras:
    """Cameras at ``eyes`` looking at ``targets`` (level horizon)."""
    rots = [quat_to_mat(look_at(np.asarray(e, float), np.asarray(t, float))) for e, t in
            zip(eyes, targets, strict=True)]  # fmt: skip
    rots = np.asarray(rots)  # camera -> world; columns right, down, forward
    return Cameras(np.asarray(eyes, float), rots[:, :, 2], rots[:, :, 1])


def shoulder(side: float = 1.0, distance: float = 0.9, elevation: float = 35.0) -> np.ndarray:
    """A DROID-like eye: beside the robot (70 degrees from its forward axis), looking down."""
    az, el = math.radians(70.0 * side), math.radians(elevation)
    return TARGET + distance * np.array(
        [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
    )


def test_the_shoulder_view_that_looks_at_the_workspace_wins() -> None:
    good = shoulder(side=1.0)
    eyes = [
        [-0.6, 0.0, 0.6],  # behind the robot
        shoulder(side=-1.0),  # a shoulder view, but looking away from the workspace
        shoulder(side=-1.0, elevation=3.0),  # at the table's height
        good,
    ]
    targets = [TARGET, shoulder(side=-1.0) + [0.0, -1.0, 0.0], TARGET, TARGET]
    ranked = rank_viewpoints(capture(eyes, targets), ["back", "away", "low", "good"],
                             np.zeros(2), 0.0)  # fmt: skip
    assert ranked[0].name == "good" and ranked[0].cost < 1e-6
    assert np.allclose(ranked[0].eye, good)
    forward = quat_to_mat(ranked[0].quat)[:, 2]
    assert np.allclose(forward, (TARGET - good) / np.linalg.norm(TARGET - good))
    assert {v.name for v in ranked} == {"back", "away", "low", "good", "droid", "droid_mirrored"}
    order = [v.name for v in ranked]
    assert order.index("back") > order.index("good") and order.index("low") > order.index("good")


def test_a_far_viewpoint_is_pulled_in_along_its_line_to_the_workspace() -> None:
    far = shoulder(distance=3.0)
    ranked = rank_viewpoints(capture([far], [TARGET]), ["far"], np.zeros(2), 0.0)
    chosen = next(v for v in ranked if v.name == "far")
    assert np.isclose(np.linalg.norm(chosen.eye - TARGET), ViewpointConfig().max_distance)
    assert np.allclose(
        (chosen.eye - TARGET) / np.linalg.norm(chosen.eye - TARGET), (far - TARGET) / 3.0
    )
    assert np.isclose(chosen.terms["moved"], (3.0 - 1.3) / 3.0)


def test_the_robot_base_pose_and_world_units_carry_the_answer() -> None:
    """A base moved and turned, and a world in millimetres: the same camera wins, moved."""
    turn, shift, per_metre = math.radians(90.0), np.array([0.2, -0.3]), 1000.0
    c, s = math.cos(turn), math.sin(turn)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

    def moved(p):
        return per_metre * (rot @ np.asarray(p)) + np.r_[per_metre * shift, 0.0]

    eyes = [shoulder(1.0), [-0.6, 0.0, 0.6], shoulder(-1.0, elevation=80.0)]
    names = ["good", "back", "steep"]
    plain = rank_viewpoints(capture(eyes, [TARGET] * 3), names, np.zeros(2), 0.0)
    world = capture([moved(e) for e in eyes], [moved(TARGET)] * 3)
    scaled = rank_viewpoints(world, names, per_metre * shift, turn, per_metre)
    assert [v.name for v in scaled] == [v.name for v in plain]
    assert np.allclose(scaled[0].eye, moved(plain[0].eye))
    assert np.allclose([v.cost for v in scaled], [v.cost for v in plain], atol=1e-9)


def test_the_objects_pull_the_target_toward_them() -> None:
    target = workspace_target(np.zeros(2), 0.0, 1.0, np.array([[0.55, 0.25], [0.65, -0.15]]))
    assert np.allclose(target, [(0.35 + 0.55 + 0.65) / 3, (0.05 + 0.25 - 0.15) / 3, 0.05])


def test_coverage_decides_between_candidates_of_similar_cost() -> None:
    ranked = rank_viewpoints(
        capture([shoulder(1.0), shoulder(1.0, elevation=40.0)], [TARGET, TARGET]),
        ["a", "b"],
        np.zeros(2),
        0.0,
    )
    top = ranked[:2]
    assert pick(top, [0.2, 0.9]) == 1 and pick(top, [0.9, 0.2]) == 0
    alpha = np.zeros((10, 10))
    alpha[:4] = 0.5
    alpha[4:6] = 0.49
    assert coverage(alpha) == 0.4
    with pytest.raises(ValueError):
        pick(top, [0.5])


def test_a_capture_frame_can_be_chosen_as_it_is() -> None:
    eyes, targets = [shoulder(1.0), [-0.6, 0.0, 0.6]], [TARGET, [0.3, 0.4, 0.0]]
    cameras = capture(eyes, targets)
    chosen = frame_viewpoint("b.jpg", ["a.jpg", "b.jpg"], cameras)
    assert np.allclose(chosen.eye, eyes[1])
    assert np.allclose(quat_to_mat(chosen.quat), quat_to_mat(look_at(np.array(eyes[1]),
                       np.array(targets[1]))))  # fmt: skip
    with pytest.raises(ReconstructError, match="not a registered frame"):
        frame_viewpoint("c.jpg", ["a.jpg", "b.jpg"], cameras)


@pytest.mark.parametrize(
    ("text", "mode"),
    [("auto", "auto"), ("droid", "droid"), ("frame_00012.jpg", "frame"),
     ("0.6,-0.7,0.55:0.35,0.05,0.05", "look"), (" 1e-1, 2 ,3:.5,0,0 ", "look")],
)  # fmt: skip
def test_the_exterior_choice_parses(text: str, mode: str) -> None:
    choice = ExteriorChoice.parse(text)
    assert choice.mode == mode
    if mode == "look":
        assert len(choice.eye) == 3 and len(choice.target) == 3


@pytest.mark.parametrize("text", ["", "1,2:3,4,5", "1,2,3:1,2,3", "a,b,c:d,e,f"])
def test_a_bad_exterior_choice_names_the_setting(text: str) -> None:
    with pytest.raises(ReconstructError, match="exterior_camera"):
        ExteriorChoice.parse(text)


def test_a_view_that_loses_the_robot_costs_more() -> None:
    """Beside the workspace at 0.55 m the robot's shoulder is 46 degrees off the viewing
    direction (out of DROID's frame); from 1 m it is 27 degrees off (in view)."""
    near = TARGET + 0.55 * np.array([0.0, math.cos(math.radians(35)), math.sin(math.radians(35))])
    far = TARGET + 1.0 * np.array([0.0, math.cos(math.radians(35)), math.sin(math.radians(35))])
    ranked = rank_viewpoints(capture([near, far], [TARGET, TARGET]), ["near", "far"],
                             np.zeros(2), 0.0)  # fmt: skip
    by_name = {v.name: v for v in ranked}
    assert by_name["near"].terms["robot_deg"] > 40 and by_name["far"].terms["robot_deg"] < 35
    assert by_name["far"].cost < 1e-6 < by_name["near"].cost
