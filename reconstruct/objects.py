"""Stage ``objects``: split the scene into movable objects and the static table.

Floaters go first: the Gaussians above the table (inside the scene mesh's box) that stand
alone, in small pieces, are huge, faint haze or outside every training camera's frustum (the
align stage's frames but those the splats stage held out; ``floaters``) leave the scene, and so do the mesh's
surface samples fused from them (their nearest Gaussian is one, or no other is near), so
that a floater's sheet does not join an object into one candidate too wide. Candidates are
the scene mesh's clusters above the table (``segment``) among the samples left; the user's edits
(``--objects objects.yaml``: names, merges, drops, densities) pick the objects. Per object:
its solid and body frame (``solid``; an open container's walls and thin floor, ``container``,
when its samples' walls enclose a floor, placed where the splats' opaque centres stand on
them), a watertight visual mesh, convex collision hulls
(``hulls``), mass = density x volume, and its Gaussians (those over its footprint, moved into
the body frame). With ``refine`` on, the objects' Gaussians are trained again on the frames at
full resolution, and each object is shaped again from them (``reshaped``): the refined
Gaussians outline it to a few mm where the fused depth spread 1-5 cm. The static scene keeps
the other Gaussians, with the table filled in where the objects hid it (``holefill``); its
visual is the scene mesh with the objects and the table plane cut out, the flat table top
(``tabletop``: the convex outline of the table, so the fused table's holes do not show) in
their place; its collision is the solid prism under that outline (top at z = 0), reaching
under the robot base. Candidates that are scenery
(beyond the table, fragments; ``segment``) stay in the static scene.

Lengths in the configs are metres; the stage reads the world's units from the mesh stage's
summary (the align stage's, ``reconstruct.units``) and applies its settings in them. Poses and
files are in world units; an object's ``extents_m``, ``volume_m3`` and mass are metric (a mass
is density x volume in cubic metres), so the package stage sizes objects against the gripper
whatever the units.

Writes ``ObjectsOutputs``: ``objects/<name>/{visual.obj, hull_<k>.obj, splats.ply}`` and
``static/{visual.obj, table.obj, splats.ply}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import open3d as o3d
import trimesh

from reconstruct import align as align_stage
from reconstruct import frames as frames_stage
from reconstruct import mesh as mesh_stage
from reconstruct import splats as splats_stage
from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.container import container_solid
from reconstruct.errors import ReconstructError
from reconstruct.floaters import Cameras, FloaterConfig, Floaters, find_floaters, unsupported
from reconstruct.holefill import FillConfig, fill_table
from reconstruct.hulls import HullConfig, collision_hulls
from reconstruct.object_edits import ObjectEdits
from reconstruct.refine_objects import RefineConfig, frame_views, refine_from_frames
from reconstruct.segment import (
    Candidate,
    SegmentConfig,
    apply_edits,
    surface_samples,
    table_and_candidates,
)
from reconstruct.solid import Solid, SolidConfig, build_solid, extrude, splat_surface
from reconstruct.stage import Stage, StageContext, read_summary
from reconstruct.tabletop import TableTop
from reconstruct.units import Units, in_units
from reconstruct.views import pinhole_of
from sim_env.splats import GaussianSet, concat, read_ply, transform, write_ply
from sim_env.splats.rotations import matrix_to_quat


@dataclass(frozen=True)
class BodyFiles:
    """One object's files, in its body frame."""

    visual: Path  # watertight visual mesh (OBJ)
    splats: Path  # its Gaussians (PLY)
    folder: Path  # holds them and the convex hulls

    def hull(self, k: int) -> Path:
        """The ``k``-th convex collision hull (OBJ)."""
        return self.folder / f"hull_{k}.obj"


@dataclass(frozen=True)
class ObjectsOutputs:
    """What the objects stage writes; its summary lists the objects (name, hull count, ...)."""

    bodies: Path  # one folder per object (``body(name)``)
    static_splats: Path  # the static scene's Gaussians, the table filled in (PLY)
    static_visual: Path  # the scene mesh with the objects cut out, the table flat (OBJ)
    table: Path  # the solid under the table top, top at z = 0: the static collision (OBJ)

    @classmethod
    def at(cls, folder: Path) -> ObjectsOutputs:
        static = folder / "static"
        return cls(
            folder / "objects", static / "splats.ply", static / "visual.obj", static / "table.obj"
        )

    def body(self, name: str) -> BodyFiles:
        folder = self.bodies / name
        return BodyFiles(folder / "visual.obj", folder / "splats.ply", folder)


