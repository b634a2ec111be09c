"""PolaRiS-style rubrics: criteria declared in env.yaml, progress = fraction ever reached.

A criterion is a small frozen dataclass built from its ``params`` and called on a
``RubricState`` (privileged simulator state, never shown to learned policies). A criterion
with ``requires`` only counts once all of its requirements have been reached (at the same
step or earlier). success = every criterion reached.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sim_env.errors import EnvPackageError
from twinbench.registry import Registry

CRITERIA: Registry[type[Criterion]] = Registry("criterion", EnvPackageError)
DEFAULT_BOUNDS = (0.0, 100.0)  # a numeric parameter's range unless its criterion says otherwise


@dataclass(frozen=True)
class ObjectBox:
    """An object's oriented bounding box in its body frame: centre and half extents, metres."""

    center: np.ndarray  # [3]
    half_extents: np.ndarray  # [3]


@dataclass(frozen=True)
class RubricState:
    """What criteria look at, at one instant.

    object_pos: name -> [3] body origin in world, metres; object_rot: name -> [3, 3] body-to-world.
    tcp_pos: [3] the gripper's pinch point in world; gripper: closure in [0, 1] (0 = open).
    """

    object_pos: dict[str, np.ndarray]
    object_rot: dict[str, np.ndarray]
    tcp_pos: np.ndarray
    gripper: float


@dataclass(frozen=True)
class RubricContext:
    """The state now, the state at reset and the (static) object boxes."""

    now: RubricState
    initial: RubricState
    boxes: dict[str, ObjectBox]

    def corners(self, name: str) -> np.ndarray:
        """[8, 3] world coordinates of an object's box corners."""
        box = self.boxes[name]
        signs = np.array(
            [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float
        )
        local = box.center + signs * box.half_extents
        return local @ self.now.object_rot[name].T + self.now.object_pos[name]


class Criterion(ABC):
    """Base of every criterion: ``objects()`` names the objects it reads (checked on load)."""

    kind: ClassVar[str]
    # the range of each numeric parameter; a parameter not named here is a length in [0, 100] m
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}

    def objects(self) -> tuple[str, ...]:
        return tuple(v for f, v in self._fields() if f in ("object", "container"))

    def _fields(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]  # type: ignore[arg-type]

    @abstractmethod
    def __call__(self, ctx: RubricContext) -> bool:
        """Whether the criterion holds in this state."""


def _criterion(kind: str):
    def wrap(cls: type[Criterion]) -> type[Criterion]:
        cls.kind = kind
        return CRITERIA.register(kind, dataclass(frozen=True)(cls))

    return wrap


def _box_distance(point: np.ndarray, ctx: RubricContext, name: str) -> float:
    """Distance from a world point to an object's box (0 inside), metres."""
    box = ctx.boxes[name]
    local = ctx.now.object_rot[name].T @ (point - ctx.now.object_pos[name]) - box.center
    outside = np.maximum(np.abs(local) - box.half_extents, 0.0)
    return float(np.linalg.norm(outside))


@_criterion("reach")
class Reach(Criterion):
    """The gripper's pinch point comes within ``threshold`` metres of the object's box."""

    object: str
    threshold: float = 0.05

    def __call__(self, ctx: RubricContext) -> bool:
        return _box_distance(ctx.now.tcp_pos, ctx, self.object) <= self.threshold


@_criterion("lift")
class Lift(Criterion):
    """The object rises ``height`` metres above where it started."""

    object: str
    height: float = 0.04

    def __call__(self, ctx: RubricContext) -> bool:
        return (
            float(ctx.now.object_pos[self.object][2] - ctx.initial.object_pos[self.object][2])
            >= self.height
        )


