"""Ablation worlds: packages derived from the source world and its twin, each changing one
thing, so that the twin-vs-source gap can be split into rendering and geometry.

- ``twin-meshes``: the twin without its splats, so its reconstructed meshes are drawn: what
  ``EnvConfig(renderer="mujoco")`` renders of the twin. It is written as a package because an
  evaluation run is keyed by package content, and a package is something every tool (eval,
  the dashboard, a colleague) can load as is.
- ``source-geometry``: the source world's geometry and physics (hulls, masses, frictions,
  robot base, rubric, initial conditions) seen through the twin's rendering (its splats and
  its cameras). It needs the twin's objects posed like the source's in every initial
  condition (the same names and the same body frames), else the splats would float off their
  bodies; when they are not, :class:`VariantError` says why.

- ``source-camera``: the source world itself through another camera, its white balance 3%
  warmer (``render.camera_response``). Not a part of the gap but its floor: how far the
  ranking moves when nothing changes but a camera setting that real cameras vary by more
  (``benchmarks/fidelity/camera_floor.py`` measures more such changes).

All are written deterministically (provenance copied from the twin), so a re-run rebuilds
the same bytes and resumes the same evaluation run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from evaluate.errors import EvaluateError
from sim_env.package import EnvPackage, save_package
from sim_env.package.schema import EnvPackageSpec
from sim_env.render.select import has_splats

POSITION_TOLERANCE = 0.01  # m: larger IC differences mean the object frames differ
ANGLE_TOLERANCE = 0.05  # rad
TWIN_FILES = "twin"  # folder of the twin's files inside a variant


class VariantError(EvaluateError):
    """An ablation that cannot be built cleanly from this source and twin."""


@dataclass(frozen=True)
class Ablation:
    """A derived world: what it changes, and how to write it from (source, twin)."""

    name: str
    description: str
    build: Callable[[EnvPackage, EnvPackage, Path], EnvPackage]


def twin_meshes(source: EnvPackage, twin: EnvPackage, root: Path) -> EnvPackage:
    """The twin with its splats removed: its reconstructed meshes are what is drawn."""
    if not has_splats(twin):
        raise VariantError("the twin has no splats: it already renders its meshes", file=twin.root)
    spec = twin.spec.model_dump(mode="json")
    spec["scene"]["splats"] = None
    for obj in spec["objects"]:
        obj["splats"] = None
    files = {rel: twin.path(rel) for rel in twin.spec.referenced_files()}
    origin = f"twin {_named(twin)} without its splats"
    return write_variant(spec, files, root, twin, origin, f"{twin.name}_meshes")


def source_geometry(source: EnvPackage, twin: EnvPackage, root: Path) -> EnvPackage:
    """The source world's geometry drawn as the twin draws its own: its splats, cameras,
    background, table picture and render settings (colour maps)."""
    if not has_splats(twin):
        raise VariantError(
            "the twin has no splats to render the source geometry with", file=twin.root
        )
    _check_same_frames(source, twin)
    spec = source.spec.model_dump(mode="json")
    files = {rel: source.path(rel) for rel in source.spec.referenced_files()}

    def twin_file(rel: str | None) -> str | None:
        if rel is None:
            return None
        files[f"{TWIN_FILES}/{rel}"] = twin.path(rel)
        return f"{TWIN_FILES}/{rel}"

    drawn = twin.spec.model_dump(mode="json")
    spec["cameras"] = drawn["cameras"]
    spec["scene"]["splats"] = twin_file(twin.spec.scene.splats)
    for part in ("background", "table_texture"):  # the rest of how the twin draws its scene
        if drawn["scene"].get(part):
            spec["scene"][part] = drawn["scene"][part] | {
                "image": twin_file(drawn["scene"][part]["image"])
            }
    if drawn.get("render"):
        spec["render"] = drawn["render"]
    spec["format_version"] = max(spec["format_version"], drawn["format_version"])
    twin_objects = {obj.name: obj for obj in twin.spec.objects}
    for obj in spec["objects"]:
        obj["splats"] = twin_file(twin_objects[obj["name"]].splats)
    origin = f"source {_named(source)} with the splats and cameras of twin {_named(twin)}"
    return write_variant(spec, files, root, twin, origin, f"{source.name}_geometry")


ANOTHER_CAMERA_GAINS = (1.03, 1.0, 0.97)
"""R, G, B gains of ``source-camera``: a white balance 3% warmer (red up, blue down)."""


def source_camera(source: EnvPackage, twin: EnvPackage, root: Path) -> EnvPackage:
    """The source world with every camera's white balance 3% warmer."""
    spec = source.spec.model_dump(mode="json")
    spec["format_version"] = max(2, spec["format_version"])
    render = spec.get("render") or {}
    render["camera_response"] = {
        camera.name: {"gains": list(ANOTHER_CAMERA_GAINS)} for camera in source.spec.cameras
    }
    spec["render"] = render
    files = {rel: source.path(rel) for rel in source.spec.referenced_files()}
    origin = f"source {_named(source)} through cameras with a 3% warmer white balance"
    return write_variant(spec, files, root, source, origin, f"{source.name}_camera")


