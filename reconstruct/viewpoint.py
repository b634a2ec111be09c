"""Where the exterior camera stands: fitted to the capture, so it looks where the splats are good.

DROID's exterior camera stands beside the robot at shoulder height and looks down at the
workspace in front of it (``sim_env.primitives.EXTERIOR_EYE`` / ``EXTERIOR_TARGET``). Splats
are only good near the viewpoints they were trained from: placed at a fixed pose, the camera
of a real scan saw mostly void and floaters. So each capture viewpoint is a candidate: moved
along its line to the workspace into DROID's distance range and turned to look at the
workspace with a level horizon, it costs

- ``closeness``: how far it moved (relative to its distance) plus the angle between its new
  viewing direction and the nearest capture camera's, radians;
- ``elevation``, ``azimuth`` and ``robot``: how far it lies outside DROID's band of views
  (radians): looking down at 15-50 degrees, from the robot's side (30-130 degrees from its
  forward axis), the robot's shoulder within 35 degrees of the viewing direction (in view).

DROID's own poses (either side of the robot) are candidates too, costed the same way. Every
candidate looks at the workspace: DROID's target pulled toward the objects.
``pick`` then prefers, among the cheapest few, the one whose rendered view is covered most
(``coverage``: the fraction of pixels whose splat alpha is at least 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.gravity import Cameras
from sim_env.cameras import look_at, mat_to_quat
from sim_env.errors import EnvPackageError
from sim_env.exterior_camera import parse_eye_target
from sim_env.primitives import EXTERIOR_EYE, EXTERIOR_TARGET

COVERED_ALPHA = 0.5  # a pixel whose splats are at least this opaque shows the scan
SHOULDER_HEIGHT = 0.333  # m, the Panda's shoulder (joint 2) above its base


@dataclass(frozen=True)
class ViewpointConfig:
    """DROID's band of exterior views (metres, degrees) and how many candidates are rendered."""

    min_distance: float = 0.55  # from the workspace target
    max_distance: float = 1.3
    elevation_deg: tuple[float, float] = (15.0, 50.0)  # looking down at the target
    azimuth_deg: tuple[float, float] = (30.0, 130.0)  # |angle| from the robot's forward axis
    robot_deg: float = 35.0  # the robot's shoulder at most this far off the viewing direction
    rendered: int = 4  # the cheapest this many are rendered for their coverage


@dataclass(frozen=True, eq=False)
class Viewpoint:
    """A candidate exterior camera: ``eye`` [3] and OpenCV ``quat`` (w, x, y, z) in the world,
    the capture frame it came from (``droid`` / ``droid_mirrored`` for DROID's own poses)."""

    name: str
    eye: np.ndarray
    quat: np.ndarray
    cost: float
    terms: dict[str, float]

    def pose(self) -> dict[str, list[float]]:
        return {"pos": self.eye.tolist(), "quat": self.quat.tolist()}


def workspace_target(
    base_xy: np.ndarray, yaw: float, per_metre: float, objects_xy: np.ndarray | None = None
) -> np.ndarray:
    """[3] the point the exterior camera looks at, world units: DROID's target for a base at
    ``base_xy`` facing ``yaw`` (rad), pulled toward the objects (``objects_xy`` [M, 2]): the
    mean of it and their positions, since the task happens between the gripper and them."""
    target = _in_world(np.asarray(EXTERIOR_TARGET), base_xy, yaw, per_metre)
    if objects_xy is not None and len(objects_xy):
        points = np.vstack([target[:2], np.asarray(objects_xy, float).reshape(-1, 2)])
        target[:2] = points.mean(axis=0)
    return target


