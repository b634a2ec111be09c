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


@reconstruct_app.command()
def reconstruct_command(
    scan: Path = typer.Argument(..., help="A video (mp4/mov) or a folder of photos (jpg/png)."),
    env_dir: Path = typer.Option(
        ..., "--output", "-o", help="Environment package folder (stages cached in ENV_DIR/work)."
    ),
    until: str | None = typer.Option(None, help="Last stage to run (default: all)."),
    max_frames: int = typer.Option(150, help="At most this many frames from a video."),
    marker_size: float | None = typer.Option(
        None, help="Side of the printed ArUco marker's black square, in metres."
    ),
    marker_id: int = typer.Option(0, help="The marker's id."),
    marker_dict: str = typer.Option("DICT_4X4_50", help="The marker's OpenCV ArUco dictionary."),
    distance: tuple[str, str, float] | None = typer.Option(
        None, help="FRAME_A FRAME_B METRES: measured distance between two frames' camera positions."
    ),
    scale: float | None = typer.Option(
        None, help="Metres per SfM unit, given outright (1 keeps SfM units, not metric)."
    ),
    progress: bool = typer.Option(True, help="Show the progress display."),
    trainer: str = typer.Option(
        "cpu", help="Splat trainer: gsplat (CUDA), cpu (small images) or nerfstudio-import."
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
    list_stages: bool = typer.Option(
        False,
        "--list-stages",
        callback=_list_stages,
        is_eager=True,
        help="List the stages and exit.",
    ),
) -> None:
    """Reconstruct SCAN into an environment package, stage by stage (each cached in
    ENV_DIR/work/STAGE and skipped when its inputs and settings did not change).

    Example: twinbench reconstruct scan.mp4 -o envs/mytable --marker-size 0.1
    """
    from reconstruct.align import AlignConfig, KnownDistance
    from reconstruct.frames import FramesConfig
    from reconstruct.stages import get_stage, run_pipeline, stage_names

    names = stage_names()
    last = get_stage(until).name if until is not None else names[-1]
    needs_scale = names.index(last) >= names.index("align")
    if needs_scale and marker_size is None and distance is None and scale is None:
        raise ReconstructError(
            "the align stage needs a metric scale: pass --marker-size M (a printed ArUco marker "
            "seen in several frames), --distance FRAME_A FRAME_B METRES, or --scale 1 to keep "
            "SfM units",
            field="align",
        )
    known = None if distance is None else KnownDistance(distance[0], distance[1], distance[2])
    configs = {
        "frames": FramesConfig(max_frames=max_frames),
        "align": AlignConfig(
            marker_size=marker_size,
            marker_id=marker_id,
            marker_dictionary=marker_dict,
            distance=known,
            scale=scale,
        ),
    }
    configs.update(_twin_configs(env_dir, trainer, ns_ply, ns_dataparser, ns_transforms, objects))
    results = run_pipeline(scan, env_dir, until=last, configs=configs, show_progress=progress)
    for result in results:
        typer.echo(f"{result.name:<8} {result.status:<8} {result.seconds:8.1f} s  {result.out_dir}")
    if last == "package":
        from reconstruct.package import publish_package

        package = publish_package(results[-1].out_dir, env_dir)
        typer.echo(f"package  {package.name} written to {package.root}")


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
    from reconstruct.stage import file_digest, text_digest

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
