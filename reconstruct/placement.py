"""Where the robot base stands on the table: given by the user, at the marker, or by default.

All positions are world xy (the table plane, z = 0) in world units: metres when the scale is
known; the robot's own sizes (``ROBOT_INSET_M``, ``ARM_REACH_M``) are metres and are given
here in world units by the caller (``per_metre``).

The default, without a marker or ``--base``: the robot stands where the person filming stood.
It sits on the table's edge facing the cameras (where the line from the table's middle toward
the cameras' mean position leaves the table's outline), ``ROBOT_INSET_M`` inside that edge,
pulled back along that line if needed to stand clear of every object in front of it, and
faces the table's middle. How far depends on the object's height, because the arm at its home
pose hangs the gripper over the table ahead of the base: anything lower than the gripper's
underside (``HOME_UNDERSIDE_M``) may stand ``OBJECT_CLEARANCE_M`` ahead, anything taller must
stand beyond the arm's whole home pose (``HOME_SWEEP_M``), or the arm starts inside it.
A tall object stands beyond the arm's home pose as a whole, its low parts too (the points
linked to a tall one within ``STRAY_RADIUS_M``): the task's reach is measured to the object's
box, and a box whose near edge came as close as the arm's own sweep held the gripper within
reach at reset (the Buddha clip: the statue's chin 0.43 m ahead, touched after one step).
A point with fewer than ``STRAY_NEIGHBOURS`` others within ``STRAY_RADIUS_M`` is a stray of
structure from motion, not an object, and moves nothing (on the Buddha clip two lone points
0.4 m above the table pushed the base 0.13 m back, and the statue's top out of reach).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.floaters import isolated, pieces
from reconstruct.geometry import outline, ray_exit

ROBOT_INSET_M = 0.1  # the Panda's base plate is about 0.2 m across: its centre this far inside
ARM_REACH_M = 0.855  # the Panda's reach from its base
OBJECT_CLEARANCE_M = 0.3  # the Panda works on objects 0.3 m or more in front of its base
# The arm at sim_env.robot.HOME_QPOS (measured on the MuJoCo model, base on the table): the
# gripper's pads hang down to 0.376 m above the table, and nothing of the arm or gripper is
# more than 0.477 m ahead of the base. Each with a 2.5-5 cm margin.
HOME_UNDERSIDE_M = 0.35
HOME_SWEEP_M = 0.53
STRAY_RADIUS_M = 0.03  # a standing point with fewer than STRAY_NEIGHBOURS others this near
STRAY_NEIGHBOURS = 3  # ... is a stray (SfM's points on a real object lie far denser)


@dataclass(frozen=True)
class BasePose:
    """The robot base on the table: position (world units) and yaw about z (degrees)."""

    x: float
    y: float
    yaw_deg: float

    def __post_init__(self) -> None:
        if not all(np.isfinite([self.x, self.y, self.yaw_deg])):
            raise ReconstructError(
                f"the robot base must be finite numbers, got {self.x}, {self.y}, {self.yaw_deg}",
                field="align.base",
            )


@dataclass(frozen=True)
class Placement:
    """The robot base chosen, how (``marker``, ``given`` or ``default``) and why."""

    base: BasePose
    source: str
    note: str

    def as_dict(self, per_metre: float) -> dict[str, object]:
        """The align summary's ``robot_base`` record (positions in world units)."""
        return {
            "position_m": [self.base.x, self.base.y, 0.0],
            "yaw_deg": self.base.yaw_deg,
            "source": self.source,
            "note": self.note,
            "units_per_metre": per_metre,
        }


def home_clearance_m(heights_m: np.ndarray) -> np.ndarray:
    """How far ahead of the base a point this high above the table must stand (metres): the
    gripper at the home pose passes over a low one, a taller one must be beyond the arm."""
    return np.where(np.asarray(heights_m) < HOME_UNDERSIDE_M, OBJECT_CLEARANCE_M, HOME_SWEEP_M)


def default_base(
    table: np.ndarray,
    objects: np.ndarray,
    cameras: np.ndarray,
    per_metre: float,
    middle: np.ndarray | None = None,
) -> Placement:
    """The robot on the table's edge facing the cameras, and facing ``middle``.

    Args:
        table: ``[T, 2]`` xy of the table-plane points.
        objects: ``[J, 3]`` xyz of the points standing on the table (z: height above it),
            or ``[J, 2]`` xy of points all known to be lower than the gripper at home;
            strays (``STRAY_RADIUS_M``) are left out.
        cameras: ``[N, 2]`` xy of the camera centres.
        per_metre: world units per metre.
        middle: ``[2]`` the table's middle (default: the table points' median).
    """
    polygon = outline(table)
    if polygon is None:
        raise ReconstructError(
            "the table points have no extent to place the robot on; give --base X Y YAW",
            field="align.base",
        )
    middle = np.median(table, axis=0) if middle is None else np.asarray(middle, float)
    toward = cameras.mean(axis=0) - middle
    if np.linalg.norm(toward) < 1e-9 * max(float(np.ptp(table, axis=0).max()), 1e-300):
        toward = cameras[0] - middle
    toward /= np.linalg.norm(toward)
    inset = ROBOT_INSET_M * per_metre
    along = ray_exit(polygon, middle, toward) - inset
    note = "on the table's edge facing the cameras"
    objects = np.asarray(objects, float)
    if len(objects):
        objects = objects[~isolated(objects, STRAY_RADIUS_M * per_metre, STRAY_NEIGHBOURS)]
    if len(objects):
        xy = objects[:, :2]
        heights = objects[:, 2] if objects.shape[1] > 2 else np.zeros(len(objects))
        if len(heights) and heights.max() > 0:
            piece = pieces(objects, STRAY_RADIUS_M * per_metre)
            tops = np.zeros(piece.max() + 1)
            np.maximum.at(tops, piece, heights)
            heights = tops[piece]  # each point as tall as its object
        clearance = home_clearance_m(heights / per_metre) * per_metre
        ahead = (xy - middle) @ toward
        sideways = np.abs((xy - middle) @ np.array([-toward[1], toward[0]]))
        near = sideways < clearance  # the base may come no nearer than this along the line
        blocking = ahead[near] + np.sqrt(clearance[near] ** 2 - sideways[near] ** 2)
        if len(blocking) and blocking.max() > along:
            along = float(blocking.max())
            note += ", moved back to stand clear of the objects"
            if clearance[near][np.argmax(blocking)] > OBJECT_CLEARANCE_M * per_metre:
                note += " (one rises into the arm's home pose)"
    position = middle + along * toward
    yaw = float(np.degrees(np.arctan2(-toward[1], -toward[0])))
    return Placement(BasePose(float(position[0]), float(position[1]), yaw), "default", note)