def _in_world(local: np.ndarray, base_xy: np.ndarray, yaw: float, per_metre: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    x, y, z = per_metre * np.asarray(local, float)
    return np.array([base_xy[0] + c * x - s * y, base_xy[1] + s * x + c * y, z])


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _outside(value: float, band: tuple[float, float]) -> float:
    """Radians by which ``value`` (degrees) lies outside ``band`` (degrees)."""
    return math.radians(max(band[0] - value, value - band[1], 0.0))


def _costed(
    name: str,
    eye: np.ndarray,
    target: np.ndarray,
    shoulder: np.ndarray,
    captures: Cameras,
    yaw: float,
    config: ViewpointConfig,
) -> Viewpoint:
    forward = (target - eye) / np.linalg.norm(target - eye)
    reach = np.linalg.norm(captures.centres - target, axis=1)
    moved = np.linalg.norm(captures.centres - eye, axis=1) / np.maximum(reach, 1e-12)
    turned = _angle(captures.forward, forward[None])
    nearest = int(np.argmin(moved + turned))
    offset = eye - target
    elevation = math.degrees(math.asin(offset[2] / np.linalg.norm(offset)))
    c, s = math.cos(yaw), math.sin(yaw)
    azimuth = abs(
        math.degrees(math.atan2(-s * offset[0] + c * offset[1], c * offset[0] + s * offset[1]))
    )
    terms = {
        "moved": float(moved[nearest]),
        "turned_deg": math.degrees(float(turned[nearest])),
        "elevation_deg": elevation,
        "azimuth_deg": azimuth,
        "robot_deg": math.degrees(float(_angle(forward, shoulder - eye))),
    }
    cost = (
        float(moved[nearest] + turned[nearest])
        + _outside(elevation, config.elevation_deg)
        + _outside(azimuth, config.azimuth_deg)
        + _outside(terms["robot_deg"], (0.0, config.robot_deg))
    )
    return Viewpoint(name, eye, look_at(eye, target), cost, terms)


def rank_viewpoints(
    captures: Cameras,  # the aligned capture cameras, world frame and units
    names: Sequence[str],  # their frame names
    base_xy: np.ndarray,  # [2] the robot base, world units
    yaw: float,  # the robot's heading, rad
    per_metre: float = 1.0,  # world units per metre
    objects_xy: np.ndarray | None = None,  # [M, 2] where the objects stand, world units
    config: ViewpointConfig = ViewpointConfig(),
) -> list[Viewpoint]:
    """Every candidate exterior camera, cheapest first (see the module's docstring)."""
    if len(captures.centres) == 0:
        raise ReconstructError("no capture cameras to fit the exterior camera to", field="sfm")
    target = workspace_target(np.asarray(base_xy, float), yaw, per_metre, objects_xy)
    shoulder = _in_world(np.array([0.0, 0.0, SHOULDER_HEIGHT]), base_xy, yaw, per_metre)
    low, high = config.min_distance * per_metre, config.max_distance * per_metre
    candidates = []
    for name, centre in zip(names, captures.centres, strict=True):
        offset = centre - target
        distance = float(np.linalg.norm(offset))
        if distance < 1e-9:
            continue
        eye = target + offset * (np.clip(distance, low, high) / distance)
        candidates.append(_costed(name, eye, target, shoulder, captures, yaw, config))
    for name, side in (("droid", 1.0), ("droid_mirrored", -1.0)):
        local = np.asarray(EXTERIOR_EYE) * np.array([1.0, side, 1.0])
        eye = _in_world(local, np.asarray(base_xy, float), yaw, per_metre)
        candidates.append(_costed(name, eye, target, shoulder, captures, yaw, config))
    return sorted(candidates, key=lambda v: v.cost)


def coverage(alpha: np.ndarray) -> float:
    """Fraction of the pixels (``alpha`` [H, W], splat opacity) that show the scan."""
    return float(np.mean(np.asarray(alpha) >= COVERED_ALPHA))


def pick(candidates: Sequence[Viewpoint], coverages: Sequence[float]) -> int:
    """Index of the candidate with the best coverage x exp(-cost) (coverage in [0, 1])."""
    if len(candidates) != len(coverages) or not candidates:
        raise ValueError("one coverage per candidate, at least one candidate")
    scores = [c * math.exp(-v.cost) for v, c in zip(candidates, coverages, strict=True)]
    return int(np.argmax(scores))


@dataclass(frozen=True)
class ExteriorChoice:
    """How the exterior camera is placed: ``auto`` (fitted), ``droid`` (DROID's fixed pose
    beside the robot), ``frame`` (a capture frame's own pose) or ``look`` (eye and target)."""

    mode: str = "auto"
    frame: str = ""
    eye: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def parse(cls, text: str) -> ExteriorChoice:
        """``auto``, ``droid``, a frame name, or ``EX,EY,EZ:TX,TY,TZ`` (world units)."""
        text = text.strip()
        if text in ("auto", "droid"):
            return cls(text)
        try:
            given = parse_eye_target(text, "package.exterior_camera")
        except EnvPackageError as exc:
            raise ReconstructError(exc.message, field=exc.field) from None
        if given is not None:
            return cls("look", eye=given[0], target=given[1])
        if not text or ":" in text or "," in text:
            raise ReconstructError(
                f"{text!r} is not auto, droid, a frame name or EX,EY,EZ:TX,TY,TZ",
                field="package.exterior_camera",
            )
        return cls("frame", frame=text)


def frame_viewpoint(name: str, names: Sequence[str], captures: Cameras) -> Viewpoint:
    """The capture frame ``name``'s own pose as a viewpoint."""
    if name not in names:
        shown = ", ".join(list(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise ReconstructError(
            f"{name!r} is not a registered frame ({shown})", field="package.exterior_camera"
        )
    i = list(names).index(name)
    down = captures.down[i]
    forward = captures.forward[i]
    rotation = np.stack([np.cross(down, forward), down, forward], axis=1)
    return Viewpoint(name, captures.centres[i].copy(), mat_to_quat(rotation), 0.0, {})


def look_viewpoint(choice: ExteriorChoice) -> Viewpoint:
    eye, target = np.asarray(choice.eye, float), np.asarray(choice.target, float)
    return Viewpoint("given", eye, look_at(eye, target), 0.0, {})