@dataclass(frozen=True)
class ObjectsConfig:
    """Attributes (lengths in metres):
    floaters, segment, solid, hulls, fill: the steps' settings.
    refine: the objects' Gaussians trained again on full-resolution crops of the frames
        (``refine_objects``; off unless ``refine.steps``).
    edits: the user's names, merges and drops (``--objects``).
    density: kg/m^3 of objects the edits give none for.
    splat_margin: an object's Gaussians lie over its footprint grown by this.
    splat_floor: ... and higher than this above the table.
    support_reach: splats this close to an object's samples' box may lend their centres ...
    support_opacity: ... when at least this opaque, to a convex object's hull or to place a
        container's walls.
    static_triangles: the static visual mesh is simplified to at most this many triangles.
    table_thickness: the collision solid under the table top.
    robot_clearance: the table reaches at least this far around the robot base origin.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "splat_margin", "splat_floor", "support_reach", "table_thickness", "robot_clearance",
    )  # fmt: skip

    floaters: FloaterConfig = field(default_factory=FloaterConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    solid: SolidConfig = field(default_factory=SolidConfig)
    hulls: HullConfig = field(default_factory=HullConfig)
    fill: FillConfig = field(default_factory=FillConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    edits: ObjectEdits = field(default_factory=ObjectEdits)
    density: float = 400.0
    splat_margin: float = 0.008
    splat_floor: float = 0.003
    support_reach: float = 0.01
    support_opacity: float = 0.5
    static_triangles: int = 12_000
    table_thickness: float = 0.04
    robot_clearance: float = 0.25

    def __post_init__(self) -> None:
        if not self.density > 0:
            raise ReconstructError("must be positive (kg/m^3)", field="objects.density")

    def in_units(self, units: Units) -> ObjectsConfig:
        """These settings with every length in the world's units."""
        scaled = in_units(self, self.LENGTHS, units.per_metre)
        return replace(
            scaled,
            floaters=self.floaters.in_units(units),
            segment=self.segment.in_units(units),
            solid=self.solid.in_units(units),
            fill=self.fill.in_units(units),
            refine=self.refine.in_units(units),
        )


