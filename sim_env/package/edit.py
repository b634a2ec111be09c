"""Editing a package: rename, merge and drop objects, set masses and frictions, choose the task,
move the robot base and the exterior camera.

The edits apply in this order, each to the names the one before left: renames, merges, drops,
masses, frictions, the task, the robot base (``sim_env.package.base``), the exterior camera
(``sim_env.exterior_camera``). A rename or merge
carries through the initial conditions and the rubric (criteria that name the object get its new name). Merged objects become one body in
the first part's body frame: the other parts keep their pose relative to it from the first
initial condition, and their hulls, visual meshes and splats are moved into that frame and
concatenated; the mass is the parts' total. The task is a pick-and-place: every criterion that
named the old object or container names the new ones, and the instruction is rewritten.

The package is edited in a copy beside it, saved with ``save_package`` (new hashes) and
validated, its initial conditions checked for interpenetration (an error names the two
bodies; after a merge, the conditions other than the first in which the merged body
interpenetrates are dropped, as its parts stood apart there), and only then put in place: a
failed edit leaves the package as it was. Files no longer referenced are removed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sim_env.errors import EnvPackageError
from sim_env.package.base import BasePlacement, parse_base, place_base
from sim_env.package.loader import ENV_FILE, EnvPackage, load_package, read_spec, save_package
from sim_env.package.merge import DEFAULT_FRICTION, merge_bodies, pose_matrix
from sim_env.package.schema import MAX_MASS, NAME_PATTERN
from twinbench.registry import unknown_name_message

SCENE = "scene"  # --friction scene=MU sets the static scene's friction
MAX_FRICTION = 10.0  # MuJoCo's sliding coefficient, as the schema bounds it


@dataclass(frozen=True)
class Merge:
    """Objects ``parts`` (two or more) become one object called ``name``."""

    parts: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class Task:
    """Pick ``object`` and place it in ``target``; an empty instruction is written for it."""

    object: str
    target: str
    instruction: str = ""


class SpecEdit(Protocol):
    """An edit of the spec made by a module this package cannot import (it imports this
    package): ``sim_env.exterior_camera.ExteriorLook`` (``--exterior-camera``)."""

    def apply(self, data: dict[str, Any], file: Path) -> None: ...

    def describe(self) -> str: ...


ColourMap = tuple[tuple[float, ...], ...]  # [3][4]: (M | b), see sim_env.render.colour


@dataclass(frozen=True)
class PackageEdits:
    """Everything one ``twinbench env edit`` changes."""

    rename: tuple[tuple[str, str], ...] = ()  # (old, new)
    merge: tuple[Merge, ...] = ()
    drop: tuple[str, ...] = ()
    mass: tuple[tuple[str, float], ...] = ()  # (object, kg)
    friction: tuple[tuple[str, float], ...] = ()  # (object or "scene", sliding coefficient)
    task: Task | None = None
    base: BasePlacement | None = None  # the robot base, with the world cameras
    exterior: SpecEdit | None = None  # the exterior camera, after the base
    colour: tuple[tuple[str, ColourMap], ...] = ()  # (camera, 3x4 map): render.colour
    camera_gains: tuple[tuple[str, tuple[float, float, float]], ...] = ()  # render.camera_response
    camera_jpeg: tuple[tuple[str, int], ...] = ()  # (camera, JPEG quality): render.camera_response

    def describe(self) -> str:
        """One line for the package's provenance notes."""
        parts = [f"rename {a}={b}" for a, b in self.rename]
        parts += [f"merge {','.join(m.parts)}={m.name}" for m in self.merge]
        parts += [f"drop {n}" for n in self.drop]
        parts += [f"mass {n}={v:g}" for n, v in self.mass]
        parts += [f"friction {n}={v:g}" for n, v in self.friction]
        if self.task:
            parts.append(f"task object={self.task.object},target={self.task.target}")
        if self.base:
            parts.append(self.base.describe())
        if self.exterior:
            parts.append(self.exterior.describe())
        parts += [f"colour map for {camera}" for camera, _ in self.colour]
        parts += [f"camera gains {c}={','.join(f'{g:g}' for g in v)}" for c, v in self.camera_gains]
        parts += [f"camera JPEG {c}={q}" for c, q in self.camera_jpeg]
        return "; ".join(parts)


