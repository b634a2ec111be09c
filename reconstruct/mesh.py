"""Stage ``mesh``: a triangle mesh of the whole scene from the splats, in the world frame.

The splats are rendered at the training views (``sim_env.splats.rasterize``: expected depth,
alpha, colour); pixels the splats do not cover opaquely, and silhouette pixels whose expected
depth mixes a foreground and a background surface, are dropped; the rest is fused into a
TSDF volume (open3d's ``UniformTSDFVolume``; its scalable variant returns empty meshes in
open3d 0.20) over the region the splats occupy. The mesh is then cleaned: triangles below
the table are removed, then every connected piece much smaller than the largest (floaters),
then it is simplified. Writes ``MeshOutputs``: ``scene_mesh.ply`` (vertex colours).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import open3d as o3d

from reconstruct import align, frames, splats
from reconstruct.errors import ReconstructError
from reconstruct.stage import Stage, StageContext
from reconstruct.views import View, load_views
from sim_env.splats import GaussianSet, rasterize, read_ply


@dataclass(frozen=True)
class MeshOutputs:
    """What the mesh stage writes."""

    mesh: Path  # the scene's triangle mesh, world frame, vertex colours (PLY)

    @classmethod
    def at(cls, folder: Path) -> MeshOutputs:
        return cls(folder / "scene_mesh.ply")


@dataclass(frozen=True)
class MeshConfig:
    """TSDF fusion and cleaning settings (lengths in metres).

    Attributes:
        voxel: TSDF voxel size.
        trunc_voxels: truncation distance in voxels.
        image_width: depth maps are rendered this wide.
        max_views: at most this many views are fused (evenly spread).
        min_alpha: pixels less covered by splats are not fused.
        max_depth: pixels farther from the camera are not fused.
        edge_ratio: a pixel whose 3x3 depth range exceeds this fraction of its depth is a
            silhouette pixel (mixed depth) and is not fused.
        roi_percentile: the volume spans these percentiles of the opaque Gaussians' xy.
        roi_margin: added around that region.
        max_height: the volume reaches this high above the table.
        floor: triangles lower than this (world z) are removed.
        min_component: pieces with fewer triangles than this fraction of the largest piece's
            are removed.
        max_triangles: the mesh is simplified to at most this many triangles.
    """

    voxel: float = 0.004
    trunc_voxels: float = 4.0
    image_width: int = 240
    max_views: int = 60
    min_alpha: float = 0.95
    max_depth: float = 3.0
    edge_ratio: float = 0.03
    roi_percentile: float = 1.0
    roi_margin: float = 0.05
    max_height: float = 0.4
    floor: float = -0.01
    min_component: float = 0.01
    max_triangles: int = 300_000

    def __post_init__(self) -> None:
        if not 0.0005 <= self.voxel <= 0.05:
            raise ReconstructError("must be between 0.0005 and 0.05 m", field="mesh.voxel")


def fusion_region(gs: GaussianSet, config: MeshConfig) -> tuple[np.ndarray, float]:
    """Origin ``[3]`` and side (m) of the cubic TSDF volume covering the opaque splats."""
    opaque = gs.means[(gs.opacities > 0.3) & (gs.means[:, 2] > config.floor - 0.05)]
    if len(opaque) < 10:
        raise ReconstructError(
            "the splats hold almost nothing opaque; re-run the splats stage", field="mesh"
        )
    p = config.roi_percentile
    lo = np.percentile(opaque[:, :2], p, axis=0) - config.roi_margin
    hi = np.percentile(opaque[:, :2], 100 - p, axis=0) + config.roi_margin
    z0 = config.floor - 4 * config.voxel
    side = float(max(hi[0] - lo[0], hi[1] - lo[1], config.max_height - z0))
    return np.array([lo[0], lo[1], z0]), side


def fusable_depth(depth: np.ndarray, alpha: np.ndarray, config: MeshConfig) -> np.ndarray:
    """``[H, W]`` depth (m) with 0 where a pixel must not be fused."""
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)
    good = (alpha >= config.min_alpha) & (depth > 0) & (depth < config.max_depth)
    good &= spread <= config.edge_ratio * depth
    return np.where(good, depth, 0.0).astype(np.float32)


def fuse(
    gs: GaussianSet, views: list[View], config: MeshConfig, report
) -> o3d.geometry.TriangleMesh:
    """TSDF-fuse the splats' depth and colour at ``views`` into a raw mesh (world frame)."""
    origin, side = fusion_region(gs, config)
    resolution = int(np.ceil(side / config.voxel))
    volume = o3d.pipelines.integration.UniformTSDFVolume(
        length=resolution * config.voxel,
        resolution=resolution,
        sdf_trunc=config.trunc_voxels * config.voxel,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
        origin=origin,
    )
    for i, view in enumerate(views):
        w, h = view.size
        rgb, depth, alpha = rasterize(
            gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, view.K, w, h
        )
        colour = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(colour)),
            o3d.geometry.Image(fusable_depth(depth, alpha, config)),
            depth_scale=1.0,
            depth_trunc=config.max_depth,
            convert_rgb_to_intensity=False,
        )
        k = view.K  # open3d's pixel centres are at integers, gsplat's at integer + 0.5
        intrinsic = o3d.camera.PinholeCameraIntrinsic(
            w, h, k[0, 0], k[1, 1], k[0, 2] - 0.5, k[1, 2] - 0.5
        )
        volume.integrate(rgbd, intrinsic, view.viewmat)
        report((i + 1) / len(views), f"fused {i + 1}/{len(views)} depth maps")
    return volume.extract_triangle_mesh()


