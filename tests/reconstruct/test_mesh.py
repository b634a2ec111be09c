"""The mesh stage: TSDF fusion of the splats' depth gives the scene's surfaces, cleaning
removes what is below the table and floating pieces."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import trimesh

from reconstruct.mesh import MeshConfig, clean, fusable_depth, fuse
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat
from sim_env.splats import MeshSampling, concat, gaussians_from_mesh

K = np.array([[110.0, 0.0, 80.0], [0.0, 110.0, 60.0], [0.0, 0.0, 1.0]])
BOX = (0.08, 0.06, 0.07)  # extents, m; standing at the origin


def scene():
    table = trimesh.creation.box((0.5, 0.5, 0.02))
    table.apply_translation((0, 0, -0.01))
    box = trimesh.creation.box(BOX)
    box.apply_translation((0, 0, BOX[2] / 2))
    return concat(
        [
            gaussians_from_mesh(table, MeshSampling(count=40000, seed=0, opacity=0.8)),
            gaussians_from_mesh(box, MeshSampling(count=8000, seed=1, opacity=0.8)),
        ]
    )


def views(count: int = 16) -> list[View]:
    out = []
    for i, angle in enumerate(np.linspace(0, 2 * np.pi, count, endpoint=False)):
        eye = np.array([0.45 * np.cos(angle), 0.45 * np.sin(angle), 0.35])
        rot = quat_to_mat(look_at(eye, np.zeros(3))).T
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot, -rot @ eye
        out.append(View(f"{i}", np.zeros((120, 160, 3), np.float32), K, view))
    return out


def test_fused_surfaces_are_where_the_splats_are() -> None:
    # The expected depth of overlapping discs leans toward the camera by about a disc radius
    # (blending favours the nearer centres): 4 mm for these 3.7 mm discs. Trained splats are
    # held on the SfM points by the trainer's depth loss instead.
    config = MeshConfig(voxel=0.004, roi_percentile=0.0, roi_margin=0.02)
    mesh, counts = clean(fuse(scene(), views(), config, lambda f, note: None), config)
    vertices = np.asarray(mesh.vertices)
    away = np.linalg.norm(vertices[:, :2], axis=1) > 0.1
    table = vertices[away & (np.abs(vertices[:, :2]) < 0.2).all(1)]
    assert np.percentile(np.abs(table[:, 2]), 95) < 0.007  # measured 5 mm
    on_box = (np.abs(vertices[:, 0]) < BOX[0] / 2 - 0.01) & (
        np.abs(vertices[:, 1]) < BOX[1] / 2 - 0.01
    )
    assert abs(np.median(vertices[on_box, 2]) - BOX[2]) < 0.007  # measured 4.2 mm
    assert vertices[:, 2].min() >= config.floor - 1e-9
    assert counts["triangles"] > 1000


def test_cleaning_drops_floaters_and_what_is_below_the_table() -> None:
    plane = trimesh.creation.box((0.4, 0.4, 0.002)).subdivide().subdivide().subdivide()
    floater = trimesh.creation.icosphere(subdivisions=1, radius=0.005)
    floater.apply_translation((0.1, 0.1, 0.2))
    below = trimesh.creation.box((0.05, 0.05, 0.01))
    below.apply_translation((0.0, 0.0, -0.1))
    joined = trimesh.util.concatenate([plane, floater, below])
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(joined.vertices), o3d.utility.Vector3iVector(joined.faces)
    )
    cleaned, counts = clean(mesh, MeshConfig(min_component=0.5))
    vertices = np.asarray(cleaned.vertices)
    assert counts["below_table"] == len(below.faces)
    assert counts["floaters"] == len(floater.faces)
    assert vertices[:, 2].max() < 0.01 and vertices[:, 2].min() > -0.01


def test_silhouette_pixels_with_mixed_depth_are_not_fused() -> None:
    depth = np.full((20, 20), 1.0, np.float32)
    depth[:, 10:] = 0.5  # a foreground edge: blended depths there are no surface
    alpha = np.ones((20, 20), np.float32)
    alpha[0, 0] = 0.5
    kept = fusable_depth(depth, alpha, MeshConfig())
    assert (kept[:, 9:11] == 0).all() and (kept[1:, :8] == 1.0).all() and kept[0, 0] == 0
