"""Geometry checks for environment packages: meshes load and collision hulls are convex.

MuJoCo silently replaces every collision mesh by its convex hull, so a non-convex "hull"
would collide as a different shape than the one the package describes: reject it instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from sim_env.errors import EnvPackageError
from sim_env.package.schema import EnvPackageSpec

MESH_SUFFIXES = (".obj", ".stl")
TEXTURE_SUFFIXES = (".png",)
CONVEXITY_TOLERANCE = 1e-3  # of the hull's bounding-box diagonal


def load_mesh(path: Path) -> trimesh.Trimesh:
    """Load one triangle mesh, or raise an error naming the file."""
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise EnvPackageError(
            f"mesh must be one of {MESH_SUFFIXES} (MuJoCo loads these)", file=path
        )
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for corrupt files
        raise EnvPackageError(f"mesh does not load: {exc}", file=path) from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise EnvPackageError("mesh has no triangles", file=path)
    if not np.isfinite(mesh.vertices).all():
        raise EnvPackageError("mesh has non-finite vertex coordinates", file=path)
    return mesh


def convexity_violation(vertices: np.ndarray, faces: np.ndarray) -> float:
    """How far the deepest vertex or triangle centroid lies inside the mesh's convex hull.

    Args:
        vertices: [N, 3] points, metres; faces: [F, 3] vertex indices.
    Returns:
        The depth in metres divided by the hull's bounding-box diagonal (0 for a convex mesh,
        whose vertices and faces all lie on its hull's surface).
    """
    hull = ConvexHull(vertices)
    points = np.concatenate([vertices, vertices[faces].mean(axis=1)])
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    signed = points @ normals.T + offsets  # [P, H], <= 0 inside
    depth = -signed.max(axis=1)  # distance inside, per vertex
    diagonal = float(np.linalg.norm(vertices.max(0) - vertices.min(0)))
    return float(depth.max() / max(diagonal, 1e-12))


def check_hull(path: Path) -> trimesh.Trimesh:
    mesh = load_mesh(path)
    try:
        violation = convexity_violation(
            np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces)
        )
    except QhullError:
        raise EnvPackageError(
            "collision hull is degenerate (flat or fewer than 4 points)", file=path
        ) from None
    if violation > CONVEXITY_TOLERANCE:
        raise EnvPackageError(
            f"collision hull is not convex (a vertex lies {violation:.1%} of its size inside the hull); "
            "split it into convex parts, e.g. with coacd",
            file=path,
        )
    return mesh


def check_texture(path: Path) -> None:
    from PIL import Image

    if path.suffix.lower() not in TEXTURE_SUFFIXES:
        raise EnvPackageError(f"texture must be one of {TEXTURE_SUFFIXES}", file=path)
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as exc:
        raise EnvPackageError(f"texture does not load: {exc}", file=path) from None


def check_geometry(spec: EnvPackageSpec, root: Path) -> None:
    """Every visual mesh, texture and splat file under ``root`` loads; every collision hull is
    a convex mesh."""
    from sim_env.splats.ply import read_ply

    for rel in [spec.scene.splats] + [o.splats for o in spec.objects]:
        if rel:
            read_ply(root / rel)
    visuals = [spec.scene.visual] + [o.visual for o in spec.objects]
    for visual in visuals:
        if visual is None:
            continue
        load_mesh(root / visual.mesh)
        if visual.texture:
            check_texture(root / visual.texture)
    for rel in spec.scene.collision_hulls + [h for o in spec.objects for h in o.collision_hulls]:
        check_hull(root / rel)
