"""Mesh -> Gaussians without training: flat discs on area-weighted surface samples.

Used to build test and demo scenes. Each sample gets the colour of the surface under it
(texture image at the interpolated UV, interpolated vertex colour, face colour, or the
material's main colour), a disc aligned with its face (two in-plane scales of ``spacing_factor``
times the mean sample spacing sqrt(area / count), a third of ``thickness_factor`` times the
mesh's bounding-box diagonal) and a fixed opacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from sim_env.splats.gaussians import GaussianSet
from sim_env.splats.rotations import matrix_to_quat

__all__ = ["MeshSampling", "gaussians_from_mesh"]

_DEFAULT_RGB = np.array([0.5, 0.5, 0.5])


@dataclass(frozen=True)
class MeshSampling:
    """How a mesh becomes Gaussians."""

    count: int  # number of Gaussians
    seed: int = 0
    opacity: float = 0.95
    spacing_factor: float = 1.0  # in-plane standard deviation / mean sample spacing
    thickness_factor: float = 1e-4  # normal standard deviation / bounding-box diagonal


def _face_frames(mesh: trimesh.Trimesh) -> np.ndarray:
    """[F, 3, 3] rotations whose columns are an in-plane tangent, bitangent and the normal."""
    tri = mesh.triangles
    normal = np.asarray(mesh.face_normals, np.float64)
    tangent = tri[:, 1] - tri[:, 0]
    tangent -= normal * np.sum(tangent * normal, axis=1, keepdims=True)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-30)
    return np.stack([tangent, np.cross(normal, tangent), normal], axis=-1)


def _sample_colors(mesh: trimesh.Trimesh, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """[S] face ids and [S, 3] barycentric coordinates -> [S, 3] RGB in [0, 1]."""
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        image = getattr(material, "image", None)
        if image is None:
            image = getattr(material, "baseColorTexture", None)
        if image is not None and visual.uv is not None:
            uv = np.einsum("sk,skj->sj", bary, np.asarray(visual.uv)[mesh.faces[faces]])
            texels = np.asarray(image.convert("RGB"), np.float64) / 255.0
            h, w = texels.shape[:2]
            col = np.clip(np.floor((uv[:, 0] % 1.0) * w), 0, w - 1).astype(np.int64)
            row = np.clip(np.floor((1.0 - uv[:, 1] % 1.0) * h), 0, h - 1).astype(np.int64)
            return texels[row, col]
        main = getattr(material, "main_color", None)
        rgb = _DEFAULT_RGB if main is None else np.asarray(main[:3], np.float64) / 255.0
        return np.broadcast_to(rgb, (len(faces), 3)).copy()
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.defined:
        if visual.kind == "vertex":
            vcol = np.asarray(visual.vertex_colors[:, :3], np.float64) / 255.0
            return np.einsum("sk,skj->sj", bary, vcol[mesh.faces[faces]])
        return np.asarray(visual.face_colors[faces, :3], np.float64) / 255.0
    return np.broadcast_to(_DEFAULT_RGB, (len(faces), 3)).copy()


def gaussians_from_mesh(mesh: trimesh.Trimesh, sampling: MeshSampling) -> GaussianSet:
    """Gaussians covering ``mesh``'s surface, deterministic for ``sampling.seed``."""
    if sampling.count <= 0:
        raise ValueError(f"sampling.count is {sampling.count}; expected > 0")
    areas = np.asarray(mesh.area_faces, np.float64)
    total = float(areas.sum())
    if not total > 0:
        raise ValueError("mesh has no surface area")
    rng = np.random.default_rng(sampling.seed)
    cdf = np.cumsum(areas) / total
    faces = np.minimum(
        np.searchsorted(cdf, rng.random(sampling.count), side="right"), len(areas) - 1
    )
    r1, r2 = np.sqrt(rng.random(sampling.count)), rng.random(sampling.count)
    bary = np.stack([1 - r1, r1 * (1 - r2), r1 * r2], axis=1)
    points = np.einsum("sk,skj->sj", bary, mesh.triangles[faces])
    spacing = np.sqrt(total / sampling.count)
    thickness = sampling.thickness_factor * float(np.linalg.norm(mesh.extents))
    scales = np.empty((sampling.count, 3))
    scales[:, :2] = sampling.spacing_factor * spacing
    scales[:, 2] = max(thickness, 1e-9)
    quats = matrix_to_quat(_face_frames(mesh))[faces]
    colors = np.clip(_sample_colors(mesh, faces, bary), 0.0, 1.0)
    return GaussianSet.from_colors(
        points, quats, scales, np.full(sampling.count, sampling.opacity), colors
    )
