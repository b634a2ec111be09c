"""Stage ``mesh``: a triangle mesh of the whole scene from the splats, in the world frame.

The splats are rendered at the training views (``sim_env.splats.rasterize``: median depth,
alpha, colour; the median depth, as 2DGS and Gaussian surfels mesh, because the expected
depth averages a thin wall's edge or an object's silhouette with the table behind it, fusing
walls too low and outside where they stand); pixels the splats do not cover opaquely, and
silhouette pixels whose depth jumps between a foreground and a background surface, are
dropped; the rest is fused into a TSDF volume (open3d's ``UniformTSDFVolume``; its scalable
variant returns empty meshes in open3d 0.20). The mesh is then cleaned: triangles below the
table are removed, then every connected piece much smaller than the largest (floaters), then
it is simplified. Writes ``MeshOutputs``: ``scene_mesh.ply`` (vertex colours).

The volume covers the table region, found without knowing the scale: the opaque Gaussians
lying on the table plane (within a few percent of the cameras' height of z = 0) near where the
cameras look; background beyond it (walls, floor, other furniture) is left out. Lengths in
``MeshConfig`` are metres; in a world without metric scale (``--scale 1``) they apply in the
units the align stage chose (``Units.from_align``), else to a table region taken to span a
metre (``reconstruct.units``); the summary's ``units`` record is what the objects stage uses.
The voxel is the configured one unless the volume would take more than ``max_memory_mb`` (48
bytes a voxel): then the volume's side divided by the largest resolution that fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import open3d as o3d

from reconstruct import align, frames, splats
from reconstruct.errors import ReconstructError
from reconstruct.stage import Stage, StageContext, read_summary
from reconstruct.units import Units, in_units, metric_world
from reconstruct.views import View, load_views
from sim_env.splats import DepthMode, GaussianSet, rasterize, read_ply
from sim_env.splats.blend import DEPTH_MODES
from sim_env.splats.constants import NEAR_PLANE

VOXEL_BYTES = 48  # open3d's UniformTSDFVolume: one TSDFVoxel (index, tsdf, weight, colour)


@dataclass(frozen=True)
class MeshOutputs:
    """What the mesh stage writes."""

    mesh: Path  # the scene's triangle mesh, world frame, vertex colours (PLY)

    @classmethod
    def at(cls, folder: Path) -> MeshOutputs:
        return cls(folder / "scene_mesh.ply")


@dataclass(frozen=True)
class MeshConfig:
    """TSDF fusion and cleaning settings (lengths in metres, see ``reconstruct.units``).

    Attributes:
        voxel: TSDF voxel size (coarser when the volume would exceed ``max_memory_mb``).
        trunc_voxels: truncation distance in voxels.
        image_width: depth maps are rendered this wide.
        depth: which depth is fused: "median" (where a pixel's accumulated alpha reaches 0.5)
            or "expected" (the alpha-weighted mean), see ``sim_env.splats.rasterize``.
        max_views: at most this many views are fused (evenly spread).
        min_alpha: pixels less covered by splats are not fused.
        near: Gaussians nearer the camera than this are not rendered.
        max_depth: pixels farther from the camera are not fused.
        edge_ratio: a pixel whose 3x3 depth range exceeds this fraction of its depth is a
            silhouette pixel (mixed depth) and is not fused.
        table_band: Gaussians within this fraction of the cameras' median height of z = 0
            lie on the table plane.
        view_reach: ... and belong to the table region within this many viewing distances
            (camera to where its optical axis meets the table) of where the cameras look.
        roi_percentile: the volume spans these percentiles of those Gaussians' xy.
        roi_margin: added around that region.
        max_height: the volume reaches this high above the table.
        floor: triangles lower than this (world z) are removed.
        min_component: pieces with fewer triangles than this fraction of the largest piece's
            are removed.
        max_triangles: the mesh is simplified to at most this many triangles.
        max_memory_mb: the TSDF volume's memory cap.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "voxel",
        "near",
        "max_depth",
        "roi_margin",
        "max_height",
        "floor",
    )

    voxel: float = 0.004
    trunc_voxels: float = 4.0
    image_width: int = 240
    depth: DepthMode = "median"
    max_views: int = 60
    min_alpha: float = 0.95
    near: float = NEAR_PLANE
    max_depth: float = 3.0
    edge_ratio: float = 0.03
    table_band: float = 0.03
    view_reach: float = 1.5
    roi_percentile: float = 1.0
    roi_margin: float = 0.05
    max_height: float = 0.4
    floor: float = -0.01
    min_component: float = 0.01
    max_triangles: int = 300_000
    max_memory_mb: float = 2048.0

    def __post_init__(self) -> None:
        if not self.voxel > 0:
            raise ReconstructError("must be positive", field="mesh.voxel")
        if not self.max_memory_mb >= 1:
            raise ReconstructError("must be at least 1 MB", field="mesh.max_memory_mb")
        if self.depth not in DEPTH_MODES:
            raise ReconstructError(
                f"is {self.depth!r}; expected one of {', '.join(DEPTH_MODES)}", field="mesh.depth"
            )

    def in_units(self, units: Units) -> MeshConfig:
        """These settings with their lengths in the world's units."""
        return in_units(self, self.LENGTHS, units.per_metre)

    @property
    def max_resolution(self) -> int:
        """The most voxels along the volume's side within ``max_memory_mb``."""
        return int(np.floor((self.max_memory_mb * 2**20 / VOXEL_BYTES) ** (1 / 3) + 1e-9))


