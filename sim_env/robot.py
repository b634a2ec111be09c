"""The DROID robot: a menagerie Panda arm without hand, a Robotiq 2F-85 at its flange.

Resolved through ``mujoco_menagerie`` (offline with ``MENAGERIE_ROOT``) and composed with
MjSpec. Attaching copies the gripper but keeps the parent's solver options, so the gripper's
``impratio=10`` / elliptic cones are set again on the composed model (``scene.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import mujoco

from sim_env.errors import SimEnvError
from sim_env.package.schema import RobotSpec

ROBOT_PREFIX = "robot/"
GRIPPER_PREFIX = "gripper/"
ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))
GRIPPER_ACTUATOR = "fingers_actuator"
GRIPPER_DRIVER_JOINT = "right_driver_joint"
GRIPPER_BASE_BODY = "base"
GRIPPER_TCP_SITE = "pinch"
GRIPPER_CTRL_MAX = 255.0  # the 2F-85 actuator's control range is [0, 255]
GRIPPER_DRIVER_MAX = 0.8  # rad, the driver joint's travel from open to closed
# DROID's usual home pose (rad): the arm above the table, gripper pointing down.
HOME_QPOS = (0.0, -0.5, 0.0, -2.3, 0.0, 1.8, 0.785)


@dataclass(frozen=True)
class RobotNames:
    """Full names of the robot's parts in the composed model."""

    arm_joints: tuple[str, ...] = tuple(ROBOT_PREFIX + j for j in ARM_JOINTS)
    arm_actuators: tuple[str, ...] = tuple(ROBOT_PREFIX + j for j in ARM_JOINTS)
    gripper_actuator: str = ROBOT_PREFIX + GRIPPER_PREFIX + GRIPPER_ACTUATOR
    gripper_driver_joint: str = ROBOT_PREFIX + GRIPPER_PREFIX + GRIPPER_DRIVER_JOINT
    gripper_base: str = ROBOT_PREFIX + GRIPPER_PREFIX + GRIPPER_BASE_BODY
    tcp_site: str = ROBOT_PREFIX + GRIPPER_PREFIX + GRIPPER_TCP_SITE
    base_body: str = ROBOT_PREFIX + "link0"


def _menagerie_spec(robot: str, entry: str) -> mujoco.MjSpec:
    import mujoco_menagerie

    try:
        return mujoco_menagerie.get(robot).spec(entry)
    except mujoco_menagerie.MenagerieError as exc:
        raise SimEnvError(
            f"cannot load menagerie model {robot}/{entry}: {exc} "
            "(offline machines: set MENAGERIE_ROOT to a folder holding the menagerie models)"
        ) from None


def attach_robot(world: mujoco.MjSpec, robot: RobotSpec) -> RobotNames:
    """Add the DROID robot to ``world`` at ``robot.base_pose``; returns its part names."""
    arm = _menagerie_spec(robot.arm, robot.arm_entry)
    gripper = _menagerie_spec(robot.gripper, robot.gripper_entry)
    # Attaching keeps the parent's solver options (and warns about the child's): the 2F-85's
    # impratio=10 and elliptic cones must hold in the world, and the arm must agree with it.
    world.option.impratio, world.option.cone = gripper.option.impratio, gripper.option.cone
    for option in ("impratio", "cone", "integrator", "timestep"):
        setattr(arm.option, option, getattr(world.option, option))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Attach conflict")
        arm.site("attachment_site").attach_body(gripper.body("base_mount"), GRIPPER_PREFIX, "")
        frame = world.worldbody.add_frame(
            pos=list(robot.base_pose.pos), quat=list(robot.base_pose.quat)
        )
        frame.attach_body(arm.body("link0"), ROBOT_PREFIX, "")
    names = RobotNames()
    # Gravity compensation, as the real Franka controller does: joint targets are tracked
    # without a gravity-induced offset.
    for body in world.bodies:
        if body.name.startswith(ROBOT_PREFIX):
            body.gravcomp = 1.0
    return names
