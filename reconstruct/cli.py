"""``twinbench reconstruct``: run the reconstruction stages on a scan, resumably.

Heavy imports (pycolmap, OpenCV, PyAV) stay inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from reconstruct.errors import ReconstructError

reconstruct_app = typer.Typer(
    help="Turn a phone video or photos of a table into a simulated twin, stage by stage.",
    no_args_is_help=True,
)


def _list_stages(value: bool) -> None:
    if value:
        from reconstruct.stages import PIPELINE

        for stage in PIPELINE:
            typer.echo(f"{stage.name:<8} {stage.description}")
        raise typer.Exit()


def check_scan(scan: Path) -> list[str] | None:
    """Refuse a scan that cannot work before any stage runs: a missing path, a folder without
    enough photos, an empty or unknown file. Returns the photos' names (None for a video)."""
    from reconstruct.frames import MIN_FRAMES, VIDEO_SUFFIXES
    from reconstruct.photos import PHOTO_SUFFIXES, list_photos

    if not scan.exists():
        raise ReconstructError(
            "the scan does not exist; give a video (mp4/mov) or a folder of photos (jpg/png)",
            file=scan,
        )
    if scan.is_dir():
        photos = list_photos(scan)
        if len(photos) < MIN_FRAMES:
            raise ReconstructError(
                f"found {len(photos)} photo(s) ({', '.join(sorted(PHOTO_SUFFIXES))}) in this "
                f"folder; at least {MIN_FRAMES} overlapping views are needed, 20-50 are better",
                file=scan,
            )
        return [p.name for p in photos]
    if scan.suffix.lower() not in VIDEO_SUFFIXES:
        accepted = ", ".join(sorted(VIDEO_SUFFIXES | PHOTO_SUFFIXES))
        raise ReconstructError(
            f"unsupported scan type '{scan.suffix}'; give a video or a folder of photos "
            f"({accepted})",
            file=scan,
        )
    if scan.stat().st_size == 0:
        raise ReconstructError("the video is empty (0 bytes); copy it again", file=scan)
    return None


def check_scan_decodes(scan: Path, photos: list[str] | None) -> None:
    """Refuse a scan whose files are not what their names say (a photo that is no image, a
    video that is no video) by reading their headers, before any stage runs."""
    from reconstruct.photos import check_photo
    from reconstruct.video import check_video

    if photos is None:
        check_video(scan)
    for name in photos or ():
        check_photo(scan / name)


def check_output(env_dir: Path) -> None:
    """The environment folder must be a folder (or not exist yet), not a file or under one."""
    for path in (env_dir, *env_dir.parents):
        if path.exists() and not path.is_dir():
            where = "is" if path == env_dir else f"is under {path}, which is"
            raise ReconstructError(
                f"{where} a file, not a folder; give -o a new or existing environment folder",
                file=env_dir,
            )


def check_frame_name(name: str, photos: list[str] | None, option: str) -> None:
    """A frame named on the command line must be one of the photos (or, for a video, a
    ``frame_NNNNN.jpg`` the frames stage writes)."""
    import re

    if photos is None:
        if not re.fullmatch(r"frame_\d{5}\.jpg", name):
            raise ReconstructError(
                f"{name!r} is not a video frame's name: the frames stage names them "
                "frame_NNNNN.jpg (run --until frames and look in work/frames/images)",
                field=option,
            )
    elif name not in photos:
        shown = ", ".join(photos[:5]) + (", ..." if len(photos) > 5 else "")
        raise ReconstructError(f"{name!r} is not one of the photos ({shown})", field=option)