def _hull_2d(points: np.ndarray) -> np.ndarray:
    """[M, 2] counter-clockwise convex hull of [N, 2] points (monotone chain)."""
    pts = sorted(map(tuple, np.round(points, 12)))
    if len(pts) <= 2:
        return np.array(pts)

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while (
                len(out) >= 2
                and (
                    (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                    - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])
                )
                <= 0
            ):
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _left_of(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> bool:
    """Whether ``p`` is on the left of (or on) the directed line a -> b."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0


def _intersect(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where segment p -> q crosses the line a -> b."""
    d1, d2 = q - p, b - a
    t = ((a[0] - p[0]) * d2[1] - (a[1] - p[1]) * d2[0]) / (d1[0] * d2[1] - d1[1] * d2[0])
    return p + t * d1


def _clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon ``subject`` [N, 2] inside convex CCW ``clip``."""
    out = list(np.asarray(subject, float))
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        polygon, out = out, []
        for j in range(len(polygon)):
            p, q = polygon[j - 1], polygon[j]
            if _left_of(a, b, q):
                if not _left_of(a, b, p):
                    out.append(_intersect(p, q, a, b))
                out.append(q)
            elif _left_of(a, b, p):
                out.append(_intersect(p, q, a, b))
        if not out:
            break
    return np.array(out)


@_criterion("inside_xy")
class InsideXY(Criterion):
    """At least ``fraction`` of the object's xy footprint lies inside the container's.

    With ``max_gap`` set, the object's lowest point must also be at most that many metres above
    the container's top (so an object held high above the container does not count).
    """

    object: str
    container: str
    fraction: float = 0.8
    max_gap: float | None = None
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"fraction": (0.0, 1.0)}

    def __call__(self, ctx: RubricContext) -> bool:
        obj, box = ctx.corners(self.object), ctx.corners(self.container)
        if self.max_gap is not None and obj[:, 2].min() - box[:, 2].max() > self.max_gap:
            return False
        obj_poly, box_poly = _hull_2d(obj[:, :2]), _hull_2d(box[:, :2])
        area = _area(obj_poly)
        return area > 0 and _area(_clip(obj_poly, box_poly)) >= self.fraction * area


@_criterion("gripper_open")
class GripperOpen(Criterion):
    """The gripper's closure is at most ``threshold`` (0 = fully open)."""

    threshold: float = 0.1
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"threshold": (0.0, 1.0)}

    def __call__(self, ctx: RubricContext) -> bool:
        return ctx.now.gripper <= self.threshold


@_criterion("upright")
class Upright(Criterion):
    """The object's z axis is within ``max_tilt_deg`` of the world's."""

    object: str
    max_tilt_deg: float = 15.0
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"max_tilt_deg": (0.0, 180.0)}

    def __call__(self, ctx: RubricContext) -> bool:
        cos_tilt = float(ctx.now.object_rot[self.object][2, 2])
        return cos_tilt >= np.cos(np.deg2rad(self.max_tilt_deg))


@dataclass(frozen=True)
class Rubric:
    """Compiled criteria in dependency order; ``requires[i]`` indexes into ``criteria``."""

    names: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    requires: tuple[tuple[int, ...], ...]


def build_criterion(
    kind: str, params: dict[str, Any], *, file: str | Path | None, field: str
) -> Criterion:
    cls = CRITERIA.get(kind, file=str(file) if file else None, field=f"{field}.kind")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(params) - names
    if unknown:
        raise EnvPackageError(
            f"unknown parameter(s) {sorted(unknown)} for {kind!r} (valid: {sorted(names)})",
            file=file,
            field=f"{field}.params",
        )
    try:
        criterion = cls(**params)
    except TypeError as exc:
        raise EnvPackageError(
            f"bad parameters for {kind!r}: {exc}", file=file, field=f"{field}.params"
        ) from None
    for f in dataclasses.fields(criterion):  # type: ignore[arg-type]
        value = getattr(criterion, f.name)
        numeric = "float" in str(f.type)
        ok = value is None or (
            isinstance(value, int | float) and not isinstance(value, bool)
            if numeric
            else isinstance(value, str)
        )
        if not ok:
            raise EnvPackageError(
                f"must be a {'number' if numeric else 'string'}, got {value!r}",
                file=file,
                field=f"{field}.params.{f.name}",
            )
        low, high = criterion.bounds.get(f.name, DEFAULT_BOUNDS)
        if numeric and value is not None and not low <= value <= high:
            raise EnvPackageError(
                f"must be a number in [{low:g}, {high:g}], got {value!r}",
                file=file,
                field=f"{field}.params.{f.name}",
            )
    return criterion


