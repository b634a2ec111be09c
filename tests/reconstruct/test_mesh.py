"""The mesh stage: TSDF fusion of the splats' depth gives the scene's surfaces, cleaning
removes what is below the table and floating pieces; the volume is sized from the scene (the
same mesh at any scale, never more memory than the cap)."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest
import trimesh
from scipy.spatial import cKDTree

import reconstruct.mesh as mesh_module
from reconstruct.errors import ReconstructError
from reconstruct.mesh import MeshConfig, TableRegion, clean, fusable_depth, plan_volume, scene_mesh
from reconstruct.units import Units
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat
from sim_env.splats import GaussianSet, MeshSampling, concat, gaussians_from_mesh, rasterize

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


def scaled(gs: GaussianSet, s: float) -> GaussianSet:
    return GaussianSet(gs.means * s, gs.quats, gs.scales * s, gs.opacities, gs.sh)


def views(count: int = 16, s: float = 1.0) -> list[View]:
    """``count`` cameras circling the origin 0.45 m out and 0.35 m up (all lengths times ``s``)."""
    out = []
    for i, angle in enumerate(np.linspace(0, 2 * np.pi, count, endpoint=False)):
        eye = np.array([0.45 * np.cos(angle), 0.45 * np.sin(angle), 0.35])
        rot = quat_to_mat(look_at(eye, np.zeros(3))).T
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot, -rot @ eye * s
        out.append(View(f"{i}", np.zeros((120, 160, 3), np.float32), K, view))
    return out


def test_fused_surfaces_are_where_the_splats_are() -> None:
    # The depth of overlapping discs, median or expected, leans toward the camera by about a
    # disc radius (the nearer centres come first): 4 mm for these 3.7 mm discs. Trained splats
    # are held on the SfM points by the trainer's depth loss instead.
    config = MeshConfig(voxel=0.004, roi_percentile=0.0, roi_margin=0.02)
    mesh, counts = scene_mesh(scene(), views(), config, metric=True)
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
    assert counts["units"] == {"per_metre": 1.0, "metric": True}
    assert np.allclose(counts["table_region"]["lo"], -0.25, atol=0.01)  # the table's own edge
    assert counts["volume"]["voxel"] == 0.004


def test_the_mesh_is_the_same_at_any_scale() -> None:
    # Without metric scale (--scale 1) the table region sets the units: SfM worlds 1000 times
    # larger or smaller give the same mesh, scaled.
    config = MeshConfig(roi_margin=0.02)
    reference, summary = scene_mesh(scene(), views(), config, metric=False)
    points = np.asarray(reference.vertices)
    tree = cKDTree(points)
    voxel = summary["volume"]["voxel"]
    for s in (1000.0, 0.001):
        mesh, other = scene_mesh(scaled(scene(), s), views(s=s), config, metric=False)
        assert other["units"]["per_metre"] == pytest.approx(summary["units"]["per_metre"] * s)
        assert other["volume"]["resolution"] == summary["volume"]["resolution"]
        assert other["volume"]["voxel"] == pytest.approx(voxel * s)
        assert len(mesh.triangles) == pytest.approx(len(reference.triangles), rel=0.01)
        distance, _ = tree.query(np.asarray(mesh.vertices) / s)
        assert np.percentile(distance, 99) < 0.05 * voxel


def test_the_volume_never_takes_more_memory_than_the_cap() -> None:
    region = TableRegion(np.array([-0.3, -0.3]), np.array([0.3, 0.3]), camera_height=0.4)
    assert plan_volume(region, MeshConfig()).voxel == 0.004  # 175^3 voxels: 0.7 m at 4 mm
    capped = MeshConfig(max_memory_mb=64)
    assert capped.max_resolution == 111  # 111^3 voxels of 48 bytes: 63.3 MiB
    assert plan_volume(region, capped).voxel == pytest.approx(0.7 / 111)
    for s in (1.0, 8.0, 1000.0):  # a metric world 8 m or 1 km wide: coarser, never larger
        huge = TableRegion(region.lo * s, region.hi * s, 0.4 * s)
        volume = plan_volume(huge, capped)
        assert volume.resolution <= capped.max_resolution and volume.megabytes <= 64
        assert volume.length >= 0.6 * s
    tiny = MeshConfig(max_memory_mb=2, roi_margin=0.02)
    mesh, summary = scene_mesh(scene(), views(), tiny, metric=True)
    assert summary["volume"]["megabytes"] <= 2 and len(mesh.triangles) > 100
    assert Units.from_table(0.6 * 1000).per_metre == pytest.approx(600.0)


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


def test_the_depth_setting_is_checked() -> None:
    with pytest.raises(ReconstructError, match="'mean'; expected one of expected, median") as err:
        MeshConfig(depth="mean")
    assert err.value.field == "mesh.depth"


@pytest.mark.parametrize(
    ("settings", "depth"), [({}, "median"), ({"depth": "expected"}, "expected")]
)
def test_fusion_renders_the_configured_depth(
    settings: dict, depth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # median by default: the expected depth puts thin walls' edges between the wall and the
    # table behind it (issue #21)
    drawn = []

    def recording(*args, **kwargs):
        drawn.append(kwargs["depth"])
        return rasterize(*args, **kwargs)

    monkeypatch.setattr(mesh_module, "rasterize", recording)
    config = MeshConfig(roi_margin=0.02, **settings)
    mesh, _ = scene_mesh(scene(), views(count=4), config, metric=True)
    assert drawn == [depth] * 4 and len(mesh.triangles) > 1000