def parse_pair(text: str, flag: str, what: str) -> tuple[str, str]:
    left, sep, right = text.partition("=")
    if not sep or not left.strip() or not right.strip():
        raise EnvPackageError(f"expected {what}, got {text!r}", field=flag)
    return left.strip(), right.strip()


def _number(text: str, flag: str, what: str) -> tuple[str, float]:
    name, value = parse_pair(text, flag, what)
    try:
        return name, float(value)
    except ValueError:
        raise EnvPackageError(f"expected {what} with a number, got {text!r}", field=flag) from None


def parse_edits(
    rename: Sequence[str] = (),
    merge: Sequence[str] = (),
    drop: Sequence[str] = (),
    mass: Sequence[str] = (),
    friction: Sequence[str] = (),
    task: str = "",
    instruction: str = "",
    base: str = "",
    camera_gains: Sequence[str] = (),
    camera_jpeg: Sequence[str] = (),
) -> PackageEdits:
    """The edits from the command line's flags (``OLD=NEW``, ``A,B=NEW``, ``NAME=KG``, ...)."""
    merges = []
    for text in merge:
        parts, name = parse_pair(text, "--merge", "A,B=NEW")
        merges.append(Merge(tuple(p.strip() for p in parts.split(",")), name))
    chosen = None
    if task:
        fields = dict(
            parse_pair(item, "--task", "object=NAME,target=NAME") for item in task.split(",")
        )
        if set(fields) != {"object", "target"}:
            raise EnvPackageError(f"expected object=NAME,target=NAME, got {task!r}", field="--task")
        chosen = Task(fields["object"], fields["target"], instruction)
    elif instruction:
        raise EnvPackageError("--instruction goes with --task", field="--instruction")
    return PackageEdits(
        rename=tuple(parse_pair(t, "--rename", "OLD=NEW") for t in rename),
        merge=tuple(merges),
        drop=tuple(d.strip() for d in drop),
        mass=tuple(_number(t, "--mass", "NAME=KG") for t in mass),
        friction=tuple(_number(t, "--friction", "NAME=MU") for t in friction),
        task=chosen,
        base=parse_base(base) if base else None,
        camera_gains=tuple(_gains(t) for t in camera_gains),
        camera_jpeg=tuple(_quality(t) for t in camera_jpeg),
    )


def _gains(text: str) -> tuple[str, tuple[float, float, float]]:
    """``CAMERA=R,G,B`` (one number sets all three)."""
    camera, value = parse_pair(text, "--camera-gains", "CAMERA=R,G,B")
    try:
        gains = [float(g) for g in value.split(",")]
    except ValueError:
        gains = []
    if len(gains) == 1:
        gains *= 3
    if len(gains) != 3:
        raise EnvPackageError(
            f"expected CAMERA=R,G,B (or one gain for all three), got {text!r}",
            field="--camera-gains",
        )
    return camera, (gains[0], gains[1], gains[2])


def _quality(text: str) -> tuple[str, int]:
    camera, value = parse_pair(text, "--camera-jpeg", "CAMERA=QUALITY")
    if not value.isdigit():
        raise EnvPackageError(
            f"expected CAMERA=QUALITY (an integer 1-100), got {text!r}", field="--camera-jpeg"
        )
    return camera, int(value)


