"""Several objects of a package as one rigid body: their hulls, visual meshes and splats moved
into one body frame and concatenated, their masses added (``twinbench env edit --merge``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from sim_env.package.geometry import load_mesh
from sim_env.splats import concat, read_ply, transform, write_ply
from sim_env.splats.rotations import quat_to_matrix

DEFAULT_FRICTION = (1.0, 0.005, 0.0001)


def pose_matrix(pose: dict[str, Any]) -> np.ndarray:
    """``[4, 4]`` transform of a pose mapping (``pos``, ``quat`` w x y z; metres)."""
    matrix = np.eye(4)
    matrix[:3, :3] = quat_to_matrix(np.asarray(pose.get("quat", (1.0, 0.0, 0.0, 0.0)))[None])[0]
    matrix[:3, 3] = pose.get("pos", (0.0, 0.0, 0.0))
    return matrix


def free_path(root: Path, folder: str, stem: str, suffix: str) -> str:
    """A package-relative path ``folder/stem<suffix>`` not yet taken (numbered if it is)."""
    rel, k = f"{folder}/{stem}{suffix}", 1
    while (root / rel).exists():
        rel, k = f"{folder}/{stem}_{k}{suffix}", k + 1
    return rel


def object_mass(obj: dict[str, Any], root: Path) -> float:
    """An object's mass in kg: given, or its density times the volume of its hulls."""
    if obj.get("mass") is not None:
        return float(obj["mass"])
    volume = sum(
        float(trimesh.convex.convex_hull(load_mesh(root / h).vertices).volume)
        for h in obj["collision_hulls"]
    )
    return float(obj["density"]) * volume


def merge_bodies(
    parts: list[dict[str, Any]], relative: list[np.ndarray], name: str, root: Path
) -> dict[str, Any]:
    """The object spec of ``parts`` (object mappings of the package at ``root``) as one body
    named ``name`` in the first part's frame; ``relative`` holds each part's ``[4, 4]`` pose
    in that frame. Writes its hulls, visual mesh and splats under ``root``; the colour and
    friction are the first part's."""
    hulls, visuals, splats = [], [], []
    for part, moved in zip(parts, relative, strict=True):
        for hull in part["collision_hulls"]:
            mesh = load_mesh(root / hull)
            mesh.apply_transform(moved)
            rel = free_path(root, "hulls", f"{name}_{len(hulls)}", ".obj")
            mesh.export(root / rel)
            hulls.append(rel)
        visual = load_mesh(root / part["visual"]["mesh"])
        visual.apply_transform(moved)
        visuals.append(visual)
        if part.get("splats"):
            splats.append(transform(read_ply(root / part["splats"]), moved[:3, :3], moved[:3, 3]))
    visual_rel = free_path(root, "meshes", name, ".obj")
    trimesh.util.concatenate(visuals).export(root / visual_rel)
    merged = {
        "name": name,
        "visual": {**parts[0]["visual"], "mesh": visual_rel},
        "collision_hulls": hulls,
        "mass": sum(object_mass(p, root) for p in parts),
        "friction": list(parts[0].get("friction", DEFAULT_FRICTION)),
    }
    if splats:
        merged["splats"] = free_path(root, "splats", name, ".ply")
        write_ply(root / merged["splats"], concat(splats))
    return merged
