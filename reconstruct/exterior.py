"""The package stage's cameras: DROID's pair, with the exterior camera placed as chosen
(``reconstruct.viewpoint``) and its coverage measured on the package's own splats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.gravity import Cameras
from reconstruct.viewpoint import (
    ExteriorChoice,
    Viewpoint,
    ViewpointConfig,
    coverage,
    frame_viewpoint,
    look_viewpoint,
    pick,
    rank_viewpoints,
    workspace_target,
)
from sim_env.cameras import Intrinsics, quat_to_mat
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.package.schema import CameraSpec
from sim_env.primitives import droid_cameras
from sim_env.splats import GaussianSet, concat, rasterize
from sim_env.splats.ply import read_ply
from sim_env.splats.transform import transform

COVERAGE_SIZE = (160, 90)  # px: candidates' views are rendered this small for their coverage


@dataclass(frozen=True, eq=False)
class CaptureCameras:
    """The aligned capture's cameras (world frame and units) and their frame names."""

    cameras: Cameras
    names: list[str]

    @classmethod
    def of_model(cls, model_dir: Path) -> CaptureCameras:
        poses = registered_poses(load_model(model_dir))
        return cls(Cameras.from_poses(poses.cam_from_world), poses.names)


def package_gaussians(
    root: Path, scene: dict[str, Any], objects: list[dict[str, Any]], poses: list[dict]
) -> GaussianSet | None:
    """The package's splats in the world: the scene's, and each object's at ``poses``
    (``{pos, quat}``, one per object)."""
    parts = [read_ply(root / scene["splats"])] if scene.get("splats") else []
    for spec, pose in zip(objects, poses, strict=True):
        if spec.get("splats"):
            local = read_ply(root / spec["splats"])
            parts.append(transform(local, quat_to_mat(pose["quat"]), np.asarray(pose["pos"])))
    return concat(parts) if parts else None


def view_alpha(gaussians: GaussianSet, viewpoint: Viewpoint, size=COVERAGE_SIZE) -> np.ndarray:
    """[H, W] splat opacity seen by a DROID exterior camera at ``viewpoint``."""
    droid = next(c for c in droid_cameras(size) if c["name"] == EXTERIOR_IMAGE)
    camera = CameraSpec.model_validate(droid | {"pose": viewpoint.pose()})  # DROID's intrinsics
    k = Intrinsics.of(camera).matrix()
    rot = quat_to_mat(viewpoint.quat)
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = rot.T, -rot.T @ viewpoint.eye
    g = gaussians
    _, _, alpha = rasterize(g.means, g.quats, g.scales, g.opacities, g.sh, view, k, *size)
    return alpha


def choose_exterior(
    choice: ExteriorChoice,
    captures: CaptureCameras,
    base: dict[str, Any],
    gaussians: GaussianSet | None,
    objects_xy: np.ndarray | None = None,
    config: ViewpointConfig | None = None,
) -> tuple[Viewpoint, dict[str, Any]]:
    """The exterior camera's viewpoint and a summary record (which, why, its coverage).

    ``base``: the align stage's ``robot_base`` record (world units, ``units_per_metre``);
    ``objects_xy`` [M, 2]: where the objects stand; ``gaussians``: the package's splats in the
    world, rendered for each candidate's coverage (None: not measured)."""
    config = config or ViewpointConfig()
    xy = np.asarray(base["position_m"][:2], float)
    yaw = math.radians(float(base["yaw_deg"]))
    per_metre = float(base.get("units_per_metre", 1.0))

    def covered(v: Viewpoint) -> float | None:
        return None if gaussians is None else coverage(view_alpha(gaussians, v))

    ranked = rank_viewpoints(
        captures.cameras, captures.names, xy, yaw, per_metre, objects_xy, config
    )
    if choice.mode == "auto":
        shortlist = ranked[: config.rendered]
        scores = [covered(v) for v in shortlist]
        best = pick(shortlist, [1.0 if s is None else s for s in scores])
        chosen, cover = shortlist[best], scores[best]
        considered = [
            {"name": v.name, "cost": round(v.cost, 4), "coverage": s}
            for v, s in zip(shortlist, scores, strict=True)
        ]
    else:
        if choice.mode == "droid":
            chosen = next(v for v in ranked if v.name == "droid")
        elif choice.mode == "frame":
            chosen = frame_viewpoint(choice.frame, captures.names, captures.cameras)
        else:
            chosen = look_viewpoint(choice)
        cover, considered = covered(chosen), []
    record = {
        "mode": choice.mode,
        "chosen": chosen.name,
        "pose": chosen.pose(),
        "target": workspace_target(xy, yaw, per_metre, objects_xy).tolist(),
        "coverage": cover,
        "cost": round(chosen.cost, 4),
        "terms": {k: round(v, 4) for k, v in chosen.terms.items()},
        "considered": considered,
    }
    return chosen, record


def with_exterior(cameras: list[dict], exterior: Viewpoint) -> list[dict]:
    """``cameras`` (package camera records) with the exterior one (world-fixed) at ``exterior``."""
    return [
        c | {"parent": "world", "pose": exterior.pose()} if c["name"] == EXTERIOR_IMAGE else c
        for c in cameras
    ]