class _Draft:
    """The spec being edited (a plain mapping) in the staging copy of the package."""

    def __init__(self, data: dict[str, Any], root: Path, file: Path):
        self.data, self.root, self.file = data, root, file  # file: what errors name

    @property
    def objects(self) -> list[dict[str, Any]]:
        return self.data.setdefault("objects", [])

    def names(self) -> list[str]:
        return [o["name"] for o in self.objects]

    def index(self, name: str, flag: str) -> int:
        """The position of object ``name``; an unknown name lists the choices."""
        names = self.names()
        if name not in names:
            raise EnvPackageError(
                unknown_name_message("object", name, names), file=self.file, field=flag
            )
        return names.index(name)

    def check_new_name(self, name: str, flag: str, replacing: tuple[str, ...] = ()) -> None:
        if not NAME_PATTERN.match(name):
            raise EnvPackageError(
                f"{name!r} is not a valid name (letters, digits, '_' or '-', starting with a "
                "letter)",
                file=self.file,
                field=flag,
            )
        if name in self.names() and name not in replacing:
            raise EnvPackageError(
                f"there already is an object named {name!r}", file=self.file, field=flag
            )

    def rename_references(self, old: str, new: str) -> None:
        """Initial conditions and rubric criteria that name ``old`` name ``new``."""
        for condition in self.data["initial_conditions"]:
            poses = condition["objects"]
            if old in poses:
                condition["objects"] = {new if k == old else k: v for k, v in poses.items()}
        _retarget(self.data["rubric"]["criteria"], old, new)
        self.data["instruction"] = _replace_words(self.data["instruction"], old, new)


def _replace_words(text: str, old: str, new: str) -> str:
    spoken_old, spoken_new = old.replace("_", " "), new.replace("_", " ")
    return re.sub(rf"\b{re.escape(spoken_old)}\b", spoken_new, text)


def _rename(draft: _Draft, old: str, new: str) -> None:
    i = draft.index(old, f"--rename {old}")
    draft.check_new_name(new, f"--rename {old}={new}")
    draft.objects[i]["name"] = new
    draft.rename_references(old, new)


def _merge(draft: _Draft, merge: Merge) -> None:
    flag = f"--merge {','.join(merge.parts)}={merge.name}"
    if len(merge.parts) < 2 or len(set(merge.parts)) != len(merge.parts):
        raise EnvPackageError("name two or more different objects to merge", field=flag)
    indices = [draft.index(p, flag) for p in merge.parts]
    draft.check_new_name(merge.name, flag, replacing=merge.parts)
    parts = [draft.objects[i] for i in indices]
    for i, part in zip(indices, parts, strict=True):
        if part["visual"].get("texture"):
            raise EnvPackageError(
                f"cannot merge {part['name']!r}: its visual mesh is textured (one body has one "
                "texture); merge untextured objects",
                file=draft.file,
                field=f"objects[{i}].visual.texture",
            )
    scanned = draft.data["initial_conditions"][0]
    first = np.linalg.inv(pose_matrix(scanned["objects"][parts[0]["name"]]))
    relative = [first @ pose_matrix(scanned["objects"][p["name"]]) for p in parts]
    merged = merge_bodies(parts, relative, merge.name, draft.root)
    objects = draft.objects
    objects[indices[0]] = merged
    draft.data["objects"] = [o for k, o in enumerate(objects) if k not in indices[1:]]
    for condition in draft.data["initial_conditions"]:
        poses = condition["objects"]
        pose = poses[parts[0]["name"]]
        condition["objects"] = {k: v for k, v in poses.items() if k not in merge.parts}
        condition["objects"][merge.name] = pose
    for part in merge.parts:
        if part != merge.name:
            draft.rename_references(part, merge.name)


def _drop(draft: _Draft, name: str) -> None:
    draft.objects.pop(draft.index(name, f"--drop {name}"))
    for condition in draft.data["initial_conditions"]:
        condition["objects"].pop(name, None)


def _set_mass(draft: _Draft, name: str, kg: float) -> None:
    i = draft.index(name, f"--mass {name}")
    if not 0 < kg <= MAX_MASS:
        raise EnvPackageError(
            f"object {name!r}: mass must be in (0, {MAX_MASS:g}] kg, got {kg:g}",
            file=draft.file,
            field=f"objects[{i}].mass",
        )
    draft.objects[i]["mass"] = kg
    draft.objects[i].pop("density", None)


