"""Build the bundled source world and its reconstructed twin.

    python -m reconstruct.synthetic.build                  # into sim_env/envs/
    python -m reconstruct.synthetic.build --world kitchen_source   # the second world
    python -m reconstruct.synthetic.build --quick --out /tmp/envs --work /tmp/build
    python -m reconstruct.synthetic.build --source sim_env/envs/tabletop_source --close-pass 14
    python -m reconstruct.synthetic.build --source sim_env/envs/tabletop_source --exterior-pass 8

1. write the source world package (``world``);
2. film it with the simulated phone (``scan``);
3. run the whole reconstruction (frames -> sfm -> align -> splats (cpu) -> mesh -> objects ->
   package) on the video; the objects file names the found objects after the source world's
   (by position), keeps its task and gives its initial conditions, so both packages share
   object names, rubric and initial conditions;
4. publish the twin and record ``build.json`` (accuracy against the source world, stage
   times) in it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct.align import AlignConfig
from reconstruct.background import DomeConfig
from reconstruct.bare_table import bare_config
from reconstruct.frames import FramesConfig
from reconstruct.mesh import MeshConfig
from reconstruct.object_edits import ConditionEdit, ObjectEdit, ObjectEdits, PoseEdit, TaskEdit
from reconstruct.objects import ObjectsConfig
from reconstruct.package import PackageConfig, publish_package
from reconstruct.sfm import SfmConfig
from reconstruct.splats import SplatsConfig
from reconstruct.stages import WORK_DIRNAME, run_pipeline
from reconstruct.synthetic.accuracy import bare_accuracy, camera_accuracy, centroid_errors
from reconstruct.synthetic.scan import ClosePass, ExteriorPass, ScanConfig, render_scan
from reconstruct.synthetic.spec import WORLDS, SourceObject, SourceWorldConfig
from reconstruct.synthetic.world import truth_centroids, write_source_world
from reconstruct.table_texture import TableConfig
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.init import InitConfig
from reconstruct.viewpoint import ExteriorChoice
from sim_env.cameras import quat_to_mat
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.package import EnvPackage, load_package

BUNDLED = Path(__file__).resolve().parents[2] / "sim_env" / "envs"
SCAN_KEY = "scan_key.json"  # in the work folder: what its scan was filmed from
BARE_SEED = 1000  # the bare table's video: the scan's seed plus this


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of the build, so a build is reproducible from this alone."""

    world: SourceWorldConfig = field(default_factory=SourceWorldConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    frames: FramesConfig = field(default_factory=lambda: FramesConfig(max_frames=70))
    sfm: SfmConfig = field(
        default_factory=lambda: SfmConfig(
            matching="sequential", sequential_overlap=6, keyframe_every=8, dense_max_images=0
        )
    )
    marker_size: float = 0.15
    splats: SplatsConfig = field(
        default_factory=lambda: SplatsConfig(
            image_width=240,
            max_gaussians=30_000,
            train=TrainConfig(
                iterations=1500,
                sh_degree_step=700,
                densify=DensifyConfig(start=150, stop=1100, every=100, max_gaussians=40_000),
                appearance_lr=0.01,  # the phone's exposure drift goes into per-frame maps
            ),
            # no table-plane seeds (the stage's real-photo default): SfM covers the synthetic
            # table, and 20k seeds took the objects' share of Gaussians (the red box's halved)
            init=InitConfig(opacity=0.3, table_points=0),
        )
    )
    mesh: MeshConfig = field(default_factory=MeshConfig)
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    # The bundled twin keeps DROID's fixed exterior camera and no background: the fidelity
    # study's numbers were measured with them.
    exterior_camera: str = "droid"
    background: bool = False
    table_texture: bool = False  # the table top from a picture painted from the frames
    bare: ScanConfig | None = None  # a second video, of the table with the objects taken off


def quick_config() -> BuildConfig:
    """A reduced build for the default test suite: a 7 s, 360 px video and a short training.

    Frames are picked every 2% of the image diagonal (up to all of the video's 70; at 3%, 55
    left the relit tray 2-3 cm off; the default 5% gives 28, ~12 degrees of orbit apart),
    each matched with its 4 successors: SfM then
    triangulates the objects' upper parts (points higher than 1.2 cm on the red box / the
    tray: 35 / 90, against 7 / 19 from 28 frames), which the splats start from and are
    depth-supervised at. Without them the objects come out short (the red box at half its
    height) and the tray's 4.5 cm walls 1-3 cm high and in pieces, which the objects stage
    takes for separate candidates: the tray is built from the two its edits point at, 4-9 cm
    off. Training longer (800 steps) or on 240 px images leaves its walls in pieces.
    """
    return BuildConfig(
        scan=ScanConfig(
            duration_s=7.0, fps=10.0, size=(360, 270), subframes=1, radius=0.5, height=0.4
        ),
        frames=FramesConfig(max_frames=70, step_motion=0.02),
        sfm=SfmConfig(
            matching="sequential", sequential_overlap=4, keyframe_every=10, dense_max_images=0
        ),
        splats=SplatsConfig(
            image_width=160,
            train=TrainConfig(
                iterations=400,
                sh_degree_step=200,
                densify=DensifyConfig(start=50, stop=300, every=50, max_gaussians=25_000),
            ),
            init=InitConfig(opacity=0.3, table_points=0),  # as the full build
        ),
        mesh=MeshConfig(image_width=200, max_views=28),
    )


def with_close_pass(config: BuildConfig, seconds: float) -> BuildConfig:
    """``config`` whose phone then films ``seconds`` closer and lower around the world's
    objects (``ClosePass``), with as many more frames picked and training steps taken as the
    video is longer: the orbit keeps its frames and each frame its share of the steps (with
    1500 steps over the 123 frames of a 14 s pass the objects gained and the table lost: the
    src-s3000 locator's errors on the twin's table rose from 2.2 / 2.3 to 3.8 / 3.9 cm)."""
    xy = np.array([o.scan_pose[:2] for o in config.world.objects])
    middle = (xy.min(axis=0) + xy.max(axis=0)) / 2
    close = ClosePass(duration_s=seconds, centre=(float(middle[0]), float(middle[1]), 0.03))
    return _with_scan(config, replace(config.scan, close=close))


def with_exterior_pass(config: BuildConfig, seconds: float, source: EnvPackage) -> BuildConfig:
    """``config`` whose phone then films ``seconds`` from around ``source``'s exterior camera
    (``ExteriorPass``: a user films from where the robot's camera will stand), aimed where that
    camera's optical axis meets the table; frames and steps grow with the video as for a close
    pass."""
    camera = next((c for c in source.spec.cameras if c.name == EXTERIOR_IMAGE), None)
    if camera is None or camera.parent != "world":
        raise ValueError(f"{source.root}: no world-fixed {EXTERIOR_IMAGE} camera to film from")
    eye = np.asarray(camera.pose.pos, float)
    forward = quat_to_mat(np.asarray(camera.pose.quat, float))[:, 2]  # OpenCV: +z looks
    if forward[2] >= 0 or eye[2] <= 0:
        raise ValueError(f"{source.root}: {EXTERIOR_IMAGE} does not look down at the table")
    target = eye + forward * (-eye[2] / forward[2])
    exterior = ExteriorPass(
        duration_s=seconds,
        eye=tuple(float(v) for v in eye),  # type: ignore[arg-type]
        target=tuple(float(v) for v in target),  # type: ignore[arg-type]
    )
    return _with_scan(config, replace(config.scan, exterior=exterior))


def with_bare_pass(config: BuildConfig, seconds: float) -> BuildConfig:
    """``config`` with a second video of ``seconds``: the phone films the table again after
    the objects were taken off, on another orbit (its own hand, started 40 degrees on)."""
    scan = config.scan
    bare = replace(
        scan, duration_s=seconds, seed=scan.seed + BARE_SEED, start_deg=scan.start_deg + 40.0,
        close=None, exterior=None,
    )  # fmt: skip
    return replace(config, bare=bare)


def _with_scan(config: BuildConfig, scan: ScanConfig) -> BuildConfig:
    """``config`` filming ``scan``, a longer video than its own: the orbit keeps its frames
    and each frame its share of the training steps."""
    longer = scan.total_s / config.scan.total_s
    frames = replace(config.frames, max_frames=round(config.frames.max_frames * longer))
    return replace(config, scan=scan, frames=frames, splats=_longer_training(config.splats, longer))


def _longer_training(splats: SplatsConfig, factor: float) -> SplatsConfig:
    """``splats`` with its step schedule (steps, SH switch, densification) ``factor`` x longer."""
    train, densify = splats.train, splats.train.densify
    steps = {k: round(getattr(densify, k) * factor) for k in ("start", "stop", "every")}
    train = replace(
        train,
        iterations=round(train.iterations * factor),
        sh_degree_step=round(train.sh_degree_step * factor),
        densify=replace(densify, **steps),
    )
    return replace(splats, train=train)


def edits_from_world(
    world: SourceWorldConfig, package: EnvPackage
) -> tuple[ObjectEdits, TaskEdit, tuple[ConditionEdit, ...]]:
    """The objects file a user would write for the source world: its names (pointing at the
    middle and four inner points of each object, so a container whose walls came out in
    pieces is merged back), no other candidates, its task and its initial conditions."""
    objects = tuple(ObjectEdit(o.name, at=pointers(o)) for o in world.objects)
    conditions = tuple(
        ConditionEdit(
            tuple(PoseEdit(name, tuple(p.pos), tuple(p.quat)) for name, p in ic.objects.items()),
            tuple(ic.arm_qpos),
            ic.gripper,
        )
        for ic in package.spec.initial_conditions
    )
    task = TaskEdit(*world.task, world.instruction)
    return ObjectEdits(objects, keep_unlisted=False), task, conditions


def pointers(obj: SourceObject) -> tuple[tuple[float, float], ...]:
    """World (x, y) of an object's middle, of four points 35% of its size out from it along
    its sides and of four 35% out towards its corners (a container's corners come out as
    separate pieces in the reduced build: without them the tray was 1.2-3.4 cm off)."""
    x, y, yaw = obj.scan_pose
    c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    half = 0.35 * np.array(obj.size[:2]) * (1 if obj.kind != "can" else 0.5)
    offsets = [(0.0, 0.0), (half[0], 0.0), (-half[0], 0.0), (0.0, half[1]), (0.0, -half[1])]
    offsets += [(sx * half[0], sy * half[1]) for sx in (1, -1) for sy in (1, -1)]
    return tuple((float(x + c * dx - s * dy), float(y + s * dx + c * dy)) for dx, dy in offsets)


def stage_configs(
    config: BuildConfig, source: EnvPackage, bare: Path | None = None
) -> dict[str, object]:
    """The pipeline's configs; ``bare``: the bare table's video."""
    edits, task, conditions = edits_from_world(config.world, source)
    return {
        "frames": config.frames,
        "sfm": config.sfm,
        "align": AlignConfig(marker_size=config.marker_size),
        "splats": config.splats,
        "mesh": config.mesh,
        "objects": replace(config.objects, edits=edits),
        "package": PackageConfig(
            name=config.world.twin,
            task=task,
            initial_conditions=conditions,
            exterior=ExteriorChoice.parse(config.exterior_camera),
            background=DomeConfig() if config.background else None,
            table=TableConfig() if config.table_texture else None,
        ),
        "bare": bare_config(bare),
    }


def scan_key(scan: ScanConfig, source: EnvPackage) -> dict[str, Any]:
    """What a scan video depends on: the phone's settings and the world filmed."""
    settings = {k: v for k, v in asdict(scan).items() if v is not None}  # unset: as before
    return {"scan": json.loads(json.dumps(settings)), "source": source.content_hash}


def scan_is_current(work: Path, scan: ScanConfig, source: EnvPackage, stem: str = "scan") -> bool:
    """True when ``work`` holds a scan (video and truth) of ``source`` filmed with ``scan``:
    a rebuild in the same work folder then resumes, as the stages do (a change to the objects
    stage reruns it in seconds, not the 25 min build). ``stem``: the video's (``bare``: the
    bare table's)."""
    files = (work / f"{stem}.mp4", work / f"{stem}_truth.json", work / f"{stem}_key.json")
    if not all(f.is_file() for f in files):
        return False
    try:
        recorded = json.loads(files[2].read_text())
    except ValueError:
        return False
    return recorded == scan_key(scan, source)


def film(source: EnvPackage, scan: ScanConfig, work: Path, stem: str) -> bool:
    """Film ``work/<stem>.mp4`` (and its truth) unless it is current; whether it was
    (``stem`` "bare": the table with the objects taken off)."""
    if scan_is_current(work, scan, source, stem):
        return True
    truth = render_scan(source, scan, work / f"{stem}.mp4", bare=stem == "bare")
    truth.save(work / f"{stem}_truth.json", scan)
    (work / f"{stem}_key.json").write_text(json.dumps(scan_key(scan, source)))
    return False


def source_world(world: SourceWorldConfig, out: Path, existing: Path | None) -> EnvPackage:
    """The world to film: ``existing`` as it is, or a fresh one written to ``out/<name>``."""
    if existing is not None:
        package = load_package(existing)
        if package.spec.name != world.name:
            raise ValueError(
                f"{existing}: the package is {package.spec.name!r}, the build's world "
                f"{world.name!r} (its objects and truth are the build's)"
            )
        return package
    folder = out / world.name
    shutil.rmtree(folder, ignore_errors=True)
    return write_source_world(folder, world)


def build(
    config: BuildConfig, out: Path, work: Path, source_dir: Path | None = None
) -> dict[str, Any]:
    """Write ``out/<source>`` and ``out/<twin>``; intermediate files go to ``work``.

    ``source_dir``: film this existing source world instead of writing one (the bundled
    world's textures crop photographs, whose decoding may differ from when it was written:
    a twin must be of the world it is compared with).

    Returns the build record (also written as ``build.json`` in the twin).
    """
    started = time.monotonic()
    twin_dir = out / config.world.twin
    shutil.rmtree(twin_dir, ignore_errors=True)
    source = source_world(config.world, out, source_dir)
    source_dir = source.root
    work.mkdir(parents=True, exist_ok=True)
    video, truth_file = work / "scan.mp4", work / "scan_truth.json"
    scan_started = time.monotonic()
    filmed = film(source, config.scan, work, "scan")
    bare = None
    if config.bare is not None:
        film(source, config.bare, work, "bare")
        bare = work / "bare.mp4"
    scan_seconds = time.monotonic() - scan_started
    results = run_pipeline(
        video, work / "env", configs=stage_configs(config, source, bare), show_progress=False
    )
    twin = publish_package(results[-1].out_dir, twin_dir)
    summaries = {r.name: r.summary for r in results}
    objects = {o["name"]: np.asarray(o["centroid_m"]) for o in summaries["objects"]["objects"]}
    truth = truth_centroids(config.world)
    splats = summaries["splats"]
    record = {
        "source": config.world.name,
        "twin": config.world.twin,
        "accuracy": {
            **camera_accuracy(work / "env" / WORK_DIRNAME, truth_file),
            **(
                bare_accuracy(work / "env" / WORK_DIRNAME, truth_file, work / "bare_truth.json")
                if bare is not None
                else {}
            ),
            "centroid_error_m": centroid_errors(objects, truth),
            "centroid_xy_error_m": centroid_errors(objects, truth, dims=2),
        },
        "splats": {
            k: splats[k]
            for k in ("psnr", "ssim", "psnr_init", "ssim_init", "gaussians", "image_size")
        },
        "seconds": {"scan": round(scan_seconds, 2), **{r.name: r.seconds for r in results}},
        "resumed": (["scan"] if filmed else [])
        + [r.name for r in results if r.status == "skipped"],
        "stage_seconds_when_run": {
            r.name: r.summary.get("run", {}).get("seconds") for r in results
        },
        "total_seconds": round(time.monotonic() - started, 1),
        "config": asdict(config),
    }
    (twin_dir / "build.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    record["packages"] = [str(source_dir), str(twin.root)]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BUNDLED, help="where the two packages go")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep the scan and stages here (a later build with it resumes: unchanged stages skip)",
    )
    parser.add_argument("--quick", action="store_true", help="the reduced test build")
    parser.add_argument(
        "--source", type=Path, default=None, help="film this source world package (not rewritten)"
    )
    parser.add_argument(
        "--world",
        choices=sorted(WORLDS),
        help="the source world (default: --source's name, else tabletop_source)",
    )
    parser.add_argument(
        "--close-pass",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the orbit, film the objects this long closer and lower (default: none)",
    )
    parser.add_argument(
        "--exterior-pass",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="last, film this long from around the exterior camera's pose (default: none)",
    )
    parser.add_argument(
        "--bare-pass",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="film a second video this long of the table with the objects taken off "
        "(reconstruct's --bare-table; default: none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the splats training's seed")
    parser.add_argument(
        "--table-seeds",
        type=int,
        default=0,
        metavar="N",
        help="start the splats from N more Gaussians on the table plane (the real-photo "
        "default is 20,000; none by default here, see BuildConfig)",
    )
    parser.add_argument(
        "--mip",
        action="store_true",
        help="train through mip-splatting's 3D and 2D filters; the twin renders antialiased",
    )
    parser.add_argument(
        "--refine-objects",
        type=int,
        default=0,
        metavar="STEPS",
        help="train each object's splats again on full-resolution crops (objects stage)",
    )
    parser.add_argument(
        "--table-texture",
        action="store_true",
        help="draw the twin's table top from a picture painted from the frames "
        "(scene.table_texture)",
    )
    args = parser.parse_args()
    if args.table_seeds < 0 or args.refine_objects < 0:
        parser.error("--table-seeds and --refine-objects take a count >= 0")
    for flag in ("close_pass", "exterior_pass", "bare_pass"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: seconds >= 0")
    filmed = load_package(args.source).spec.name if args.source else None
    name = args.world or filmed or "tabletop_source"
    if name not in WORLDS or filmed not in (None, name):
        parser.error(f"--source {args.source} is {filmed!r}: name one of {sorted(WORLDS)}")
    config = replace(quick_config() if args.quick else BuildConfig(), world=WORLDS[name])
    if args.close_pass > 0:
        config = with_close_pass(config, args.close_pass)
    if args.exterior_pass > 0:
        if args.source is None:
            parser.error("--exterior-pass needs --source (the world whose exterior camera)")
        config = with_exterior_pass(config, args.exterior_pass, load_package(args.source))
    if args.bare_pass > 0:
        config = with_bare_pass(config, args.bare_pass)
    if args.seed:
        train = replace(config.splats.train, seed=args.seed)
        config = replace(config, splats=replace(config.splats, train=train))
    if args.mip:
        config = replace(config, splats=config.splats.with_mip())
    if args.refine_objects:
        refine = replace(config.objects.refine, steps=args.refine_objects)
        config = replace(config, objects=replace(config.objects, refine=refine))
    if args.table_texture:
        config = replace(config, table_texture=True)
    if args.table_seeds:
        init = replace(config.splats.init, table_points=args.table_seeds)
        config = replace(config, splats=replace(config.splats, init=init))
    with tempfile.TemporaryDirectory() as tmp:
        record = build(config, args.out, args.work or Path(tmp), args.source)
    print(
        json.dumps(
            {k: record[k] for k in ("accuracy", "splats", "seconds", "packages")},
            indent=1,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