@reconstruct_app.command()
def reconstruct_command(
    scan: Path = typer.Argument(
        ..., help="A video (mp4/mov) or a folder of photos (jpg/png/heic)."
    ),
    env_dir: Path = typer.Option(
        ..., "--output", "-o", help="Environment package folder (stages cached in ENV_DIR/work)."
    ),
    until: str | None = typer.Option(None, help="Last stage to run (default: all)."),
    max_frames: int = typer.Option(150, help="At most this many frames from a video."),
    max_image_size: int = typer.Option(
        0,
        help="Longest side (px) the frames and photos are worked at; 0 picks it from the "
        "memory available (1920 with 4 GB free). Lower it if SfM runs out of memory.",
    ),
    max_features: int = typer.Option(
        8192, help="SIFT keypoints kept per image (SfM's time grows with it)."
    ),
    distance: tuple[str, str, float] | None = typer.Option(
        None, help="FRAME_A FRAME_B METRES: measured distance between two frames' camera positions."
    ),
    object_height: float | None = typer.Option(
        None, help="Height of the tallest object standing on the table, in metres."
    ),
    table_height: float | None = typer.Option(
        None, help="Height of the table top above the floor (film the floor too), in metres."
    ),
    marker_size: float | None = typer.Option(
        None, help="Side of the printed ArUco marker's black square, in metres."
    ),
    marker_id: int = typer.Option(0, help="The marker's id."),
    marker_dict: str = typer.Option("DICT_4X4_50", help="The marker's OpenCV ArUco dictionary."),
    scale: float | None = typer.Option(
        None, help="Metres per SfM unit, given outright (1 keeps SfM units, not metric)."
    ),
    base: tuple[float, float, float] | None = typer.Option(
        None,
        help="X Y YAW: the robot base on the table (metres, degrees; read them off "
        "work/align/top_down.png). Default: the marker, else the table edge facing the cameras.",
    ),
    table_hint: tuple[str, float, float] | None = typer.Option(
        None, help="FRAME X Y: a pixel of that frame showing the table, if another plane wins."
    ),
    plane_threshold: float = typer.Option(
        0.01, help="Table-plane inlier distance, as a fraction of the camera-to-scene distance."
    ),
    progress: bool = typer.Option(
        True, help="Show progress: bars on a terminal, a line per tenth of a stage in a log."
    ),
    trainer: str = typer.Option(
        "cpu", help="Splat trainer: gsplat (CUDA), cpu (small images) or nerfstudio-import."
    ),
    splat_steps: int | None = typer.Option(
        None,
        help="Splat training steps (default 1500: ~15 min on 2 CPU cores at 456 px; fewer for a "
        "quick look, the schedule scales with them).",
    ),
    splat_width: int | None = typer.Option(
        None, help="Splat training and evaluation width, px (default 456)."
    ),
    mip: bool = typer.Option(
        False,
        help="Train the splats through mip-splatting's 3D and 2D filters and render them "
        "antialiased (keeps their look below the training resolution; on the bundled twins it "
        "moved the policies' object locators further off, see benchmarks/FIDELITY.md).",
    ),
    refine_objects: int = typer.Option(
        3000,
        min=0,
        help="Train each found object's splats again for this many steps on crops of the frames "
        "at twice the splats' width (3,000: 4-5 min on 2 CPU cores), then shape its solid from "
        "them and draw the package antialiased. On the kitchen twin the boxes and the crate came "
        "out within 0.5 cm of their true size (fused depth alone: 1-5 cm too wide) and the policies' "
        "locators ranked it at Pearson 0.98 instead of 0.95. Where held-out crops lose, the "
        "objects are kept as trained (see benchmarks/FIDELITY.md). 0: off.",
    ),
    ns_ply: Path | None = typer.Option(None, help="nerfstudio-import: the ns-export splat PLY."),
    ns_dataparser: Path | None = typer.Option(
        None, help="nerfstudio-import: its dataparser_transforms.json."
    ),
    ns_transforms: Path | None = typer.Option(
        None, help="nerfstudio-import: the transforms.json it trained on (recommended)."
    ),
    objects: Path | None = typer.Option(
        None, help="YAML naming, merging or dropping the found objects; task, initial conditions."
    ),
    exterior_camera: str = typer.Option(
        "auto",
        help="Where the exterior camera stands: auto (fitted to the capture's viewpoints), "
        "droid (DROID's fixed pose beside the robot), a frame's name (its pose), or "
        "EX,EY,EZ:TX,TY,TZ (eye and target in the table frame).",
    ),
    background: bool = typer.Option(
        True, help="Paint a background dome from the frames, seen where the splats are not."
    ),
    table_texture: bool = typer.Option(
        True,
        help="Draw the table top from a picture painted from the frames (sharper than its "
        "splats); --no-table-texture keeps the table as splats.",
    ),
    bare_table: Path | None = typer.Option(
        None,
        "--bare-table",
        help="A video (or a folder of photos) of the same table with the objects taken off, "
        "filmed after the scan: the table picture shows what they hid instead of a copy of "
        "the table beside them.",
    ),
    list_stages: bool = typer.Option(
        False,
        "--list-stages",
        callback=_list_stages,
        is_eager=True,
        help="List the stages and exit.",
    ),
) -> None:
    """Reconstruct SCAN into an environment package, stage by stage (each cached in
    ENV_DIR/work/STAGE and skipped when its inputs and settings did not change). No marker
    is needed: give the scale by --distance, --object-height or --table-height.

    Example: twinbench reconstruct photos/ -o envs/mytable --object-height 0.21
    """
    from dataclasses import replace

    from reconstruct.align import AlignConfig, KnownDistance, TableHint, no_scale_error
    from reconstruct.frames import FramesConfig
    from reconstruct.gravity import PlaneSearch
    from reconstruct.placement import BasePose
    from reconstruct.sfm import SfmConfig
    from reconstruct.stages import get_stage, run_pipeline, stage_names

    names = stage_names()
    last = get_stage(until).name if until is not None else names[-1]
    photos = check_scan(scan)
    check_output(env_dir)
    bare = _bare_table(bare_table, table_texture)
    align = AlignConfig(
        marker_size=marker_size,
        marker_id=marker_id,
        marker_dictionary=marker_dict,
        distance=None if distance is None else KnownDistance(*distance),
        object_height=object_height,
        table_height=table_height,
        scale=scale,
        base=None if base is None else BasePose(*base),
        table_hint=None if table_hint is None else TableHint(*table_hint),
        plane=PlaneSearch(threshold=plane_threshold),
    )
    if names.index(last) >= names.index("align"):
        if align.scale_source is None:
            raise no_scale_error()
        named = [(n, "align.distance") for n in (distance or ())[:2]]
        named += [(n, "align.table_hint") for n in (table_hint or ())[:1]]
        for name, option in named:
            check_frame_name(str(name), photos, option)
    exterior = _exterior_choice(exterior_camera, photos)
    check_scan_decodes(scan, photos)
    sized = {"max_image_size": max_image_size} if max_image_size else {}
    configs = {
        "frames": FramesConfig(max_frames=max_frames, max_image_size=max_image_size),
        "sfm": SfmConfig(max_features=max_features, dense_features=max_features, **sized),
        "align": align,
    }
    configs.update(_twin_configs(env_dir, trainer, ns_ply, ns_dataparser, ns_transforms, objects))
    if splat_width is not None:
        configs["splats"] = replace(configs["splats"], image_width=splat_width)
    if splat_steps is not None:
        configs["splats"] = configs["splats"].with_steps(splat_steps)
    if mip:
        configs["splats"] = configs["splats"].with_mip()
    if refine_objects:
        objects_config = configs["objects"]
        refine = replace(objects_config.refine, steps=refine_objects)
        configs["objects"] = replace(objects_config, refine=refine)
    dome = configs["package"].background if background else None
    table = configs["package"].table if table_texture else None
    configs["package"] = replace(
        configs["package"], exterior=exterior, background=dome, table=table
    )
    if bare is not None:
        configs["bare"] = bare
    results = run_pipeline(scan, env_dir, until=last, configs=configs, show_progress=progress)
    for result in results:
        typer.echo(f"{result.name:<8} {result.status:<8} {result.seconds:8.1f} s  {result.out_dir}")
    done = {result.name: result for result in results}
    if "align" in done:
        from reconstruct.align import AlignOutputs

        _echo_base(done["align"].summary, AlignOutputs.at(done["align"].out_dir).top_down)
    if last == "package":
        from reconstruct.package import PackageOutputs, publish_package

        package = publish_package(results[-1].out_dir, env_dir)
        typer.echo(f"package  {package.name} written to {package.root}")
        _echo_cameras(results[-1].summary)
        picture = PackageOutputs.at(package.root).top_down
        typer.echo(f"top-down {picture}")