@dataclass(frozen=True)
class TableRegion:
    """Where the table is, found from the cameras and the splats alone (any scale)."""

    lo: np.ndarray  # [2] world xy: low percentile of the table-plane Gaussians
    hi: np.ndarray  # [2] ... high percentile
    camera_height: float  # median height of the views above the table, world units

    @property
    def extent(self) -> float:
        """The region's longer side, world units."""
        return float(np.max(self.hi - self.lo))


@dataclass(frozen=True)
class Volume:
    """A cubic TSDF volume."""

    origin: np.ndarray  # [3] world, its lowest corner
    voxel: float  # world units
    resolution: int  # voxels along each side

    @property
    def length(self) -> float:
        return self.voxel * self.resolution

    @property
    def megabytes(self) -> float:
        return self.resolution**3 * VOXEL_BYTES / 2**20


def look_at_point(views: list[View]) -> tuple[np.ndarray, float]:
    """Where the cameras look on the table, ``[2]`` world xy (median of where their optical
    axes meet z = 0), and the median distance from a camera to that meeting point."""
    centres = np.array([v.centre for v in views])
    axes = np.array([v.viewmat[2, :3] for v in views])  # camera z in world coordinates
    down = axes[:, 2] < -0.05
    if not down.any():
        return np.median(centres[:, :2], axis=0), float(np.median(np.abs(centres[:, 2])))
    t = -centres[down, 2] / axes[down, 2]
    hits = centres[down] + t[:, None] * axes[down]
    return np.median(hits[:, :2], axis=0), float(np.median(t))


def table_region(gs: GaussianSet, views: list[View], config: MeshConfig) -> TableRegion:
    """The table region: percentiles of the opaque Gaussians on the table plane near where the
    cameras look. Scale-free: lengths come from the cameras' height and viewing distance."""
    heights = np.array([v.centre[2] for v in views])
    height = float(np.median(heights))
    if not height > 0:
        raise ReconstructError(
            "the cameras are not above the table (median height "
            f"{height:.3g}); check the align stage's table plane",
            field="mesh",
        )
    centre, distance = look_at_point(views)
    opaque = gs.opacities > 0.3
    near = np.linalg.norm(gs.means[:, :2] - centre, axis=1) < config.view_reach * distance
    table = opaque & near & (np.abs(gs.means[:, 2]) < config.table_band * height)
    if table.sum() < 10:
        table = opaque & near & (gs.means[:, 2] > -config.table_band * height)
    if table.sum() < 10:
        raise ReconstructError(
            "the splats hold almost nothing opaque where the cameras look; re-run the splats stage",
            field="mesh",
        )
    p = config.roi_percentile
    xy = gs.means[table, :2]
    return TableRegion(np.percentile(xy, p, axis=0), np.percentile(xy, 100 - p, axis=0), height)


def plan_volume(region: TableRegion, config: MeshConfig) -> Volume:
    """The cubic volume over ``region`` (``config`` in world units), within the memory cap."""
    lo = region.lo - config.roi_margin
    hi = region.hi + config.roi_margin
    z0 = config.floor - 4 * config.voxel
    side = float(max(hi[0] - lo[0], hi[1] - lo[1], config.max_height - z0))
    resolution = int(np.ceil(side / config.voxel - 1e-6))
    voxel = config.voxel
    if resolution > config.max_resolution:
        resolution = config.max_resolution
        voxel = side / resolution
    return Volume(np.array([lo[0], lo[1], z0]), voxel, resolution)


def fusable_depth(depth: np.ndarray, alpha: np.ndarray, config: MeshConfig) -> np.ndarray:
    """``[H, W]`` depth (world units) with 0 where a pixel must not be fused."""
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)
    good = (alpha >= config.min_alpha) & (depth > 0) & (depth < config.max_depth)
    good &= spread <= config.edge_ratio * depth
    return np.where(good, depth, 0.0).astype(np.float32)


