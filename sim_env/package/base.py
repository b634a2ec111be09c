"""Moving a package's robot base (``twinbench env edit --base X,Y,YAW``, or a click in the
dashboard's environment view): the base goes to (x, y) at a yaw about world z, upright, at the
height it had. Cameras fixed in the world move with it, keeping their pose relative to the
base: reconstruct places the exterior camera beside the robot, as DROID's stands there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim_env.errors import EnvPackageError
from sim_env.package.merge import pose_matrix
from sim_env.package.schema import WORLD_EXTENT
from sim_env.splats.rotations import matrix_to_quat


@dataclass(frozen=True)
class BasePlacement:
    """Where the robot base goes, in the world (table) frame."""

    x: float  # m
    y: float  # m
    yaw_deg: float  # about world z; 0: the base's x axis along the world's

    @classmethod
    def of(cls, matrix: np.ndarray) -> BasePlacement:
        """The placement of a [4, 4] base pose (its yaw: the heading of its x axis)."""
        yaw = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
        return cls(float(matrix[0, 3]), float(matrix[1, 3]), float(yaw))

    def describe(self) -> str:
        return f"base x={self.x:g},y={self.y:g},yaw={self.yaw_deg:g}"

    def matrix(self, z: float) -> np.ndarray:
        """[4, 4] the base's pose at height ``z`` (m)."""
        yaw = np.radians(self.yaw_deg)
        pose = np.eye(4)
        pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
        pose[:3, 3] = (self.x, self.y, z)
        return pose


def parse_base(text: str, flag: str = "--base") -> BasePlacement:
    """``"X,Y,YAW"`` (metres, metres, degrees) as a placement."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        x, y, yaw = (float(p) for p in parts)
    except ValueError:
        raise EnvPackageError(
            f"expected X,Y,YAW (metres, metres, degrees), got {text!r}", field=flag
        ) from None
    if not all(np.isfinite((x, y, yaw))):
        raise EnvPackageError(f"expected finite numbers, got {text!r}", field=flag)
    return BasePlacement(x, y, yaw)


def _pose(matrix: np.ndarray) -> dict[str, list[float]]:
    return {"pos": matrix[:3, 3].tolist(), "quat": matrix_to_quat(matrix[None, :3, :3])[0].tolist()}


def place_base(data: dict[str, Any], base: BasePlacement, file: Path) -> None:
    """Move the robot base of ``data`` (an env.yaml mapping) and its world cameras in place."""
    robot = data.setdefault("robot", {})
    old = pose_matrix(robot.get("base_pose") or {})
    if max(abs(base.x), abs(base.y)) > WORLD_EXTENT:
        raise EnvPackageError(
            f"({base.x:g}, {base.y:g}) lies beyond {WORLD_EXTENT:g} m of the origin",
            file=file,
            field="robot.base_pose.pos",
        )
    new = base.matrix(float(old[2, 3]))
    robot["base_pose"] = _pose(new)
    move = new @ np.linalg.inv(old)
    for camera in data.get("cameras", []):
        if camera.get("parent", "world") == "world":
            camera["pose"] = _pose(move @ pose_matrix(camera["pose"]))
