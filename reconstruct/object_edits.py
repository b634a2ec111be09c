"""The user's edits of the found objects and of the task, read from ``--objects objects.yaml``.

```yaml
objects:                 # candidates are listed in work/objects/summary.json ("candidates")
  - name: red_box        # a candidate by id ...
    candidate: 0
  - name: tray           # ... or by position (x, y in metres: the candidate with a surface
    at: [0.57, 0.15]     #     sample within 5 cm), or several merged: candidates: [2, 3] or
                         #     at: [[x, y], ...] (points that reach no candidate are ignored)
    density: 300         # kg/m^3 (default 400)
drop: [4]                # candidate ids (or [x, y] positions) that are not objects
keep_unlisted: true      # candidates neither listed nor dropped stay, named object_<id>
task:                    # the pick-and-place rubric (default: chosen from the objects)
  object: red_box
  container: tray
  instruction: put the red box in the tray
initial_conditions:      # optional: exactly these (package format), instead of sampled ones
  - objects: {red_box: {pos: [0.45, -0.17, 0.0001], quat: [1, 0, 0, 0]}, ...}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconstruct.errors import ReconstructError
from twinbench.yamlio import load_yaml

Point2 = tuple[float, float]
TOP_KEYS = {"objects", "drop", "keep_unlisted", "task", "initial_conditions"}
OBJECT_KEYS = {"name", "candidate", "candidates", "at", "density"}


@dataclass(frozen=True)
class ObjectEdit:
    """One object: the candidates (ids or positions) it is made of, its name and density."""

    name: str
    candidates: tuple[int, ...] = ()
    at: tuple[Point2, ...] = ()
    density: float | None = None


@dataclass(frozen=True)
class ObjectEdits:
    """Naming, merging and dropping of the objects stage's candidates."""

    objects: tuple[ObjectEdit, ...] = ()
    drop: tuple[int, ...] = ()
    drop_at: tuple[Point2, ...] = ()
    keep_unlisted: bool = True


@dataclass(frozen=True)
class TaskEdit:
    """The pick-and-place task; empty fields are chosen automatically."""

    object: str = ""
    container: str = ""
    instruction: str = ""


@dataclass(frozen=True)
class PoseEdit:
    name: str
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ConditionEdit:
    """An initial condition given outright (object poses in the world frame)."""

    objects: tuple[PoseEdit, ...]
    arm_qpos: tuple[float, ...] = ()
    gripper: float = 0.0


def _fail(message: str, file: Path, field: str) -> ReconstructError:
    return ReconstructError(message, file=file, field=field)


def _point(value: Any, file: Path, field: str) -> Point2:
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise _fail(f"expected [x, y] in metres, got {value!r}", file, field)
    try:
        return (float(value[0]), float(value[1]))
    except (TypeError, ValueError):
        raise _fail(f"expected numbers [x, y], got {value!r}", file, field) from None


def _refs(value: Any, file: Path, field: str) -> tuple[tuple[int, ...], tuple[Point2, ...]]:
    """Candidate ids and positions from an int, [x, y], or a list of either."""
    items = (
        value if isinstance(value, list) and value and isinstance(value[0], list | int) else [value]
    )
    ids, points = [], []
    for k, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | list | tuple):
            raise _fail(f"expected a candidate id or [x, y], got {item!r}", file, f"{field}[{k}]")
        if isinstance(item, int):
            ids.append(item)
        else:
            points.append(_point(item, file, f"{field}[{k}]"))
    return tuple(ids), tuple(points)


def _object(entry: Any, file: Path, field: str) -> ObjectEdit:
    if not isinstance(entry, dict):
        raise _fail("expected a mapping with 'name' and 'candidate' or 'at'", file, field)
    unknown = set(entry) - OBJECT_KEYS
    if unknown:
        raise _fail(f"unknown keys {sorted(unknown)} (valid: {sorted(OBJECT_KEYS)})", file, field)
    if not isinstance(entry.get("name"), str) or not entry["name"]:
        raise _fail("every object needs a 'name'", file, f"{field}.name")
    ids: tuple[int, ...] = ()
    points: tuple[Point2, ...] = ()
    for key in ("candidate", "candidates", "at"):
        if key in entry:
            more_ids, more_points = _refs(entry[key], file, f"{field}.{key}")
            ids, points = ids + more_ids, points + more_points
    if not ids and not points:
        raise _fail("give 'candidate', 'candidates' or 'at'", file, field)
    density = entry.get("density")
    if density is not None and not (isinstance(density, int | float) and density > 0):
        raise _fail(
            f"must be a positive number (kg/m^3), got {density!r}", file, f"{field}.density"
        )
    return ObjectEdit(entry["name"], ids, points, None if density is None else float(density))


def _conditions(value: Any, file: Path) -> tuple[ConditionEdit, ...]:
    if not isinstance(value, list):
        raise _fail("expected a list of initial conditions", file, "initial_conditions")
    out = []
    for i, entry in enumerate(value):
        field = f"initial_conditions[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("objects"), dict):
            raise _fail("expected a mapping with 'objects: {name: {pos, quat}}'", file, field)
        poses = []
        for name, pose in entry["objects"].items():
            try:
                pos = tuple(float(x) for x in pose["pos"])
                quat = tuple(float(x) for x in pose.get("quat", (1.0, 0.0, 0.0, 0.0)))
            except (KeyError, TypeError, ValueError):
                raise _fail(
                    "expected {pos: [x, y, z], quat: [w, x, y, z]}", file, f"{field}.objects.{name}"
                ) from None
            if len(pos) != 3 or len(quat) != 4:
                raise _fail("pos has 3 numbers, quat 4", file, f"{field}.objects.{name}")
            poses.append(PoseEdit(str(name), pos, quat))  # type: ignore[arg-type]
        arm = tuple(float(x) for x in entry.get("arm_qpos", ()))
        out.append(ConditionEdit(tuple(poses), arm, float(entry.get("gripper", 0.0))))
    return tuple(out)


def load_objects_yaml(path: Path) -> tuple[ObjectEdits, TaskEdit, tuple[ConditionEdit, ...]]:
    """Parse the objects file; every problem names the file and the field."""
    path = Path(path)
    data = load_yaml(path, ReconstructError) or {}
    if not isinstance(data, dict):
        raise _fail("expected a mapping at the top level", path, "")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(f"unknown keys {sorted(unknown)} (valid: {sorted(TOP_KEYS)})", path, "")
    entries = data.get("objects") or []
    if not isinstance(entries, list):
        raise _fail("expected a list", path, "objects")
    objects = tuple(_object(e, path, f"objects[{i}]") for i, e in enumerate(entries))
    names = [o.name for o in objects]
    if len(set(names)) != len(names):
        raise _fail(f"object names must be unique, got {names}", path, "objects")
    drop_ids, drop_at = _refs(data["drop"], path, "drop") if data.get("drop") else ((), ())
    task = data.get("task") or {}
    if not isinstance(task, dict) or set(task) - {"object", "container", "instruction"}:
        raise _fail("expected {object, container, instruction}", path, "task")
    edits = ObjectEdits(objects, drop_ids, drop_at, bool(data.get("keep_unlisted", True)))
    task_edit = TaskEdit(
        str(task.get("object", "")),
        str(task.get("container", "")),
        str(task.get("instruction", "")),
    )
    conditions = (
        _conditions(data["initial_conditions"], path) if "initial_conditions" in data else ()
    )
    return edits, task_edit, conditions
