"""The objects stage: candidates above the table, the user's edits, solids, hulls, the hole
fill under the objects, and the stage end to end on a small synthetic scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import trimesh
from scipy.spatial import Delaunay

from reconstruct.errors import ReconstructError
from reconstruct.holefill import fill_table
from reconstruct.hulls import HullConfig, collision_hulls
from reconstruct.mesh import MeshOutputs
from reconstruct.object_edits import ObjectEdit, ObjectEdits, load_objects_yaml
from reconstruct.objects import ObjectsConfig, ObjectsOutputs, run_objects
from reconstruct.segment import SegmentConfig, apply_edits, find_candidates, surface_samples
from reconstruct.solid import build_solid
from reconstruct.splats import SplatsOutputs
from reconstruct.stage import StageContext, missing_outputs
from sim_env.package.geometry import convexity_violation
from sim_env.splats import (
    GaussianSet,
    MeshSampling,
    gaussians_from_mesh,
    rasterize,
    read_ply,
    write_ply,
)

BOXES = {  # name: (centre x, y, yaw degrees, extents)
    "left": (0.3, -0.15, 20.0, (0.06, 0.04, 0.05)),
    "right": (0.55, 0.12, -10.0, (0.05, 0.05, 0.08)),
}


def box_mesh(x: float, y: float, yaw: float, extents) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents).subdivide().subdivide()
    box.apply_translation((0, 0, extents[2] / 2))
    box.apply_transform(trimesh.transformations.rotation_matrix(np.radians(yaw), (0, 0, 1)))
    box.apply_translation((x, y, 0))
    return box


def tray_mesh() -> trimesh.Trimesh:
    """A 16 x 12 x 4 cm tray (floor 8 mm, walls 1 cm), axis-aligned at the origin."""
    lx, ly, h, wall, floor = 0.16, 0.12, 0.04, 0.01, 0.008
    parts = [((lx, ly, floor), (0, 0, floor / 2))]
    parts += [((wall, ly, h), (sx * (lx - wall) / 2, 0, h / 2)) for sx in (-1, 1)]
    parts += [((lx, wall, h), (0, sy * (ly - wall) / 2, h / 2)) for sy in (-1, 1)]
    meshes = []
    for extents, centre in parts:
        part = trimesh.creation.box(extents).subdivide().subdivide()
        part.apply_translation(centre)
        meshes.append(part)
    return trimesh.util.concatenate(meshes)


def table_mesh(size: float = 1.0) -> trimesh.Trimesh:
    plane = (
        trimesh.creation.box((size, size, 0.002)).subdivide().subdivide().subdivide().subdivide()
    )
    plane.apply_translation((0.4, 0.0, -0.001))
    return plane


def scene_mesh() -> trimesh.Trimesh:
    return trimesh.util.concatenate(
        [table_mesh()] + [box_mesh(*v[:3], v[3]) for v in BOXES.values()]
    )


def to_open3d(mesh: trimesh.Trimesh) -> o3d.geometry.TriangleMesh:
    out = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces)
    )
    out.vertex_colors = o3d.utility.Vector3dVector(np.full((len(mesh.vertices), 3), 0.6))
    return out


def samples_of(mesh: trimesh.Trimesh) -> np.ndarray:
    points, _ = surface_samples(to_open3d(mesh), 0.002)
    return points[points[:, 2] > 0.005]


def test_two_boxes_on_a_plane_are_two_candidates_at_their_centroids() -> None:
    points, colors = surface_samples(to_open3d(scene_mesh()), 0.0015)
    candidates = find_candidates(points, colors, SegmentConfig())
    assert len(candidates) == 2
    for candidate, (x, y, _, extents) in zip(candidates, BOXES.values(), strict=True):
        assert np.linalg.norm(candidate.centroid[:2] - (x, y)) < 0.004
        solid = build_solid(candidate.points)
        centroid = solid.to_world(solid.mesh.center_mass[None])[0]
        assert np.linalg.norm(centroid - (x, y, extents[2] / 2)) < 0.006


def test_a_box_solid_is_watertight_convex_and_framed_by_its_long_side() -> None:
    x, y, yaw, extents = BOXES["left"]
    solid = build_solid(samples_of(box_mesh(x, y, yaw, extents)))
    assert solid.mesh.is_watertight and solid.floor is None
    assert np.degrees(solid.yaw) == pytest.approx(yaw, abs=2.0)
    assert solid.mesh.volume == pytest.approx(np.prod(extents), rel=0.1)
    assert np.allclose(solid.mesh.extents, extents, atol=0.004)
    hulls = collision_hulls(solid)
    assert len(hulls) == 1
    assert convexity_violation(hulls[0].vertices, hulls[0].faces) < 1e-3


def test_a_tray_stays_open_and_splits_into_convex_parts() -> None:
    solid = build_solid(samples_of(tray_mesh()))
    assert solid.floor is not None and solid.mesh.is_watertight
    hulls = collision_hulls(solid)
    assert 5 <= len(hulls) <= HullConfig().max_hulls
    for hull in hulls:
        assert convexity_violation(hull.vertices, hull.faces) < 1e-3

    def covered(point) -> bool:
        return any(Delaunay(h.vertices).find_simplex(np.asarray([point])) >= 0 for h in hulls)

    assert not covered([0.0, 0.0, 0.02]) and not covered([0.03, -0.02, 0.025])  # the inside
    assert covered([0.075, 0.0, 0.03]) and covered([0.0, -0.055, 0.03])  # the walls
    assert covered([0.0, 0.0, 0.004])  # the floor


def test_edits_rename_merge_and_drop(tmp_path: Path) -> None:
    points, colors = surface_samples(to_open3d(scene_mesh()), 0.002)
    candidates = find_candidates(points, colors, SegmentConfig())
    renamed = apply_edits(candidates, ObjectEdits((ObjectEdit("cup", candidates=(1,)),)))
    assert [(name, [c.id for c in parts]) for name, parts, _ in renamed] == [
        ("cup", [1]),
        ("object_0", [0]),
    ]
    merged = apply_edits(
        candidates,
        ObjectEdits((ObjectEdit("pair", at=((0.3, -0.15), (0.55, 0.12)), density=900.0),)),
    )
    assert [(name, [c.id for c in parts], density) for name, parts, density in merged] == [
        ("pair", [0, 1], 900.0)
    ]
    dropped = apply_edits(candidates, ObjectEdits(drop=(0,)))
    assert [name for name, _, _ in dropped] == ["object_1"]
    with pytest.raises(ReconstructError, match="no candidate 7"):
        apply_edits(candidates, ObjectEdits((ObjectEdit("x", candidates=(7,)),)))
    file = tmp_path / "objects.yaml"
    file.write_text(
        "objects:\n  - {name: cup, candidate: 1, density: 300}\n  - {name: pair, at: [[0.3, -0.15]]}\n"
        "drop: [0]\nkeep_unlisted: false\ntask: {object: cup, container: pair}\n"
    )
    edits, task, conditions = load_objects_yaml(file)
    assert edits.objects[0] == ObjectEdit("cup", (1,), (), 300.0) and edits.drop == (0,)
    assert task.object == "cup" and not conditions and not edits.keep_unlisted
    file.write_text("objects:\n  - {name: cup, candidat: 1}\n")
    with pytest.raises(ReconstructError, match=r"objects\[0\].*unknown keys \['candidat'\]"):
        load_objects_yaml(file)


def test_the_fill_covers_each_footprint_in_the_table_colour() -> None:
    rng = np.random.default_rng(0)
    n = 30000
    xy = rng.uniform(-0.2, 0.2, (n, 2))
    x, y, yaw, extents = 0.0, 0.0, 30.0, (0.08, 0.05, 0.06)
    solid = build_solid(samples_of(box_mesh(x, y, yaw, extents)))
    hidden = solid.inside_footprint(solid.to_body(np.c_[xy, np.zeros(n)]), 0.0)
    colours = np.clip(np.array([0.6, 0.45, 0.3]) + rng.normal(0, 0.03, (n, 3)), 0, 1)
    table = GaussianSet.from_colors(
        np.c_[xy, np.zeros(n)][~hidden], np.tile([1.0, 0, 0, 0], (n, 1))[~hidden],
        np.tile([0.002, 0.002, 0.0001], (n, 1))[~hidden], np.full(n, 0.95)[~hidden], colours[~hidden],
    )  # fmt: skip
    fill, replaced = fill_table(table, [solid])
    assert len(fill) > 0 and not replaced.any()
    view = np.eye(4)
    view[:3, :3] = np.diag([1.0, -1.0, -1.0])  # looking straight down from 0.5 m
    view[:3, 3] = [0.0, 0.0, 0.5]
    k = np.array([[400.0, 0, 100], [0, 400.0, 100], [0, 0, 1]])
    both = GaussianSet(
        *(
            np.concatenate([getattr(table, f), getattr(fill, f)])
            for f in ("means", "quats", "scales", "opacities", "sh")
        )
    )
    rgb, _, alpha = rasterize(
        both.means, both.quats, both.scales, both.opacities, both.sh, view, k, 200, 200
    )
    u, v = np.meshgrid(np.arange(200) + 0.5, np.arange(200) + 0.5)
    ground = np.c_[(u.ravel() - 100) / 400 * 0.5, -(v.ravel() - 100) / 400 * 0.5, np.zeros(u.size)]
    inside = solid.inside_footprint(solid.to_body(ground), 0.0).reshape(200, 200)
    assert (
        inside.sum() > 500 and np.percentile(alpha[inside], 1) > 0.9 and alpha[inside].mean() > 0.98
    )
    assert np.abs(rgb[inside].mean(0) - [0.6, 0.45, 0.3]).max() < 0.05


def test_the_stage_splits_a_scene_into_objects_and_a_filled_table(tmp_path: Path) -> None:
    mesh = scene_mesh()
    splats_dir, mesh_dir, out = tmp_path / "splats", tmp_path / "mesh", tmp_path / "out"
    for folder in (splats_dir, mesh_dir, out):
        folder.mkdir()
    splats = SplatsOutputs.at(splats_dir)
    splats.holdout.mkdir()
    write_ply(splats.splats, gaussians_from_mesh(mesh, MeshSampling(count=60000, seed=0)))
    o3d.io.write_triangle_mesh(str(MeshOutputs.at(mesh_dir).mesh), to_open3d(mesh))
    ctx = StageContext(
        scan=tmp_path,
        out_dir=out,
        scratch_dir=tmp_path,
        inputs={"splats": splats_dir, "mesh": mesh_dir},
    )
    edits = ObjectEdits((ObjectEdit("tall", at=((0.55, 0.12),)),))
    summary = run_objects(ctx, ObjectsConfig(edits=edits))
    assert [o["name"] for o in summary["objects"]] == ["tall", "object_0"]
    tall = summary["objects"][0]
    assert np.allclose(tall["centroid_m"], (0.55, 0.12, 0.04), atol=0.006)
    assert tall["mass_kg"] == pytest.approx(400 * 0.05 * 0.05 * 0.08, rel=0.15)
    assert all(o["watertight"] for o in summary["objects"])
    outputs = ObjectsOutputs.at(out)
    assert not missing_outputs(outputs) and not missing_outputs(outputs.body("tall"))
    body = read_ply(outputs.body("tall").splats)
    assert len(body) == tall["gaussians"] > 100
    assert np.abs(body.means[:, :2]).max() < 0.045 and body.means[:, 2].min() > 0.0  # body frame
    static = read_ply(outputs.static_splats)
    assert summary["static"]["fill_gaussians"] > 0 and len(static) == summary["static"]["gaussians"]
    assert trimesh.load(outputs.table).bounds[1][2] == pytest.approx(0.0)
    for name in ("tall", "object_0"):
        assert trimesh.load(outputs.body(name).visual).is_watertight
