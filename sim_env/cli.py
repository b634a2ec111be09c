"""``twinbench env``: list, validate, inspect, render and edit environment packages."""

from __future__ import annotations

from pathlib import Path

import typer

env_app = typer.Typer(
    help="Environment packages: list, validate, inspect, render, edit.", no_args_is_help=True
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ENV_ARG = typer.Argument(
    ..., help="A package directory or an environment id (see 'twinbench env list')."
)


@env_app.command("list")
def list_command() -> None:
    """List bundled and user environments: id and path, one per line.

    User packages are looked up in $TWINBENCH_ENV_PATH (':'-separated) and ./envs.

    Example: twinbench env list
    """
    from sim_env.registry import list_envs

    for entry in list_envs():
        typer.echo(f"{entry.id}\t{entry.path}")


def _load_full(env: str):
    from sim_env.package import load_package
    from sim_env.registry import resolve_env
    from sim_env.scene import build_scene, check_initial_conditions

    package = load_package(resolve_env(env))
    scene = build_scene(package)
    check_initial_conditions(scene, package)
    return package, scene


@env_app.command("validate")
def validate_command(
    env: str = ENV_ARG,
    deep: bool = typer.Option(
        False,
        "--deep",
        help="Also simulate and render it: every initial condition settles without "
        "interpenetration, every camera renders a picture, the rubric scores 0 at reset.",
    ),
) -> None:
    """Check a package completely: schema, files and hashes, meshes, hulls, physics, initial conditions.

    Example: twinbench env validate envs/mytable --deep
    """
    package, _ = _load_full(env)
    if deep:
        from sim_env.errors import EnvPackageError
        from sim_env.invariants import invariant_violations

        problems = invariant_violations(package)
        if problems:
            raise EnvPackageError("; ".join(problems), file=package.root)
    checked = "simulated and rendered" if deep else "valid"
    version = package.spec.format_version
    typer.echo(
        f"ok: {package.name} ({package.root}) is a {checked} environment package, format v{version}"
    )


@env_app.command("info")
def info_command(env: str = ENV_ARG) -> None:
    """Summarise a package: instruction, cameras, objects, rubric, initial conditions, provenance.

    Example: twinbench env info primitive_cube_bowl
    """
    from rich.console import Console
    from rich.table import Table

    package, scene = _load_full(env)
    spec = package.spec
    console = Console()
    console.print(f"[bold]{spec.name}[/bold]  {package.root}")
    console.print(f"instruction: {spec.instruction!r}")
    console.print(
        f"episode: {spec.episode.horizon_steps} steps at {spec.episode.control_hz:g} Hz; "
        f"{len(spec.initial_conditions)} initial conditions; content hash {package.content_hash[:12]}"
    )
    cameras = Table("camera", "parent", "size", "fx", "fy", title="cameras")
    for c in spec.cameras:
        cameras.add_row(c.name, c.parent, f"{c.width}x{c.height}", f"{c.fx:.1f}", f"{c.fy:.1f}")
    console.print(cameras)
    objects = Table("object", "mass (kg)", "hulls", "splats", title="objects")
    for o in spec.objects:
        body_mass = scene.model.body_mass[
            next(x.body_id for x in scene.objects if x.name == o.name)
        ]
        objects.add_row(o.name, f"{body_mass:.3f}", str(len(o.collision_hulls)), o.splats or "-")
    console.print(objects)
    rubric = Table("criterion", "kind", "params", "requires", title="rubric")
    for c in spec.rubric.criteria:
        rubric.add_row(c.name, c.kind, str(c.params), ", ".join(c.requires) or "-")
    console.print(rubric)
    p = spec.provenance
    console.print(
        f"provenance: {p.created_by}, {p.created_at}, {p.software_version}, source {p.source or '-'}"
    )


@env_app.command("render")
def render_command(
    env: str = ENV_ARG,
    output: Path = typer.Option(..., "--output", "-o", help="Image file to write (.png, .jpg)."),
    initial_condition: int = typer.Option(
        0, "--initial-condition", "-i", help="Which initial condition."
    ),
    size: str = typer.Option(
        "", help="Render every camera at WIDTHxHEIGHT (default: each camera's own)."
    ),
    renderer: str = typer.Option("auto", help="auto, mujoco or splats."),
) -> None:
    """Render all cameras side by side at an initial condition.

    Example: twinbench env render primitive_cube_bowl -o preview.png --size 320x180
    """
    import numpy as np
    from PIL import Image

    from sim_env.errors import SimEnvError
    from sim_env.images import ImageSize
    from sim_env.registry import resolve_env

    if output.is_dir():
        raise SimEnvError("is a directory; give the image file to write", file=output)
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise SimEnvError(
            f"unknown image type {output.suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}",
            file=output,
            field="--output",
        )
    image_size = ImageSize.parse(size, field="--size") if size else None
    shown = _camera_images(resolve_env(env), initial_condition, image_size, renderer)
    images = list(shown.values())
    height = max(im.shape[0] for im in images)
    row = np.concatenate(
        [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in images], axis=1
    )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(row).save(output)
    except OSError as exc:  # a folder that cannot hold files (/proc), no space, no permission
        raise SimEnvError(f"cannot write the image: {exc.strerror or exc}", file=output) from None
    typer.echo(f"wrote {output} ({', '.join(shown)})")


def _camera_images(
    root: Path, initial_condition: int = 0, image_size=None, renderer: str = "auto"
) -> dict:
    """Every camera's picture (uint8 [H, W, 3] by name) at an initial condition, rendered as
    evaluations see it."""
    from sim_env.env import EnvConfig, TwinEnv

    env = TwinEnv(root, EnvConfig(image_size=image_size, renderer=renderer))
    try:
        env.reset(options={"initial_condition": initial_condition})
        return env.images()
    finally:
        env.close()


def write_exterior_preview(root: Path) -> Path:
    """The exterior camera's view at the first initial condition, as
    ``previews/exterior_image_1_left.png`` in the package (the picture reconstruct wrote there)."""
    from PIL import Image

    from sim_env.droid import EXTERIOR_IMAGE

    path = root / "previews" / f"{EXTERIOR_IMAGE}.png"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(_camera_images(root)[EXTERIOR_IMAGE]).save(path)
    return path


def condition_penetrations(package) -> list[list[str]]:
    """The interpenetrations in each initial condition (each names the two bodies)."""
    import mujoco

    from sim_env.scene import apply_initial_condition, build_scene, penetrations

    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    found = []
    for condition in package.spec.initial_conditions:
        apply_initial_condition(scene, data, condition)
        found.append(penetrations(scene, data))
    return found


def _colour_maps(root: Path, pairs: list[str], condition: int) -> tuple:
    """``CAMERA=PHOTO`` pairs as (camera, fitted 3x4 map) edits, fitted on the package as is."""
    from sim_env.package import load_package
    from sim_env.package.edit import parse_pair
    from sim_env.render.calibrate import camera_colour_map, read_photo

    package = load_package(root)
    maps = []
    for text in pairs:
        camera, photo = parse_pair(text, "--colour-from", "CAMERA=PHOTO")
        fitted = camera_colour_map(package, camera, read_photo(Path(photo)), condition, photo)
        maps.append((camera, tuple(tuple(row) for row in fitted)))
        typer.echo(f"{camera}: colour map fitted on {photo}: {fitted}")
    return tuple(maps)


@env_app.command("edit")
def edit_command(
    env: str = ENV_ARG,
    rename: list[str] = typer.Option([], "--rename", help="OLD=NEW: rename an object."),
    merge: list[str] = typer.Option(
        [], "--merge", help="A,B=NEW: make objects one body (in A's frame, masses added)."
    ),
    drop: list[str] = typer.Option([], "--drop", help="NAME: remove an object."),
    mass: list[str] = typer.Option([], "--mass", help="NAME=KG: an object's mass."),
    friction: list[str] = typer.Option(
        [], "--friction", help="NAME=MU: sliding friction of an object, or of the scene."
    ),
    task: str = typer.Option(
        "", "--task", help="object=NAME,target=NAME: the pick-and-place task (rubric rewritten)."
    ),
    instruction: str = typer.Option("", "--instruction", help="With --task: the instruction."),
    base: str = typer.Option(
        "", "--base", help="X,Y,YAW: the robot base (m, m, degrees); world cameras move with it."
    ),
    exterior_camera: str = typer.Option(
        "",
        "--exterior-camera",
        help="droid (DROID's pose beside the base) or EX,EY,EZ:TX,TY,TZ (eye and target, m, "
        "table frame); writes previews/exterior_image_1_left.png.",
    ),
    colour_from: list[str] = typer.Option(
        [],
        "--colour-from",
        help="CAMERA=PHOTO: match the splats' colours to a real photo from that camera, taken "
        "with the scene as --colour-condition places it (render.colour; repeatable).",
    ),
    colour_condition: int = typer.Option(
        0, "--colour-condition", help="The initial condition the --colour-from photos show."
    ),
    camera_gains: list[str] = typer.Option(
        [],
        "--camera-gains",
        help="CAMERA=R,G,B: multiply that camera's whole image (its white balance and exposure; "
        "render.camera_response; repeatable).",
    ),
    camera_jpeg: list[str] = typer.Option(
        [],
        "--camera-jpeg",
        help="CAMERA=QUALITY: pass that camera's images through JPEG at QUALITY 1-100, as its "
        "stream does (render.camera_response; repeatable).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the edited package to this new directory."
    ),
) -> None:
    """Edit a package: rename, merge or drop objects, set masses, frictions, the task, the base,
    the exterior camera, the cameras' colours and responses.

    Edits apply in that order, then the package is saved with new hashes and validated with
    its physics; a failed edit changes nothing (see FORMAT.md, 'Editing a package').

    Example: twinbench env edit envs/mytable --merge tray,rim=tray --mass red_box=0.2
    """
    from dataclasses import replace

    from sim_env.errors import EnvPackageError
    from sim_env.exterior_camera import parse_exterior
    from sim_env.package.edit import PackageEdits, edit_package, parse_edits
    from sim_env.registry import BUNDLED_DIR, resolve_env

    edits = parse_edits(
        rename, merge, drop, mass, friction, task, instruction, base, camera_gains, camera_jpeg
    )
    if exterior_camera:
        edits = replace(edits, exterior=parse_exterior(exterior_camera))
    root = resolve_env(env)
    if colour_from:
        edits = replace(edits, colour=_colour_maps(root, colour_from, colour_condition))
    if edits == PackageEdits():
        raise EnvPackageError(
            "nothing to edit: give --rename, --merge, --drop, --mass, --friction, --task, --base, "
            "--exterior-camera, --colour-from, --camera-gains or --camera-jpeg"
        )
    if output is None and root.resolve().is_relative_to(BUNDLED_DIR.resolve()):
        raise EnvPackageError("a bundled environment; give --output DIR for the copy", file=root)
    package, dropped = edit_package(root, edits, output, penetrations=condition_penetrations)
    names = ", ".join(o.name for o in package.spec.objects)
    note = f"; {dropped} initial condition(s) dropped (merged parts stood apart)" if dropped else ""
    typer.echo(f"ok: {package.name} ({package.root}) edited and valid; objects: {names}{note}")
    if edits.exterior is not None or edits.base is not None:
        typer.echo(f"exterior camera's new view: {write_exterior_preview(package.root)}")