def _set_friction(draft: _Draft, name: str, mu: float) -> None:
    if name == SCENE and name not in draft.names():
        target, field = draft.data["scene"], "scene.friction"
    else:
        i = draft.index(name, f"--friction {name}")
        target, field = draft.objects[i], f"objects[{i}].friction"
    if not 0 <= mu <= MAX_FRICTION:
        raise EnvPackageError(
            f"{name!r}: sliding friction must be in [0, {MAX_FRICTION:g}], got {mu:g}",
            file=draft.file,
            field=field,
        )
    torsional, rolling = tuple(target.get("friction", DEFAULT_FRICTION))[1:]
    target["friction"] = [mu, torsional, rolling]


def _set_task(draft: _Draft, task: Task) -> None:
    draft.index(task.object, "--task object")
    draft.index(task.target, "--task target")
    if task.object == task.target:
        raise EnvPackageError("the object and the target must differ", field="--task")
    criteria = draft.data["rubric"]["criteria"]
    placing = [c for c in criteria if c["kind"] == "inside_xy"]
    if not placing:
        kinds = ", ".join(c["kind"] for c in criteria)
        raise EnvPackageError(
            f"the rubric is not a pick-and-place (no inside_xy criterion; found {kinds})",
            file=draft.file,
            field="rubric.criteria",
        )
    obj, container = placing[0]["params"]["object"], placing[0]["params"]["container"]
    for old, new in ((obj, "\0object"), (container, "\0target")):  # two steps: a swap works
        _retarget(criteria, old, new)
    _retarget(criteria, "\0object", task.object)
    _retarget(criteria, "\0target", task.target)
    spoken = (task.object.replace("_", " "), task.target.replace("_", " "))
    draft.data["instruction"] = task.instruction or f"put the {spoken[0]} in the {spoken[1]}"


def _retarget(criteria: list[dict[str, Any]], old: str, new: str) -> None:
    """Criteria params and names that name ``old`` name ``new``."""
    renamed = {}
    for criterion in criteria:
        params = criterion.setdefault("params", {})
        hit = [key for key in ("object", "container") if params.get(key) == old]
        for key in hit:
            params[key] = new
        if hit:
            pattern = rf"(^|_){re.escape(old)}(?=_|$)"
            renamed[criterion["name"]] = re.sub(pattern, rf"\g<1>{new}", criterion["name"])
    for criterion in criteria:
        criterion["name"] = renamed.get(criterion["name"], criterion["name"])
        criterion["requires"] = [renamed.get(r, r) for r in criterion.get("requires", [])]


def _check_references(draft: _Draft, edits: PackageEdits) -> None:
    """Every criterion names objects that are still there, and places an object in another."""
    names = set(draft.names())
    for i, criterion in enumerate(draft.data["rubric"]["criteria"]):
        params = criterion.get("params", {})
        if "container" in params and params["container"] == params.get("object"):
            raise EnvPackageError(
                f"criterion {criterion['name']!r} would place {params['object']!r} in itself "
                f"after the edits ({edits.describe()}); choose the task with --task "
                "object=NAME,target=NAME",
                file=draft.file,
                field=f"rubric.criteria[{i}].params",
            )
        for key in ("object", "container"):
            value = criterion.get("params", {}).get(key)
            if isinstance(value, str) and value not in names:
                raise EnvPackageError(
                    f"criterion {criterion['name']!r} names object {value!r}, which the edits "
                    f"removed ({edits.describe()}); choose the task with --task "
                    "object=NAME,target=NAME",
                    file=draft.file,
                    field=f"rubric.criteria[{i}].params.{key}",
                )