def compile_rubric(spec: Any, file: str | Path | None = None) -> Rubric:
    """Build the criteria of ``spec.rubric`` and order them so requirements come first."""
    entries = spec.rubric.criteria
    objects = {o.name for o in spec.objects}
    index = {c.name: i for i, c in enumerate(entries)}
    built: list[Criterion] = []
    for i, entry in enumerate(entries):
        field = f"rubric.criteria[{i}]"
        criterion = build_criterion(entry.kind, entry.params, file=file, field=field)
        for name in criterion.objects():
            if name not in objects:
                raise EnvPackageError(
                    f"criterion refers to unknown object {name!r} (objects: {sorted(objects)})",
                    file=file,
                    field=f"{field}.params",
                )
        for req in entry.requires:
            if req not in index:
                raise EnvPackageError(
                    f"requires unknown criterion {req!r}", file=file, field=f"{field}.requires"
                )
        built.append(criterion)
    order: list[int] = []
    state = [0] * len(entries)  # 0 new, 1 visiting, 2 done

    def visit(i: int) -> None:
        if state[i] == 1:
            raise EnvPackageError(
                f"criteria requirements form a cycle through {entries[i].name!r}",
                file=file,
                field="rubric.criteria",
            )
        if state[i] == 0:
            state[i] = 1
            for req in entries[i].requires:
                visit(index[req])
            state[i] = 2
            order.append(i)

    for i in range(len(entries)):
        visit(i)
    position = {old: new for new, old in enumerate(order)}
    return Rubric(
        names=tuple(entries[i].name for i in order),
        criteria=tuple(built[i] for i in order),
        requires=tuple(tuple(position[index[r]] for r in entries[i].requires) for i in order),
    )


def check_rubric(spec: Any, file: str | Path | None = None) -> None:
    compile_rubric(spec, file)


class RubricTracker:
    """The per-episode record of which criteria were reached, and when (control steps)."""

    def __init__(self, rubric: Rubric, boxes: dict[str, ObjectBox]):
        self.rubric = rubric
        self.boxes = boxes
        self.first_reached: list[int | None] = [None] * len(rubric.criteria)
        self._initial: RubricState | None = None

    def reset(self, initial: RubricState) -> None:
        self.first_reached = [None] * len(self.rubric.criteria)
        self._initial = initial

    def update(self, state: RubricState, step: int) -> None:
        if self._initial is None:
            raise RuntimeError("RubricTracker.update called before reset")
        ctx = RubricContext(now=state, initial=self._initial, boxes=self.boxes)
        reached = self.first_reached
        for i, criterion in enumerate(self.rubric.criteria):
            if (
                reached[i] is None
                and all(reached[r] is not None for r in self.rubric.requires[i])
                and criterion(ctx)
            ):
                reached[i] = step

    @property
    def progress(self) -> float:
        return sum(r is not None for r in self.first_reached) / len(self.first_reached)

    @property
    def success(self) -> bool:
        return all(r is not None for r in self.first_reached)

    def reached(self) -> dict[str, int | None]:
        return dict(zip(self.rubric.names, self.first_reached, strict=True))


def expert_task(spec: Any) -> tuple[str, str | None]:
    """(object, container) the scripted expert works on: a pick-and-place rubric's
    (``pick_place_task``), else the object of a ``reach`` criterion with no container (a
    touch task: a real scan's one object too big to grasp).

    Raises:
        EnvPackageError: the rubric has neither, or names them with the wrong types.
    """
    if not any(c.kind == "inside_xy" for c in spec.rubric.criteria):
        for criterion in spec.rubric.criteria:
            if criterion.kind == "reach" and isinstance(criterion.params.get("object"), str):
                return criterion.params["object"], None
    return pick_place_task(spec)


def pick_place_task(spec: Any) -> tuple[str, str]:
    """(object, container) of a pick-and-place rubric: its ``inside_xy`` criterion's params.

    ``spec`` is an :class:`~sim_env.package.EnvPackageSpec` (untyped here, as in
    :func:`check_rubric`: the package loader calls into this module, not the other way).

    Raises:
        EnvPackageError: the rubric has no ``inside_xy`` criterion naming both.
    """
    for index, criterion in enumerate(spec.rubric.criteria):
        if criterion.kind == "inside_xy":
            obj, container = criterion.params.get("object"), criterion.params.get("container")
            if isinstance(obj, str) and isinstance(container, str):
                return obj, container
            raise EnvPackageError(
                "an inside_xy criterion needs string params 'object' and 'container'",
                file=f"{spec.name}/env.yaml",
                field=f"rubric.criteria[{index}].params",
            )
    kinds = ", ".join(c.kind for c in spec.rubric.criteria)
    raise EnvPackageError(
        "scripted policies need a pick-and-place rubric with an inside_xy criterion or a "
        f"reach criterion naming an object; found: {kinds}",
        file=f"{spec.name}/env.yaml",
        field="rubric.criteria",
    )
