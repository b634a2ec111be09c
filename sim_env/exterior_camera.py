"""Moving a package's exterior camera after the fact (``twinbench env edit --exterior-camera``):
to an eye looking at a target (``EX,EY,EZ:TX,TY,TZ``, world frame, metres) or to DROID's fixed
pose beside the package's robot base (``droid``), with a level horizon; its intrinsics stay.
``sim_env.package.edit`` applies it as one of its ``SpecEdit`` steps (this module imports
``sim_env.cameras`` and ``sim_env.primitives``, which import the package module, so the
package module takes it from the caller).

``auto`` (fitted to the capture's viewpoints) and a capture frame's name need the capture's
cameras, which a package does not keep: they belong to reconstruct's package stage
(``twinbench reconstruct SCAN --exterior-camera auto``), which reruns that stage alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim_env.cameras import look_at
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.errors import EnvPackageError
from sim_env.package.base import BasePlacement
from sim_env.package.merge import pose_matrix
from sim_env.primitives import EXTERIOR_EYE, EXTERIOR_TARGET

FLAG = "--exterior-camera"
_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"
_TRIPLE = rf"{_NUMBER},{_NUMBER},{_NUMBER}"
_CAPTURE_ONLY = (
    "needs the capture's cameras, which a package does not keep; rebuild the package stage "
    "with 'twinbench reconstruct SCAN --exterior-camera {text}' (only that stage reruns), or "
    "give droid or EX,EY,EZ:TX,TY,TZ"
)


@dataclass(frozen=True)
class ExteriorLook:
    """Where the exterior camera goes: ``droid`` (DROID's pose beside the base) or ``look``
    (``eye`` looking at ``target``, [3] each, world frame)."""

    mode: str
    eye: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def describe(self) -> str:
        """The edit, for the package's provenance notes."""
        if self.mode == "droid":
            return "exterior camera droid"
        eye, target = (",".join(f"{v:g}" for v in p) for p in (self.eye, self.target))
        return f"exterior camera {eye}:{target}"

    def apply(self, data: dict[str, Any], file: Path) -> None:
        """Move the exterior camera of ``data`` (an env.yaml mapping) in place."""
        place_exterior(data, self, file)


def parse_eye_target(
    text: str, field: str
) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """``EX,EY,EZ:TX,TY,TZ`` as (eye, target); None when ``text`` is not of that form. The eye
    and the target must differ (the error names ``field``)."""
    if not re.fullmatch(rf"{_TRIPLE}:{_TRIPLE}", text.strip()):
        return None
    eye, target = (tuple(float(v) for v in part.split(",")) for part in text.split(":"))
    if np.allclose(eye, target):
        raise EnvPackageError("the eye and the target must differ", field=field)
    return eye, target  # type: ignore[return-value]


def parse_exterior(text: str, flag: str = FLAG) -> ExteriorLook:
    """``droid`` or ``EX,EY,EZ:TX,TY,TZ`` (metres, world frame) as a placement."""
    text = text.strip()
    if text == "droid":
        return ExteriorLook("droid")
    given = parse_eye_target(text, flag)
    if given is not None:
        return ExteriorLook("look", *given)
    if text == "auto" or (text and not any(c in text for c in ",:")):
        raise EnvPackageError(f"{text!r} " + _CAPTURE_ONLY.format(text=text), field=flag)
    raise EnvPackageError(f"expected droid or EX,EY,EZ:TX,TY,TZ (metres), got {text!r}", field=flag)


def eye_and_target(choice: ExteriorLook, base_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[3], [3] the camera's eye and target in the world; ``droid``'s from the base's [4, 4]
    pose: DROID's eye and target turned by its yaw and moved to its (x, y), heights over the
    table kept (as ``sim_env.primitives`` places them for a base at the origin)."""
    if choice.mode == "look":
        return np.asarray(choice.eye, float), np.asarray(choice.target, float)
    on_table = BasePlacement.of(base_pose).matrix(0.0)
    turn, offset = on_table[:3, :3], on_table[:3, 3]
    return turn @ np.asarray(EXTERIOR_EYE) + offset, turn @ np.asarray(EXTERIOR_TARGET) + offset


def place_exterior(data: dict[str, Any], choice: ExteriorLook, file: Path) -> None:
    """Set the pose of the world-fixed exterior camera of ``data`` (an env.yaml mapping)."""
    cameras = data.get("cameras", [])
    index = next((i for i, c in enumerate(cameras) if c["name"] == EXTERIOR_IMAGE), None)
    if index is None:
        names = ", ".join(c["name"] for c in cameras) or "none"
        raise EnvPackageError(
            f"no camera named {EXTERIOR_IMAGE!r} to move (cameras: {names})",
            file=file,
            field="cameras",
        )
    eye, target = eye_and_target(choice, pose_matrix(data.get("robot", {}).get("base_pose", {})))
    if np.linalg.norm(np.cross(target - eye, [0.0, 0.0, 1.0])) < 1e-9:
        raise EnvPackageError(
            "the camera would look straight up or down (its horizon is undefined); move the "
            "eye or the target sideways",
            file=file,
            field=FLAG,
        )
    pose = {"pos": eye.tolist(), "quat": look_at(eye, target).tolist()}
    cameras[index] = cameras[index] | {"parent": "world", "pose": pose}
