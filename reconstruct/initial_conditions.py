"""Initial conditions: object layouts on the table sampled without overlap, then checked in
MuJoCo (no object may interpenetrate another, the table or the robot at its home pose).

A layout places each object by (x, y, yaw) on the table; its body origin sits at the table
surface (z = 0) when its hulls' lowest point is at the origin's height, as reconstruct and
the source world both build them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from reconstruct.errors import ReconstructError
from sim_env.invariants import start_states
from sim_env.package import EnvPackage, InitialCondition, save_package
from sim_env.robot import HOME_QPOS
from sim_env.scene import apply_initial_condition, build_scene, penetrations

Layout = dict[str, tuple[float, float, float]]  # name -> (x m, y m, yaw rad)
LIFT = 1e-4  # m, objects start this far above their resting height


@dataclass(frozen=True)
class LayoutConfig:
    """Where and how objects are scattered.

    Attributes:
        workspace_x, workspace_y: the region object centres are sampled in, metres.
        min_gap: smallest distance between two objects' footprint discs, metres.
        max_yaw_deg: yaw drawn in [-max, max] (uniform sampling) or added (perturbation).
        perturb_xy: with ``around``, each object moves at most this far, metres.
        count: layouts wanted (including the first one when given).
        max_tries: candidate layouts tried before giving up.
        seed: random seed.
    """

    workspace_x: tuple[float, float] = (0.4, 0.65)
    workspace_y: tuple[float, float] = (-0.25, 0.25)
    min_gap: float = 0.02
    max_yaw_deg: float = 35.0
    perturb_xy: float = 0.06
    count: int = 10
    max_tries: int = 5000
    seed: int = 0

    def in_units(self, per_metre: float) -> LayoutConfig:
        """These settings with their lengths in world units (``per_metre`` to a metre)."""
        return replace(
            self,
            workspace_x=(self.workspace_x[0] * per_metre, self.workspace_x[1] * per_metre),
            workspace_y=(self.workspace_y[0] * per_metre, self.workspace_y[1] * per_metre),
            min_gap=self.min_gap * per_metre,
            perturb_xy=self.perturb_xy * per_metre,
        )


def footprint_radius(vertices: np.ndarray) -> float:
    """Radius about the body origin of the xy footprint of ``[V, 3]`` body-frame vertices."""
    return float(np.linalg.norm(np.asarray(vertices)[:, :2], axis=1).max())


def yaw_quat(yaw: float) -> list[float]:
    """(w, x, y, z) of a rotation by ``yaw`` radians about world z."""
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def _apart(centres: np.ndarray, radii: np.ndarray, gap: float) -> bool:
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    need = radii[:, None] + radii[None] + gap
    np.fill_diagonal(d, np.inf)
    return bool(np.all(d >= need))


def sample_layouts(
    radii: dict[str, float], config: LayoutConfig, around: Layout | None = None
) -> list[Layout]:
    """``config.count`` layouts whose footprint discs keep ``min_gap`` apart.

    Without ``around``, centres are uniform in the workspace and yaws uniform; with it, the
    first layout is ``around`` itself and the others perturb it (the scanned arrangement).
    """
    rng = np.random.default_rng(config.seed)
    names = list(radii)
    r = np.array([radii[n] for n in names])
    max_yaw = np.radians(config.max_yaw_deg)
    layouts: list[Layout] = [dict(around)] if around is not None else []
    for _ in range(config.max_tries):
        if len(layouts) >= config.count:
            break
        if around is None:
            lo = (config.workspace_x[0], config.workspace_y[0])
            hi = (config.workspace_x[1], config.workspace_y[1])
            xy = rng.uniform(lo, hi, (len(names), 2))
            yaw = rng.uniform(-max_yaw, max_yaw, len(names))
        else:
            base = np.array([around[n][:2] for n in names])
            xy = base + rng.uniform(-config.perturb_xy, config.perturb_xy, (len(names), 2))
            yaw = np.array([around[n][2] for n in names]) + rng.uniform(
                -max_yaw, max_yaw, len(names)
            )
        if _apart(xy, r, config.min_gap):
            layouts.append(
                {
                    n: (float(p[0]), float(p[1]), float(a))
                    for n, p, a in zip(names, xy, yaw, strict=True)
                }
            )
    return layouts


def to_initial_condition(layout: Layout, heights: dict[str, float], lift: float = LIFT) -> dict:
    """The package's initial condition for a layout; ``heights`` is each body origin's height
    above its lowest hull point (0 for origins at the bottom), ``lift`` the gap under it."""
    return {
        "objects": {
            name: {"pos": [x, y, heights[name] + lift], "quat": yaw_quat(yaw)}
            for name, (x, y, yaw) in layout.items()
        },
        "arm_qpos": list(HOME_QPOS),
        "gripper": 0.0,
    }


def interpenetrations(package: EnvPackage, conditions: list[dict]) -> list[list[str]]:
    """For each initial condition (package format), the bodies that interpenetrate and how
    deep (``sim_env.scene.penetrations``); empty lists where nothing does."""
    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    found = []
    for condition in conditions:
        apply_initial_condition(scene, data, InitialCondition.model_validate(condition))
        found.append(penetrations(scene, data))
    return found


def collision_free(package: EnvPackage, conditions: list[dict]) -> list[bool]:
    """For each initial condition (package format), whether nothing interpenetrates."""
    return [not found for found in interpenetrations(package, conditions)]


def drop_unusable_starts(
    spec: dict[str, Any], root: Path, labels: list[int]
) -> tuple[list[dict], list[dict]]:
    """Drop from ``spec`` (saved in ``root``) the initial conditions ``twinbench env validate
    --deep`` would refuse: those whose rubric already scores at reset, and those that do not
    settle (an object perturbed over the table's edge tips and still moves); what was dropped
    and why, each list (``labels``: each condition's number among the candidates, for the
    summary).

    Raises:
        ReconstructError: no start state is left.
    """
    checked = start_states(save_package(spec, root))
    scored = [
        {"candidate": label, "reached_at_reset": state.reached_at_reset}
        for label, state in zip(labels, checked, strict=True)
        if state.reached_at_reset
    ]
    unsettled = [
        {"candidate": label, "problems": state.settling}
        for label, state in zip(labels, checked, strict=True)
        if state.settling and not state.reached_at_reset
    ]
    if len(scored) == len(labels):
        raise ReconstructError(
            f"every initial condition starts with the rubric already scoring "
            f"({scored[0]['reached_at_reset']} reached at reset): move the objects away from "
            "the gripper's home position (--objects) or the robot base (--base)",
            field="initial_conditions",
        )
    if len(scored) + len(unsettled) == len(labels):
        raise ReconstructError(
            f"no initial condition settles: {'; '.join(unsettled[0]['problems'])} (an object "
            "over the table's edge, or one the scan cut badly: drop or move it with --objects)",
            field="initial_conditions",
        )
    spec["initial_conditions"] = [
        condition
        for condition, state in zip(spec["initial_conditions"], checked, strict=True)
        if not state.reached_at_reset and not state.settling
    ]
    return scored, unsettled