def _bare_table(path: Path | None, table_texture: bool):
    """``--bare-table`` checked: it exists and there is a table picture to paint it into."""
    if path is None:
        return None
    from reconstruct.bare_table import bare_config

    if not table_texture:
        raise typer.BadParameter(
            "the bare table is painted into the table's picture: drop --no-table-texture",
            param_hint="--bare-table",
        )
    return bare_config(path)


def _exterior_choice(text: str, photos: list[str] | None):
    """``--exterior-camera`` parsed, a frame's name checked against the scan."""
    from reconstruct.viewpoint import ExteriorChoice

    choice = ExteriorChoice.parse(text)
    if choice.mode == "frame":
        check_frame_name(choice.frame, photos, "package.exterior_camera")
    return choice


def _echo_cameras(summary: dict) -> None:
    """Say which exterior camera was chosen, how much of its view the scan covers, and the
    background."""
    exterior = summary.get("exterior_camera") or {}
    if exterior:
        cover = exterior.get("coverage")
        shown = "n/a" if cover is None else f"{cover:.0%} of its pixels show the scan"
        typer.echo(
            f"camera   exterior: {exterior['chosen']} ({exterior['mode']}), coverage {shown}; "
            "change it with --exterior-camera"
        )
    dome = summary.get("background")
    if dome:
        typer.echo(
            f"backdrop painted from {dome['views']} frames, {dome['seen']:.0%} of the dome seen "
            "(previews/background.png)"
        )
    table = summary.get("table_texture")
    if table:
        cols, rows = table["size_px"]
        bare = (
            f", {table['bare']:.0%} from {table['bare_views']} bare-table frames"
            if table.get("bare_views")
            else ""
        )
        typer.echo(
            f"table    painted from {table['views']} frames into {cols}x{rows} px, "
            f"{table['seen']:.0%} of it seen{bare} (the rest filled)"
        )