def clean(
    mesh: o3d.geometry.TriangleMesh, config: MeshConfig
) -> tuple[o3d.geometry.TriangleMesh, dict[str, int]]:
    """Remove what lies below the table and small floating pieces; simplify."""
    counts = {"raw_triangles": len(mesh.triangles)}
    vertices = np.asarray(mesh.vertices)
    triangles = np.asarray(mesh.triangles)
    below = (vertices[triangles][:, :, 2] < config.floor).any(axis=1)
    mesh.remove_triangles_by_mask(below)
    counts["below_table"] = int(below.sum())
    labels, sizes, _ = mesh.cluster_connected_triangles()
    labels, sizes = np.asarray(labels), np.asarray(sizes)
    if len(sizes):
        small = sizes[labels] < config.min_component * sizes.max()
        mesh.remove_triangles_by_mask(small)
        counts["floaters"] = int(small.sum())
        counts["pieces_kept"] = int((sizes >= config.min_component * sizes.max()).sum())
    mesh.remove_unreferenced_vertices()
    mesh.remove_degenerate_triangles()
    if len(mesh.triangles) > config.max_triangles:
        mesh = mesh.simplify_quadric_decimation(config.max_triangles)
        mesh.remove_unreferenced_vertices()
    mesh.compute_vertex_normals()
    counts["triangles"] = len(mesh.triangles)
    return mesh, counts


def even_subset(views: list[View], count: int) -> list[View]:
    if len(views) <= count:
        return views
    return [views[i] for i in np.linspace(0, len(views) - 1, count).round().astype(int)]


def run_mesh(ctx: StageContext, config: MeshConfig) -> dict[str, Any]:
    """Fuse the splats' depth into ``MeshOutputs.mesh``."""
    gs = read_ply(ctx.input(splats.STAGE).splats)
    views = load_views(
        ctx.input(align.STAGE).model, ctx.input(frames.STAGE).images, config.image_width
    )
    views = even_subset(views, config.max_views)
    raw = fuse(gs, views, config, lambda f, note: ctx.report(0.05 + 0.8 * f, note))
    if len(raw.triangles) == 0:
        raise ReconstructError(
            "TSDF fusion produced no surface: the splats' depth is empty or inconsistent; check "
            "the splats stage's held-out PSNR and renders",
            field="mesh",
        )
    ctx.report(0.9, "cleaning")
    mesh, counts = clean(raw, config)
    outputs = MeshOutputs.at(ctx.out_dir)
    o3d.io.write_triangle_mesh(str(outputs.mesh), mesh, write_ascii=False)
    vertices = np.asarray(mesh.vertices)
    return {
        **counts,
        "vertices": len(vertices),
        "views_fused": len(views),
        "bounds_m": [vertices.min(0).tolist(), vertices.max(0).tolist()],
        "file": outputs.mesh.name,
    }


STAGE = Stage(
    name="mesh",
    config_type=MeshConfig,
    run=run_mesh,
    inputs=(frames.STAGE.name, align.STAGE.name, splats.STAGE.name),
    description="scene mesh from splat depth (TSDF)",
    outputs_at=MeshOutputs.at,
)