ABLATIONS: Mapping[str, Ablation] = MappingProxyType(
    {
        "twin-meshes": Ablation(
            "twin-meshes",
            "the twin rendered from its reconstructed meshes instead of its splats",
            twin_meshes,
        ),
        "source-geometry": Ablation(
            "source-geometry",
            "the source world's true geometry rendered with the twin's splats and cameras",
            source_geometry,
        ),
        "source-camera": Ablation(
            "source-camera",
            "the source world through cameras with a 3% warmer white balance: the floor under "
            "any twin's agreement",
            source_camera,
        ),
    }
)


def _check_same_frames(source: EnvPackage, twin: EnvPackage) -> None:
    """The twin's objects are the source's, posed alike in every initial condition."""
    names = sorted(o.name for o in source.spec.objects)
    twin_names = sorted(o.name for o in twin.spec.objects)
    if names != twin_names:
        raise VariantError(
            f"the twin's objects {twin_names} are not the source's {names}", file=twin.root
        )
    pairs = zip(source.spec.initial_conditions, twin.spec.initial_conditions, strict=False)
    for index, (ours, theirs) in enumerate(pairs):
        for name in names:
            a, b = ours.objects[name], theirs.objects[name]
            offset = float(np.linalg.norm(np.subtract(a.pos, b.pos)))
            turn = 2.0 * float(np.arccos(min(1.0, abs(float(np.dot(a.quat, b.quat))))))
            if offset > POSITION_TOLERANCE or turn > ANGLE_TOLERANCE:
                raise VariantError(
                    f"object {name!r} starts {offset * 100:.1f} cm and {np.degrees(turn):.1f} deg "
                    "away from the source's: the twin's body frames differ from the source's, "
                    "so its splats cannot be attached to the source's bodies",
                    file=twin.root,
                    field=f"initial_conditions[{index}].objects.{name}",
                )


def _named(package: EnvPackage) -> str:
    return f"{package.name} ({package.content_hash[:12]})"


def write_variant(
    spec: dict[str, Any],
    files: Mapping[str, Path],
    root: Path,
    like: EnvPackage,
    origin: str,
    name: str,
) -> EnvPackage:
    """Copy the files ``spec`` references (``files``: package path -> file) under a fresh
    ``root`` and save ``spec`` there as ``name``, dated like the package ``like`` (the same
    bytes on every rebuild, so a re-run resumes the same evaluation)."""
    if root.exists():
        shutil.rmtree(root)
    for rel in EnvPackageSpec.model_validate(spec).referenced_files():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[rel], root / rel)
    spec["name"] = name
    spec["provenance"] = {
        "created_by": "studies.fidelity",
        "created_at": like.spec.provenance.created_at,
        "software_version": like.spec.provenance.software_version,
        "source": origin,
    }
    return save_package(spec, root)