def _export(mesh: trimesh.Trimesh, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(path)


def object_gaussians(scene: GaussianSet, solid: Solid, config: ObjectsConfig) -> np.ndarray:
    """``[N]`` mask of the scene Gaussians that belong to ``solid``."""
    body = solid.to_body(scene.means)
    top = float(solid.mesh.vertices[:, 2].max())
    tall = (body[:, 2] > config.splat_floor) & (body[:, 2] < top + 2 * config.splat_margin)
    return tall & solid.inside_footprint(body, config.splat_margin)


def to_body_frame(gs: GaussianSet, solid: Solid) -> GaussianSet:
    rotation = solid.rotation
    return transform(gs, rotation.T, -rotation.T @ solid.position)


def table_solid(
    table: TableTop | None, mesh: o3d.geometry.TriangleMesh, config: ObjectsConfig
) -> trimesh.Trimesh:
    """The convex solid under the table top (z <= 0), also under the robot base; without a
    table top, a box under the mesh's flat part."""
    clearance = config.robot_clearance * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    if table is None:
        vertices = np.asarray(mesh.vertices)
        flat = vertices[np.abs(vertices[:, 2]) < config.segment.min_height, :2]
        points = flat if len(flat) >= 3 else vertices[:, :2]
        (x0, y0), (x1, y1) = points.min(0), points.max(0)
        table = TableTop(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return table.grown(clearance).prism(-config.table_thickness)


def static_visual(
    mesh: o3d.geometry.TriangleMesh,
    solids: list[Solid],
    table: TableTop | None,
    config: ObjectsConfig,
) -> trimesh.Trimesh:
    """The scene mesh without the objects, simplified; its table plane inside the table top
    replaced by the solid table top (without a table top: a flat patch where each object
    stood)."""
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    centres = vertices[faces].mean(1)
    keep = np.ones(len(faces), bool)
    for solid in solids:
        keep &= ~solid.inside_footprint(solid.to_body(centres), config.splat_margin)
    if table is not None:
        on_plane = np.all(np.abs(vertices[faces][:, :, 2]) < config.segment.min_height, axis=1)
        keep &= ~(on_plane & table.contains(centres[:, :2]))
    rest = o3d.geometry.TriangleMesh(mesh.vertices, o3d.utility.Vector3iVector(faces[keep]))
    rest.remove_unreferenced_vertices()
    if len(rest.triangles) > config.static_triangles:
        rest = rest.simplify_quadric_decimation(config.static_triangles)
    parts = [trimesh.Trimesh(np.asarray(rest.vertices), np.asarray(rest.triangles), process=False)]
    if table is not None:
        parts.append(table.prism(-config.table_thickness))  # closed: MuJoCo needs a volume
    else:
        lift = config.splat_floor / 3
        for solid in solids:
            patch = extrude(
                np.full(solid.footprint.shape, lift), solid.footprint, solid.grid_origin, solid.cell
            )
            patch.vertices = solid.to_world(patch.vertices) - [0, 0, lift]
            parts.append(patch)
    out = trimesh.util.concatenate(parts)
    out.remove_unreferenced_vertices()
    return out


def _rgba(colors: np.ndarray) -> list[float]:
    rgb = np.median(colors, axis=0) if len(colors) else np.full(3, 0.6)
    return [*np.clip(rgb, 0, 1).round(3).tolist(), 1.0]


def object_solid(parts: list[Candidate], scene: GaussianSet, config: ObjectsConfig) -> Solid:
    """An object's solid from its candidates' fused surface samples, the scene's opaque splat
    centres around them placing a container's walls (``config`` in world units)."""
    samples = np.concatenate([c.points for c in parts])
    lo, hi = samples.min(0), samples.max(0)
    reach = config.support_reach
    near = np.all((scene.means >= lo - reach) & (scene.means <= hi + 2 * reach), axis=1)
    support = scene.means[near & (scene.opacities >= config.support_opacity)]
    solid = container_solid(samples, config.segment.container, config.solid, support)
    return solid if solid is not None else build_solid(samples, config.solid, support)


def reshaped(solid: Solid, refined: GaussianSet, config: ObjectsConfig) -> Solid | None:
    """The object's solid again, from its refined Gaussians' surface (``solid.splat_surface``);
    None when too few of them stand on it. Refined at the phone's resolution they outline the
    object to a few mm, where depth fused from splats trained at less spreads 1-5 cm (the
    kitchen twin's carton 7.7 x 7.2 cm for 5.5 x 4.5)."""
    surface = splat_surface(refined.means, refined.opacities, config.solid)
    standing = surface[surface[:, 2] >= config.solid.surface_wall]
    if len(standing) < config.solid.min_surface:
        return None
    if solid.floor is not None:
        return container_solid(surface, config.segment.container, config.solid, standing)
    return build_solid(standing, config.solid)


def write_object(
    name: str,
    parts: list[Candidate],
    density: float,
    solid: Solid,
    gaussians: GaussianSet,
    config: ObjectsConfig,
    units: Units,
    outputs: ObjectsOutputs,
) -> dict[str, Any]:
    """Write one object's visual mesh, hulls and its ``gaussians`` (world frame) in its body
    frame (``outputs.body(name)``); ``config`` in the world's ``units``. Returns its summary
    record."""
    files = outputs.body(name)
    _export(solid.mesh, files.visual)
    hulls = collision_hulls(solid, config.hulls)
    for i, hull in enumerate(hulls):
        _export(hull, files.hull(i))
    write_ply(files.splats, to_body_frame(gaussians, solid))
    volume = float(solid.mesh.volume)
    cubic_metres = volume / units.per_metre**3
    low, high = solid.mesh.bounds
    return {
        "name": name,
        "candidates": [c.id for c in parts],
        "pose": {
            "pos": solid.position.tolist(),
            "quat": matrix_to_quat(solid.rotation[None])[0].tolist(),
        },
        "yaw_deg": float(np.degrees(solid.yaw)),
        "centroid_m": solid.to_world(solid.mesh.center_mass[None])[0].tolist(),
        "extents_m": ((high - low) / units.per_metre).tolist(),
        "volume_m3": cubic_metres,
        "concavity": 1.0 - volume / max(float(solid.mesh.convex_hull.volume), 1e-12),
        "density": density,
        "mass_kg": density * cubic_metres,
        "hulls": len(hulls),
        "gaussians": len(gaussians),
        "rgba": _rgba(gaussians.colors),
        "watertight": bool(solid.mesh.is_watertight),
        "container": solid.floor is not None,
    }


def no_objects_message(candidates: list[Candidate]) -> str:
    """Why the edits left no object, with the candidates an objects file may name."""
    if not candidates:
        return (
            "no objects: no candidate found above the table; film the objects from all sides, "
            "standing on the table, and check the mesh stage's scene_mesh.ply"
        )
    shown = "; ".join(
        f"{c.id} at ({c.centroid[0]:.3g}, {c.centroid[1]:.3g}): {c.scenery or 'dropped'}"
        for c in candidates[:10]
    )
    more = f"; and {len(candidates) - 10} more" if len(candidates) > 10 else ""
    return (
        f"no objects: the {len(candidates)} candidate(s) above the table are scenery or "
        f"dropped ({shown}{more}); name the objects in --objects objects.yaml"
    )


def seen_table_outline(ctx: StageContext) -> np.ndarray | None:
    """``[K, 2]`` outline (world xy) of the table structure from motion saw, from the align
    stage's summary; None when the context has no align stage or it found no outline."""
    folder = ctx.inputs.get(align_stage.STAGE.name)
    outline = (read_summary(folder) or {}).get("table_outline") if folder else None
    return None if outline is None else np.asarray(outline, float)


def training_cameras(ctx: StageContext) -> Cameras | None:
    """The splats' training cameras: the align stage's registered frames (world frame) but
    those the splats stage held out; None when the context has no align stage."""
    folder = ctx.inputs.get(align_stage.STAGE.name)
    if folder is None:
        return None
    rec = load_model(align_stage.AlignOutputs.at(folder).model)
    held = set((read_summary(ctx.inputs[splats_stage.STAGE.name]) or {}).get("heldout_views", []))
    poses = registered_poses(rec)
    kept = [i for i, name in enumerate(poses.names) if name not in held]
    viewmats = np.tile(np.eye(4), (len(kept), 1, 1))
    viewmats[:, :3] = poses.cam_from_world[kept]
    cameras = [rec.cameras[rec.images[poses.image_ids[i]].camera_id] for i in kept]
    return Cameras(
        viewmats,
        np.array([pinhole_of(c) for c in cameras]).reshape(-1, 3, 3),
        np.array([(c.width, c.height) for c in cameras], float).reshape(-1, 2),
    )


def scene_floaters(
    scene: GaussianSet,
    mesh: o3d.geometry.TriangleMesh,
    config: ObjectsConfig,
    cameras: Cameras | None = None,
) -> Floaters:
    """The floaters among the scene's Gaussians higher than the table (``min_height``) inside
    the scene mesh's box (``config`` in world units), seen by the training ``cameras``; the
    background beyond stays as it is."""
    lo, hi = mesh.get_min_bound(), mesh.get_max_bound()
    judged = np.all((scene.means >= lo) & (scene.means <= hi), axis=1)
    judged &= scene.means[:, 2] > config.segment.min_height
    return find_floaters(
        scene.means,
        scene.scales,
        config.floaters,
        judged,
        opacities=scene.opacities,
        cameras=cameras,
    )


def run_objects(ctx: StageContext, config: ObjectsConfig) -> dict[str, Any]:
    """Find, edit and build the objects and the static scene."""
    outputs = ObjectsOutputs.at(ctx.out_dir)
    mesh = o3d.io.read_triangle_mesh(str(ctx.input(mesh_stage.STAGE).mesh))
    scene = read_ply(ctx.input(splats_stage.STAGE).splats)
    units = Units.from_summary((read_summary(ctx.inputs[mesh_stage.STAGE.name]) or {}).get("units"))
    cfg = config.in_units(units)
    ctx.report(0.02, "finding floaters")
    floaters = scene_floaters(scene, mesh, cfg, training_cameras(ctx))
    ctx.report(0.05, f"removed {int(floaters.mask.sum())} floaters; sampling the scene mesh")
    points, colors, normals = surface_samples(mesh, cfg.segment.sample_spacing)
    fused = unsupported(points, scene.means, floaters.mask, cfg.floaters.reach)
    fused &= points[:, 2] > cfg.segment.min_height
    points, colors, normals = points[~fused], colors[~fused], normals[~fused]
    scene = scene.subset(~floaters.mask)
    seen = seen_table_outline(ctx)
    table, candidates = table_and_candidates(
        points, colors, normals, scene.means, cfg.segment, seen
    )
    edited = apply_edits(candidates, config.edits, cfg.segment.at_radius)
    if not edited:
        raise ReconstructError(no_objects_message(candidates), field="objects")
    taken = np.zeros(len(scene), bool)
    solids, bodies = [], []
    for k, (name, parts, _) in enumerate(edited):
        ctx.report(0.1 + 0.6 * k / len(edited), f"shaping {name}")
        solid = object_solid(parts, scene, cfg)
        mine = object_gaussians(scene, solid, cfg) & ~taken
        taken |= mine
        solids.append(solid)
        bodies.append(scene.subset(mine))
    ctx.report(0.75, "filling the table under the objects")
    rest = scene.subset(~taken)
    fill, hidden = fill_table(rest, solids, cfg.fill)
    static = concat([rest.subset(~hidden), fill])
    outputs.static_splats.parent.mkdir(parents=True, exist_ok=True)
    write_ply(outputs.static_splats, static)
    _export(static_visual(mesh, solids, table, cfg), outputs.static_visual)
    solid_table = table_solid(table, mesh, cfg)
    _export(solid_table, outputs.table)
    table_colors = rest.colors[np.abs(rest.means[:, 2]) < cfg.segment.min_height]
    refined, shapes = None, ["fused samples"] * len(solids)
    if cfg.refine.steps:
        bodies, refined = refine_bodies(ctx, cfg.refine, static, bodies)
        reshape = 0 < cfg.refine.reshape_steps <= cfg.refine.steps
        if refined["kept"] == "refined" and reshape:
            for i, body in enumerate(bodies):
                again = reshaped(solids[i], body, cfg)
                if again is not None:
                    solids[i], shapes[i] = again, "refined splats"
                    bodies[i] = body.subset(np.nonzero(object_gaussians(body, again, cfg))[0])
    records = []
    for k, ((name, parts, density), solid, body) in enumerate(
        zip(edited, solids, bodies, strict=True)
    ):
        ctx.report(0.99, f"writing {name} ({k + 1}/{len(edited)})")
        record = write_object(name, parts, density or cfg.density, solid, body, cfg, units, outputs)
        records.append(record | {"shape": shapes[k]})
    return {
        "units": units.as_dict(),
        "floaters": {**floaters.as_dict(), "surface_samples": int(fused.sum())},
        "candidates": [c.describe() for c in candidates],
        "objects": records,
        "static": {
            "gaussians": len(static),
            "fill_gaussians": len(fill),
            "replaced_gaussians": int(hidden.sum()),
            "table_outline": None if table is None else table.outline.round(5).tolist(),
            "table_box_m": [solid_table.bounds[0].tolist(), solid_table.bounds[1].tolist()],
            "rgba": _rgba(table_colors),
        },
        "refine": refined,
    }


def refine_bodies(
    ctx: StageContext, config: RefineConfig, static: GaussianSet, bodies: list[GaussianSet]
) -> tuple[list[GaussianSet], dict[str, Any]]:
    """The objects' Gaussians (world frame) refined on the frames (``refine_objects``) but
    those the splats stage held out, on which the summary scores them."""
    needed = (align_stage.STAGE.name, frames_stage.STAGE.name, splats_stage.STAGE.name)
    if any(name not in ctx.inputs for name in needed):
        raise ReconstructError(
            f"refining the objects needs the {', '.join(needed)} stages' outputs",
            field="objects.refine.steps",
        )
    ctx.report(0.8, "refining the objects on full-resolution crops")
    splats = read_summary(ctx.inputs[splats_stage.STAGE.name]) or {}
    width = config.image_width or 2 * int(splats.get("image_size", [480])[0])
    views = frame_views(
        ctx.input(align_stage.STAGE).model, ctx.input(frames_stage.STAGE).images, width
    )
    held = set(splats.get("heldout_views", []))
    report = lambda f, note: ctx.report(0.8 + 0.18 * f, note)  # noqa: E731
    return refine_from_frames(static, bodies, views, held, config, report)


STAGE = Stage(
    name="objects",
    config_type=ObjectsConfig,
    run=run_objects,
    inputs=(
        align_stage.STAGE.name,
        splats_stage.STAGE.name,
        mesh_stage.STAGE.name,
        frames_stage.STAGE.name,
    ),
    # 10: the splats place a container's walls; 11: objects refined (opt-in), a footprint no
    # whole copy of table fits filled in pieces (holefill's tile); 12: refined objects shaped
    # from their refined Gaussians; 13: pieces join only while together within max_size, and
    # the raised rim where a scan ends is scenery
    version=13,
    description="movable objects, their hulls and splats; the static table",
    outputs_at=ObjectsOutputs.at,
    reads_placement=False,
)