def _echo_base(summary: dict, picture: Path) -> None:
    """Say where the robot base is and where the picture of it is."""
    base = summary.get("robot_base") or {}
    if "position_m" not in base:
        return
    x, y = base["position_m"][:2]
    unit = "m" if summary.get("metric", True) else "world units"
    typer.echo(
        f"robot    base x={x:.3f} y={y:.3f} {unit}, yaw={base['yaw_deg']:.1f} deg "
        f"({base.get('source')}: {base.get('note')}); change it with --base X Y YAW"
    )
    typer.echo(f"top-down {picture}")


def _twin_configs(
    env_dir: Path,
    trainer: str,
    ns_ply: Path | None,
    ns_dataparser: Path | None,
    ns_transforms: Path | None,
    objects: Path | None,
) -> dict[str, object]:
    """The splats, objects and package stages' settings from the command line."""
    import re
    from dataclasses import replace

    from reconstruct.object_edits import load_objects_yaml
    from reconstruct.objects import ObjectsConfig
    from reconstruct.package import PackageConfig
    from reconstruct.splats import SplatsConfig
    from twinbench.digests import file_digest, text_digest

    imported = [p for p in (ns_ply, ns_dataparser, ns_transforms) if p is not None]
    for path in imported:
        if not path.is_file():
            raise ReconstructError("file not found", file=path, field="splats")
    splats = SplatsConfig(
        trainer=trainer,
        import_ply=str(ns_ply or ""),
        dataparser_transforms=str(ns_dataparser or ""),
        transforms=str(ns_transforms or ""),
        import_digest=text_digest(*(file_digest(p) for p in imported)),
    )
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", env_dir.resolve().name).lstrip("_-0123456789") or "twin"
    package = PackageConfig(name=name)
    objects_config = ObjectsConfig()
    if objects is not None:
        edits, task, conditions = load_objects_yaml(objects)
        objects_config = replace(objects_config, edits=edits)
        package = replace(package, task=task, initial_conditions=conditions)
    return {"splats": splats, "objects": objects_config, "package": package}
