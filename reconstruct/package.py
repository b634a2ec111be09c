"""Stage ``package``: the environment package (format v1) from the reconstruction.

The static scene and the objects come from the objects stage; the robot base from the align
stage (the marker, ``--base`` or the default on the table edge facing the cameras); DROID-like
cameras from ``sim_env.primitives.droid_cameras``, the exterior one fitted to the capture's
viewpoints (``reconstruct.viewpoint``; or DROID's fixed pose, a frame's, a given one); a
background dome painted from the frames (``reconstruct.background``, format version 2); a pick-and-place rubric (``pick_place_rubric``) whose
container is the widest concave object and whose object is the largest graspable other one,
unless the objects file names them (a scan with one object gives a pick-up task); initial conditions given in the objects file, or the
scanned arrangement followed by perturbations of it that MuJoCo finds free of interpenetration.
Provenance records the scan's sha256 and every stage's summary (``provenance/stages.json``);
``previews/`` holds one render per camera and ``layout.png``, the table, the objects and the
robot from above. The package is written and validated inside the
stage's private folder, which only becomes ``work/package`` once complete; ``publish_package``
then copies it into the environment folder with ``env.yaml`` last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import trimesh

from reconstruct.align import STAGE as ALIGN_STAGE
from reconstruct.background import DomeConfig, dome_for_package
from reconstruct.bare_table import STAGE as BARE_STAGE
from reconstruct.bare_table import load_bare_views
from reconstruct.errors import ReconstructError
from reconstruct.exterior import CaptureCameras, choose_exterior, package_gaussians, with_exterior
from reconstruct.frames import STAGE as FRAMES_STAGE
from reconstruct.frames import scan_digest
from reconstruct.geometry import outline
from reconstruct.initial_conditions import (
    LIFT,
    LayoutConfig,
    drop_unusable_starts,
    footprint_radius,
    interpenetrations,
    sample_layouts,
    to_initial_condition,
    yaw_quat,
)
from reconstruct.object_edits import ConditionEdit, TaskEdit
from reconstruct.objects import STAGE as OBJECTS_STAGE
from reconstruct.objects import ObjectsOutputs
from reconstruct.placement import BasePose, Placement
from reconstruct.stage import Stage, StageContext, read_summary, remove_tree
from reconstruct.table_texture import (
    TableConfig,
    edge_layer,
    paint_table,
    table_layer,
    write_picture,
)
from reconstruct.table_texture import summary as table_summary
from reconstruct.topdown import TopDown, draw_top_down
from reconstruct.units import Units, metric_world
from reconstruct.viewpoint import ExteriorChoice
from reconstruct.views import load_views
from sim_env.cameras import quat_to_mat
from sim_env.package import ENV_FILE, EnvPackage, load_package, save_package
from sim_env.primitives import droid_cameras, pick_place_rubric, touch_rubric
from sim_env.robot import HOME_QPOS
from sim_env.scene import build_scene, check_initial_conditions
from sim_env.splats import GaussianSet
from sim_env.splats.ply import read_ply, write_ply

GRASPABLE_WIDTH = 0.075  # m, narrowest footprint side the 2F-85 (85 mm) can close around
CONCAVE = 0.25  # objects whose volume is this much below their hull's are containers


@dataclass(frozen=True)
class PackageOutputs:
    """What the package stage writes: an environment package (``previews/`` as configured)."""

    package: Path  # the package's root folder
    env: Path  # its env.yaml
    provenance: Path  # every stage's summary (JSON)
    top_down: Path  # PNG: the table, the objects and the robot base from above

    @classmethod
    def at(cls, folder: Path) -> PackageOutputs:
        return cls(
            folder,
            folder / ENV_FILE,
            folder / "provenance" / "stages.json",
            folder / "previews" / "layout.png",
        )


@dataclass(frozen=True)
class PackageConfig:
    """Attributes:
    name: the package name (the CLI uses the environment folder's name).
    camera_size: (width, height) of the DROID-like cameras.
    task: the rubric's object and container and the instruction (empty: chosen).
    initial_conditions: given outright (the objects file); empty: sampled.
    layouts: how initial conditions are sampled around the scanned arrangement.
    previews: render one preview per camera (and the background panorama).
    exterior: where the exterior camera stands (fitted to the capture by default).
    background: how the background dome is painted from the frames (None: no background,
        format version 1).
    table: how the table top's picture is painted from the frames (None: the table stays
        splats).
    control_hz, horizon_steps: the episode.
    """

    name: str = "twin"
    camera_size: tuple[int, int] = (320, 180)
    task: TaskEdit = field(default_factory=TaskEdit)
    initial_conditions: tuple[ConditionEdit, ...] = ()
    layouts: LayoutConfig = field(default_factory=LayoutConfig)
    previews: bool = True
    exterior: ExteriorChoice = field(default_factory=ExteriorChoice)
    background: DomeConfig | None = field(default_factory=DomeConfig)
    table: TableConfig | None = field(default_factory=TableConfig)
    control_hz: float = 15.0
    horizon_steps: int = 450


def pick_up_rubric(obj: str) -> dict:
    """The task of a scan with one graspable object: reach it and lift it."""
    rubric = pick_place_rubric(obj, "unused")
    return {"criteria": [c for c in rubric["criteria"] if c["kind"] in ("reach", "lift")]}


def task_rubric(
    record: dict[str, Any], container: str | None, instruction: str
) -> tuple[dict, str]:
    """The rubric and instruction of the task on the object ``record`` (the objects stage's):
    pick-and-place into ``container``; with none, pick it up, or touch it when its footprint
    is wider than the gripper closes around (a scan's one big object: a statue, a lamp).
    A given ``instruction`` is kept."""
    obj = record["name"]
    words = obj.replace("_", " ")
    if container is not None:
        default = f"put the {words} in the {container.replace('_', ' ')}"
        return pick_place_rubric(obj, container), instruction or default
    if min(record["extents_m"][:2]) <= GRASPABLE_WIDTH:
        return pick_up_rubric(obj), instruction or f"pick up the {words}"
    return touch_rubric(obj), instruction or f"touch the {words}"


def choose_task(objects: list[dict[str, Any]], task: TaskEdit) -> tuple[str, str | None]:
    """(object, container): the given names, else the widest concave object as container
    and the largest graspable other object; a scan with one object, or with none a gripper
    closes around (a statue and a scrap of table edge), gives its largest and no container
    (a pick-up or touch task, ``task_rubric``)."""
    names = [o["name"] for o in objects]
    for role, name in (("object", task.object), ("container", task.container)):
        if name and name not in names:
            raise ReconstructError(
                f"no object named {name!r} (objects: {names})", field=f"task.{role}"
            )
    if len(objects) == 1 and not task.container:
        return names[0], None
    if len(objects) < 2 and not (task.object and task.container):
        raise ReconstructError(
            f"a task needs an object (and a container for pick-and-place), found {names}; "
            "film them on the table, or name them with --objects",
            field="task",
        )

    def area(o: dict[str, Any]) -> float:
        return o["extents_m"][0] * o["extents_m"][1]

    container = task.container
    if not container:
        concave = [o for o in objects if o["concavity"] >= CONCAVE and o["name"] != task.object]
        pool = concave or [o for o in objects if o["name"] != task.object]
        container = max(pool, key=area)["name"]
    obj = task.object
    if not obj:
        others = [o for o in objects if o["name"] != container]
        graspable = [o for o in others if min(o["extents_m"][:2]) <= GRASPABLE_WIDTH]
        if not graspable and not task.container:
            # nothing to put in a container: the scan's main object is the task alone
            return max(objects, key=lambda o: o["volume_m3"])["name"], None
        obj = (
            max(graspable, key=lambda o: o["volume_m3"]) if graspable else min(others, key=area)
        )["name"]
    if obj == container:
        raise ReconstructError("the object and the container must differ", field="task")
    return obj, container


def overlap_message(problems: list[str], records: list[dict[str, Any]], given: bool) -> str:
    """The first initial condition's interpenetrations (``problems``: the two bodies and the
    depth each), the candidates each object was built from (``records``: the objects stage's)
    and what to change: the objects file's initial conditions when ``given``, else its merges
    and drops (or the robot base)."""
    candidates = {r["name"]: r["candidates"] for r in records}
    named = dict.fromkeys(re.findall(r"object/(\S+)", " ".join(problems)))
    built = ", ".join(f"{n} from candidate(s) {candidates[n]}" for n in named if n in candidates)
    robot = [p for p in problems if "robot/" in p]
    fixes = []
    if given:
        fixes.append("move them apart in the initial_conditions of the --objects file")
    elif len(robot) < len(problems):
        fixes.append(
            "in --objects objects.yaml merge them into one object (candidates: [A, B]) or drop "
            "one (drop: [ID])"
        )
    if robot:
        fixes.append(
            "move the robot base away from the objects (--base X Y YAW; see "
            "work/align/top_down.png)"
        )
    fix = "; ".join(fixes)
    where = f" ({built})" if built else ""
    return f"the first initial condition does not fit: {'; '.join(problems)}{where}; {fix}"


def _copy(src: Path, root: Path, rel: str) -> str:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, root / rel)
    return rel


def _conditions_from_edits(edits: tuple[ConditionEdit, ...], names: list[str]) -> list[dict]:
    out = []
    for i, edit in enumerate(edits):
        given = {p.name for p in edit.objects}
        if given != set(names):
            raise ReconstructError(
                f"initial condition {i} places {sorted(given)}, the package has {sorted(names)}",
                field=f"initial_conditions[{i}]",
            )
        out.append(
            {
                "objects": {
                    p.name: {"pos": list(p.pos), "quat": list(p.quat)} for p in edit.objects
                },
                "arm_qpos": list(edit.arm_qpos or HOME_QPOS),
                "gripper": edit.gripper,
            }
        )
    return out


def robot_base(align: dict[str, Any]) -> dict[str, list[float]]:
    """The robot base pose the align stage chose (``robot_base`` of its summary)."""
    base = align.get("robot_base")
    if not isinstance(base, dict) or "position_m" not in base or "yaw_deg" not in base:
        raise ReconstructError(
            "the align stage's summary has no robot base pose (an older run?); run align again",
            field="align.robot_base",
        )
    return {"pos": list(base["position_m"]), "quat": yaw_quat(np.radians(base["yaw_deg"]))}


def cameras_at_base(cameras: list[dict], base: dict[str, list[float]]) -> list[dict]:
    """``cameras`` with the world-fixed ones (posed for a robot at the origin facing +x) moved
    with the robot base ``{pos, quat}`` (a yaw about z)."""
    quat = np.asarray(base["quat"], float)
    moved = []
    for camera in cameras:
        if camera["parent"] == "world":
            pos = np.asarray(camera["pose"]["pos"], float)
            rotated = np.zeros(3)
            mujoco.mju_rotVecQuat(rotated, pos, quat)
            turned = np.zeros(4)
            mujoco.mju_mulQuat(turned, quat, np.asarray(camera["pose"]["quat"], float))
            camera = camera | {
                "pose": {
                    "pos": (rotated + np.asarray(base["pos"], float)).tolist(),
                    "quat": turned.tolist(),
                }
            }
        moved.append(camera)
    return moved


def write_top_down(
    root: Path,
    records: list[dict[str, Any]],
    objects: list[dict[str, Any]],
    align: dict[str, Any],
    path: Path,
) -> Path:
    """The package from above: the table hull's outline, each object's hull footprint, the
    robot base (``align``: the align stage's summary)."""
    table = np.concatenate([trimesh.load(root / h).vertices for h in _table_hulls(root)])
    standing, named = [], []
    for record, spec in zip(records, objects, strict=True):
        body = np.concatenate([trimesh.load(root / h).vertices for h in spec["collision_hulls"]])
        turn = np.zeros(9)
        mujoco.mju_quat2Mat(turn, np.asarray(record["pose"]["quat"], float))
        world = body @ turn.reshape(3, 3).T + np.asarray(record["pose"]["pos"], float)
        standing.append(world)
        named.append((spec["name"], world[:, :2].mean(axis=0), footprint_radius(body)))
    base = align["robot_base"]
    placement = Placement(
        BasePose(base["position_m"][0], base["position_m"][1], base["yaw_deg"]),
        str(base.get("source", "")),
        str(base.get("note", "")),
    )
    table_xy = table[:, :2]
    view = TopDown(
        table=table_xy,
        standing=np.concatenate(standing) if standing else np.zeros((0, 3)),
        cameras=np.zeros((0, 2)),
        outline=outline(table_xy),
        placement=placement,
        per_metre=float(base.get("units_per_metre", 1.0)),
        metric=metric_world(align),
        objects=named,
    )
    return draw_top_down(view, path)


def _table_hulls(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "hulls").glob("table_*.obj"))


def write_background_preview(package: EnvPackage, path: Path) -> str:
    """The background panorama, texels the capture never saw (filled) at half brightness."""
    from PIL import Image

    background = package.spec.scene.background
    with Image.open(package.path(background.image)) as image:
        rgba = np.asarray(image.convert("RGBA"), np.float32)
    shade = 0.5 + 0.5 * rgba[..., 3:] / 255.0
    Image.fromarray((rgba[..., :3] * shade + 0.5).astype(np.uint8)).save(path)
    return f"previews/{path.name}"


def write_previews(package: EnvPackage, folder: Path) -> list[str]:
    """One PNG per camera at the first initial condition, rendered as evaluations see it, and
    the background panorama."""
    from PIL import Image

    from sim_env.env import EnvConfig, TwinEnv

    folder.mkdir(parents=True, exist_ok=True)
    env = TwinEnv(package, EnvConfig(renderer="auto"))
    try:
        obs, _ = env.reset(options={"initial_condition": 0})
        written = []
        for name in env.camera_names:
            Image.fromarray(obs[name]).save(folder / f"{name}.png")
            written.append(f"previews/{name}.png")
        if package.spec.scene.background is not None:
            written.append(write_background_preview(package, folder / "background.png"))
        return written
    finally:
        env.close()


def copy_assets(
    built: ObjectsOutputs, summary: dict[str, Any], root: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Copy the objects stage's files (``summary``: its summary) into the package layout; the
    scene and object specs."""
    objects = []
    for record in summary["objects"]:
        name, src = record["name"], built.body(record["name"])
        hulls = [_copy(src.hull(i), root, f"hulls/{name}_{i}.obj") for i in range(record["hulls"])]
        visual = _copy(src.visual, root, f"meshes/{name}.obj")
        objects.append(
            {
                "name": name,
                "visual": {"mesh": visual, "rgba": record["rgba"]},
                "collision_hulls": hulls,
                "splats": _copy(src.splats, root, f"splats/{name}.ply"),
                "mass": record["mass_kg"],
            }
        )
    scene = {
        "visual": {
            "mesh": _copy(built.static_visual, root, "meshes/scene.obj"),
            "rgba": summary["static"]["rgba"],
        },
        "collision_hulls": [_copy(built.table, root, "hulls/table_0.obj")],
        "splats": _copy(built.static_splats, root, "splats/scene.ply"),
    }
    return scene, objects


def candidate_conditions(
    config: PackageConfig,
    records: list[dict[str, Any]],
    objects: list[dict[str, Any]],
    root: Path,
    per_metre: float = 1.0,
) -> list[dict]:
    """The objects file's initial conditions, else the scanned arrangement and perturbations
    (``per_metre``: world units per metre, which the layouts' lengths are scaled by)."""
    names = [o["name"] for o in records]
    if config.initial_conditions:
        return _conditions_from_edits(config.initial_conditions, names)
    scanned = {
        o["name"]: (o["pose"]["pos"][0], o["pose"]["pos"][1], np.radians(o["yaw_deg"]))
        for o in records
    }
    radii = {
        o["name"]: footprint_radius(
            np.concatenate([trimesh.load(root / h).vertices for h in o["collision_hulls"]])
        )
        for o in objects
    }
    layouts = sample_layouts(radii, config.layouts.in_units(per_metre), around=scanned)
    lift = LIFT * per_metre
    return [to_initial_condition(layout, {n: 0.0 for n in names}, lift) for layout in layouts]


def provenance(scan: Path, summaries: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Where the package came from; the full stage summaries go to provenance/stages.json."""
    align, splats = summaries["align"], summaries["splats"]
    nan = float("nan")
    return {
        "created_by": "twinbench reconstruct (frames, sfm, align, splats, mesh, objects, bare, package)",
        "source": f"{scan.name} sha256:{scan_digest(scan)}",
        "notes": (
            f"scale {align.get('scale', nan):.6g} m/unit ({align.get('scale_source')}); "
            f"splats: {splats.get('trainer')} trainer, {splats.get('gaussians')} Gaussians, "
            f"held-out PSNR {splats.get('psnr', nan):.2f} dB, SSIM {splats.get('ssim', nan):.3f}; "
            "every stage's summary is in provenance/stages.json"
        ),
    }


def place_cameras(
    ctx: StageContext,
    config: PackageConfig,
    align: dict[str, Any],
    records: list[dict[str, Any]],
    gaussians: GaussianSet | None,
) -> tuple[list[dict], dict[str, Any]]:
    """DROID's cameras, the exterior one placed as ``config.exterior`` says (``droid``: the
    fixed pose beside the robot base, as before), and the summary of the choice
    (``records``: the objects stage's; ``gaussians``: the package's splats in the world)."""
    chosen, record = choose_exterior(
        config.exterior,
        CaptureCameras.of_model(ctx.input(ALIGN_STAGE).model),
        align["robot_base"],
        gaussians,
        np.array([r["pose"]["pos"][:2] for r in records]).reshape(-1, 2),
    )
    cameras = cameras_at_base(droid_cameras(config.camera_size), robot_base(align))
    return (cameras if config.exterior.mode == "droid" else with_exterior(cameras, chosen)), record


def add_background(
    ctx: StageContext,
    config: DomeConfig,
    spec: dict[str, Any],
    exterior: dict[str, Any],
    gaussians: GaussianSet | None,
) -> dict[str, Any]:
    """Paint the background dome around the workspace into the package (``spec`` becomes
    format version 2 with ``scene.background``); its summary."""
    rel = "backgrounds/dome.png"
    painted = dome_for_package(
        ctx.input(ALIGN_STAGE).model,
        ctx.input(FRAMES_STAGE).images,
        np.asarray(exterior["target"], float),
        np.asarray([exterior["pose"]["pos"]]),
        gaussians,
        config,
        ctx.out_dir / rel,
    )
    spec["format_version"] = 2
    spec["scene"]["background"] = {
        "image": rel,
        "centre": painted["centre"],
        "radius": painted["radius"],
    }
    return painted


def add_table_texture(
    ctx: StageContext,
    config: TableConfig,
    spec: dict[str, Any],
    table_outline: list[list[float]],
    gaussians: GaussianSet | None,
    poses: list[dict[str, Any]],
) -> dict[str, Any]:
    """Paint the table top's picture into the package (``spec`` becomes format version 2 with
    ``scene.table_texture``) and drop the static splats it replaces; its summary. ``poses``:
    the objects' as scanned."""
    root = PackageOutputs.at(ctx.out_dir).package
    views = load_views(
        ctx.input(ALIGN_STAGE).model, ctx.input(FRAMES_STAGE).images, config.image_width
    )
    standing = None
    if gaussians is not None:
        standing = gaussians.subset(gaussians.means[:, 2] > config.standing)
    solids = [
        trimesh.load(root / hull, force="mesh").vertices @ quat_to_mat(pose["quat"]).T
        + np.asarray(pose["pos"])
        for obj, pose in zip(spec["objects"], poses, strict=True)
        for hull in obj["collision_hulls"]
    ]
    bare = load_bare_views(ctx.input(BARE_STAGE), config.image_width)
    paint = paint_table(views, np.asarray(table_outline, float), config, standing, solids, bare)
    rel = "textures/table.png"
    write_picture(paint, root / rel)
    dropped = edge = 0
    if spec["scene"].get("splats"):
        path = root / spec["scene"]["splats"]
        static = read_ply(path)
        layer = table_layer(static, paint, config.standing)
        blur = edge_layer(static, np.asarray(table_outline, float), config) & ~layer
        write_ply(path, static.subset(~(layer | blur)))
        dropped, edge = int(layer.sum()), int(blur.sum())
    spec["format_version"] = 2
    spec["scene"]["table_texture"] = {"image": rel, "extent": list(paint.extent), "height": 0.0}
    return table_summary(paint, len(views), dropped, edge, len(bare))


def antialiased(summaries: dict[str, dict[str, Any]]) -> bool:
    """Whether the package is drawn through mip-splatting's 2D filter: splats trained through
    it are drawn as they were trained, and objects refined at the phone's resolution
    (Gaussians of a few mm, finer than a policy camera's pixel at 160x90) alias without it
    (the kitchen twin's locator proxy: Pearson 0.85 without, 0.985 with)."""
    refined = (summaries.get("objects", {}).get("refine") or {}).get("kept") == "refined"
    return bool(summaries.get("splats", {}).get("antialiased")) or refined


def run_package(ctx: StageContext, config: PackageConfig) -> dict[str, Any]:
    """Assemble, validate and preview the package in the stage's folder."""
    outputs = PackageOutputs.at(ctx.out_dir)
    root = outputs.package
    summaries = {name: read_summary(path) or {} for name, path in ctx.inputs.items()}
    records = summaries[OBJECTS_STAGE.name]["objects"]
    obj, container = choose_task(records, config.task)
    ctx.report(0.05, "copying meshes, hulls and splats")
    scene, objects = copy_assets(ctx.input(OBJECTS_STAGE), summaries[OBJECTS_STAGE.name], root)
    units = Units.from_align(summaries["align"]) or Units()
    conditions = candidate_conditions(config, records, objects, root, units.per_metre)
    outputs.provenance.parent.mkdir()
    outputs.provenance.write_text(json.dumps(summaries, indent=1, sort_keys=True, default=str))
    base = robot_base(summaries["align"])
    ctx.report(0.1, "placing the exterior camera")
    gaussians = package_gaussians(root, scene, objects, [r["pose"] for r in records])
    cameras, exterior = place_cameras(ctx, config, summaries["align"], records, gaussians)
    record = next(r for r in records if r["name"] == obj)
    rubric, instruction = task_rubric(record, container, config.task.instruction)
    spec = {
        "format_version": 1,
        "name": config.name,
        "instruction": instruction,
        "robot": {"base_pose": base},
        "cameras": cameras,
        "scene": scene,
        "objects": objects,
        "rubric": rubric,
        "initial_conditions": conditions[:1],
        "episode": {"control_hz": config.control_hz, "horizon_steps": config.horizon_steps},
        "provenance": provenance(ctx.scan, summaries),
    }
    if antialiased(summaries):
        spec["format_version"] = 2
        spec["render"] = {"antialiased": True}
    background = None
    if config.background is not None:
        ctx.report(0.2, "painting the background dome from the frames")
        background = add_background(ctx, config.background, spec, exterior, gaussians)
    table = None
    table_outline = summaries["align"].get("table_outline")
    if config.table is not None and table_outline:
        ctx.report(0.25, "painting the table top from the frames")
        poses = [r["pose"] for r in records]
        table = add_table_texture(
            ctx, config.table.in_units(units), spec, table_outline, gaussians, poses
        )
    ctx.report(0.3, "validating the package")
    draft = save_package(spec, root)
    found = interpenetrations(draft, conditions)
    if found[0]:
        raise ReconstructError(
            overlap_message(found[0], records, bool(config.initial_conditions)),
            field="initial_conditions[0]",
        )
    free = [not problems for problems in found]
    spec["initial_conditions"] = [c for c, ok in zip(conditions, free, strict=True) if ok]
    scored, unsettled = drop_unusable_starts(spec, root, [i for i, ok in enumerate(free) if ok])
    if scored:
        why = sorted({name for d in scored for name in d["reached_at_reset"]})
        ctx.report(0.35, f"dropped {len(scored)} initial conditions: {why} reached at reset")
    if unsettled:
        ctx.report(0.37, f"dropped {len(unsettled)} initial conditions that do not settle")
    package = save_package(spec, root)
    check_initial_conditions(build_scene(package), package)
    previews = []
    if config.previews:
        ctx.report(0.7, "rendering previews")
        previews = write_previews(package, root / "previews")
    write_top_down(root, records, objects, summaries["align"], outputs.top_down)
    return {
        "name": config.name,
        "objects": [o["name"] for o in records],
        "task": {"object": obj, "container": container, "instruction": spec["instruction"]},
        "initial_conditions": len(spec["initial_conditions"]),
        "rejected_initial_conditions": int(len(conditions) - sum(free)),
        "scored_at_reset_initial_conditions": scored,
        "unsettled_initial_conditions": unsettled,
        "previews": previews,
        "top_down": outputs.top_down.relative_to(root).as_posix(),
        "robot_base": summaries["align"]["robot_base"],
        "exterior_camera": exterior,
        "background": background,
        "table_texture": table,
        "scan_sha256": spec["provenance"]["source"].rsplit(":", 1)[1],
        "bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
    }


def publish_package(package_dir: Path, env_dir: Path) -> EnvPackage:
    """Copy the package stage's output into ``env_dir`` and load it validated.

    The old ``env.yaml`` goes first and the new one last (an atomic rename), so ``env_dir``
    is never a package whose files and ``env.yaml`` disagree.
    """
    if not PackageOutputs.at(package_dir).env.is_file():
        raise ReconstructError("the package stage has not finished; run it first", file=package_dir)
    env_dir.mkdir(parents=True, exist_ok=True)
    staging = env_dir / f".publish-{os.getpid()}"
    remove_tree(staging)
    shutil.copytree(package_dir, staging, ignore=shutil.ignore_patterns("summary.json"))
    (env_dir / ENV_FILE).unlink(missing_ok=True)
    for entry in sorted(staging.iterdir()):
        if entry.name != ENV_FILE:
            remove_tree(env_dir / entry.name)
            entry.rename(env_dir / entry.name)
    os.replace(staging / ENV_FILE, env_dir / ENV_FILE)
    remove_tree(staging)
    return load_package(env_dir)


STAGE = Stage(
    name="package",
    config_type=PackageConfig,
    run=run_package,
    inputs=("frames", "sfm", "align", "splats", "mesh", "objects", "bare"),
    version=6,  # 2: the start states that do not settle are dropped; 3: no pick-and-place
    # without a graspable object; 4: refined objects drawn antialiased; 5: the table's edge
    # blur dropped with the table's splats; 6: the table picture copies table into the
    # footprints, or paints them from the bare table's frames
    description="the environment package (env.yaml, meshes, hulls, splats, previews)",
    outputs_at=PackageOutputs.at,
)