def fuse(
    gs: GaussianSet,
    views: list[View],
    config: MeshConfig,
    volume: Volume,
    report: Callable[[float, str], None],
    antialiased: bool = False,
) -> o3d.geometry.TriangleMesh:
    """TSDF-fuse the splats' depth (``config.depth``) and colour at ``views`` into a raw mesh
    (world frame); ``config`` in world units; ``antialiased``: how the splats were trained to be
    drawn."""
    tsdf = o3d.pipelines.integration.UniformTSDFVolume(
        length=volume.length,
        resolution=volume.resolution,
        sdf_trunc=config.trunc_voxels * volume.voxel,
        color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
        origin=volume.origin,
    )
    for i, view in enumerate(views):
        w, h = view.size
        rgb, depth, alpha = rasterize(
            gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, view.K, w, h,
            near_plane=config.near, antialiased=antialiased, depth=config.depth,
        )  # fmt: skip
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
        tsdf.integrate(rgbd, intrinsic, view.viewmat)
        report((i + 1) / len(views), f"fused {i + 1}/{len(views)} depth maps")
    return tsdf.extract_triangle_mesh()


def clean(
    mesh: o3d.geometry.TriangleMesh, config: MeshConfig
) -> tuple[o3d.geometry.TriangleMesh, dict[str, int]]:
    """Remove what lies below the table and small floating pieces; simplify (``config`` in
    world units)."""
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


def scene_mesh(
    gs: GaussianSet,
    views: list[View],
    config: MeshConfig,
    metric: bool,
    report: Callable[[float, str], None] = lambda f, note: None,
    units: Units | None = None,
    antialiased: bool = False,
) -> tuple[o3d.geometry.TriangleMesh, dict[str, Any]]:
    """The cleaned scene mesh and its summary fields; ``metric``: the world is in metres
    (else its units are ``units`` or come from the table region's extent); ``antialiased``:
    the splats are drawn in gsplat's antialiased mode."""
    region = table_region(gs, views, config)
    if units is None:
        units = Units() if metric else Units.from_table(region.extent)
    scaled = config.in_units(units)
    volume = plan_volume(region, scaled)
    raw = fuse(gs, views, scaled, volume, report, antialiased)
    if len(raw.triangles) == 0:
        raise ReconstructError(
            "TSDF fusion produced no surface: the splats' depth is empty or inconsistent; check "
            "the splats stage's held-out PSNR and renders",
            field="mesh",
        )
    mesh, counts = clean(raw, scaled)
    return mesh, {
        **counts,
        "units": units.as_dict(),
        "table_region": {"lo": region.lo.tolist(), "hi": region.hi.tolist()},
        "camera_height": region.camera_height,
        "volume": {
            "origin": volume.origin.tolist(),
            "voxel": volume.voxel,
            "resolution": volume.resolution,
            "megabytes": round(volume.megabytes, 1),
        },
    }


def run_mesh(ctx: StageContext, config: MeshConfig) -> dict[str, Any]:
    """Fuse the splats' depth into ``MeshOutputs.mesh``."""
    gs = read_ply(ctx.input(splats.STAGE).splats)
    views = load_views(
        ctx.input(align.STAGE).model, ctx.input(frames.STAGE).images, config.image_width
    )
    views = even_subset(views, config.max_views)
    world = read_summary(ctx.inputs[align.STAGE.name]) or {}
    trained = read_summary(ctx.inputs[splats.STAGE.name]) or {}
    mesh, summary = scene_mesh(
        gs,
        views,
        config,
        metric_world(world),
        lambda f, note: ctx.report(0.05 + 0.85 * f, note),
        Units.from_align(world),
        antialiased=bool(trained.get("antialiased", False)),
    )
    outputs = MeshOutputs.at(ctx.out_dir)
    o3d.io.write_triangle_mesh(str(outputs.mesh), mesh, write_ascii=False)
    vertices = np.asarray(mesh.vertices)
    return {
        **summary,
        "vertices": len(vertices),
        "views_fused": len(views),
        "bounds": [vertices.min(0).tolist(), vertices.max(0).tolist()],
        "file": outputs.mesh.name,
    }


STAGE = Stage(
    name="mesh",
    config_type=MeshConfig,
    run=run_mesh,
    inputs=(frames.STAGE.name, align.STAGE.name, splats.STAGE.name),
    version=3,  # 3: fuses the median depth (thin walls and silhouettes in place, issue #21)
    description="scene mesh from splat depth (TSDF)",
    outputs_at=MeshOutputs.at,
    reads_placement=False,
)