def apply_edits(draft: _Draft, edits: PackageEdits) -> None:
    """Apply ``edits`` to the draft, in the module's order."""
    for old, new in edits.rename:
        _rename(draft, old, new)
    for merge in edits.merge:
        _merge(draft, merge)
    for name in edits.drop:
        _drop(draft, name)
    for name, kg in edits.mass:
        _set_mass(draft, name, kg)
    for name, mu in edits.friction:
        _set_friction(draft, name, mu)
    if edits.task is not None:
        _set_task(draft, edits.task)
    if edits.base is not None:
        place_base(draft.data, edits.base, draft.file)
    if edits.exterior is not None:
        edits.exterior.apply(draft.data, draft.file)
    for camera, colour_map in edits.colour:
        render = draft.data.setdefault("render", {})
        render.setdefault("colour", {})[camera] = [list(row) for row in colour_map]
        draft.data["format_version"] = max(2, draft.data.get("format_version", 1))
    for camera, value in (
        *((c, {"gains": list(g)}) for c, g in edits.camera_gains),
        *((c, {"jpeg_quality": q}) for c, q in edits.camera_jpeg),
    ):
        responses = draft.data.setdefault("render", {}).setdefault("camera_response", {})
        responses.setdefault(camera, {}).update(value)
        draft.data["format_version"] = max(2, draft.data.get("format_version", 1))
    _check_references(draft, edits)


Penetrations = Callable[[EnvPackage], list[list[str]]]
"""The interpenetrations (``"object/a and object/b interpenetrate by 4.0 mm"``) in each of a
package's initial conditions; ``sim_env.scene`` computes them (it imports this package)."""


def _free_conditions(
    package: EnvPackage, data: dict[str, Any], edits: PackageEdits, penetrations: Penetrations
) -> int:
    """Drop the initial conditions after the first in which a merged body interpenetrates (its
    parts were placed apart there); refuse any other interpenetration, naming the bodies.
    Returns how many conditions were dropped."""
    problems = penetrations(package)
    keep = [i == 0 or not found or not edits.merge for i, found in enumerate(problems)]
    for i, found in enumerate(problems):
        if found and keep[i]:
            raise EnvPackageError(
                "; ".join(dict.fromkeys(found)),
                file=package.root / ENV_FILE,
                field=f"initial_conditions[{i}]",
            )
    data["initial_conditions"] = [
        c for c, k in zip(data["initial_conditions"], keep, strict=True) if k
    ]
    return keep.count(False)


def edit_package(
    root: str | os.PathLike[str],
    edits: PackageEdits,
    output: str | os.PathLike[str] | None = None,
    penetrations: Penetrations | None = None,
) -> tuple[EnvPackage, int]:
    """Edit the package at ``root`` (into ``output``, a new directory, or in place).

    Returns it loaded and validated, and how many initial conditions a merge dropped. With
    ``penetrations``, initial conditions must not interpenetrate (``_free_conditions``).
    """
    source = Path(root)
    spec = read_spec(source)
    target = Path(output) if output is not None else source
    if output is not None and target.exists():
        raise EnvPackageError("already exists; give a new directory", file=target)
    stage = target.parent / f".{target.name}.edit-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(source, stage)
    try:
        data = spec.model_dump(mode="json", exclude_defaults=True)
        before = set(spec.referenced_files())
        draft = _Draft(data, stage, source / ENV_FILE)
        apply_edits(draft, edits)
        notes = data.setdefault("provenance", {}).get("notes") or ""
        data["provenance"]["notes"] = (notes + "\n" if notes else "") + (
            f"edited: {edits.describe()}"
        )
        package = save_package(data, stage)
        dropped = 0
        if penetrations is not None:
            dropped = _free_conditions(package, data, edits, penetrations)
            if dropped:
                package = save_package(data, stage)
        for rel in before - set(package.spec.referenced_files()):
            (stage / rel).unlink(missing_ok=True)
    except EnvPackageError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if exc.file is not None and exc.file.startswith(str(stage)):
            exc.file = str(source) + exc.file[len(str(stage)) :]  # name the package, not the copy
        raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    put_in_place(stage, target)
    return load_package(target), dropped


def put_in_place(stage: Path, target: Path) -> None:
    """Move the finished ``stage`` to ``target``, replacing it if it exists."""
    if not target.exists():
        os.replace(stage, target)
        return
    backup = target.parent / f".{target.name}.old-{os.getpid()}"
    os.replace(target, backup)
    os.replace(stage, target)
    shutil.rmtree(backup, ignore_errors=True)
