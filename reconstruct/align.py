"""Stage ``align``: move the SfM model into the environment's world frame.

World frame: z up, the table surface at z = 0; metres when the scale is known. No marker is
needed: gravity comes from the table, the dominant plane the capture stands on
(``reconstruct.gravity``: cameras above it and looking down at it, the other points above
it), found even when an object fills the frames; ``--table-hint FRAME X Y`` points at it if
another plane wins. The metric scale comes from exactly one of: a printed ArUco marker of
known size seen in several frames, a known distance between two camera centres or model
points, the height of the tallest object standing on the table, the table's height above a
visible floor, or an explicit scale (``1`` keeps SfM units, and nothing then assumes metres:
every threshold here is a fraction of the scene's size).

With a marker (DICT_4X4_50, id 0 by default; ``--marker-size`` the side of its black square,
metres), the world origin is the marker centre on the table plane and world x the marker's x
(left to right as printed): lay it where the robot base should stand, its x along the robot's
forward. Without one, the origin is the middle of the table points and world x points away
from the cameras (from where the person filming stood, across the table).

The robot base is ``--base X Y YAW`` (world units and degrees, in the marker frame with a
marker), else the marker centre, else the default of ``reconstruct.placement``: on the table
edge facing the cameras, facing the table's middle. ``top_down.png`` shows where it landed.

Writes ``sparse/`` (the model in world coordinates), ``top_down.png`` and the summary with
the similarity, the table found and the robot base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pycolmap

from reconstruct import frames, sfm
from reconstruct.colmap_model import Poses, load_model, registered_poses, save_model
from reconstruct.errors import ReconstructError
from reconstruct.geometry import (
    Plane,
    Similarity,
    angle_between_deg,
    fit_plane,
    frame_from_axes,
    outline,
    over_table,
    seen_table,
    trim_strays,
)
from reconstruct.gravity import (
    Cameras,
    PlaneSearch,
    TablePlane,
    find_table,
    looked_at,
    object_top,
    parallel_band,
)
from reconstruct.marker import (
    MarkerGeometry,
    MarkerViews,
    find_marker,
    make_detector,
    marker_scale,
)
from reconstruct.placement import BasePose, Placement, default_base
from reconstruct.stage import Stage, StageContext
from reconstruct.topdown import TopDown, draw_top_down
from reconstruct.units import Units

Point = tuple[float, float, float]
SCALE_SOURCES = ("marker_size", "distance", "object_height", "table_height", "scale")
MAX_FLOOR_TILT_DEG = 5.0  # the floor and the table top are parallel within this


@dataclass(frozen=True)
class AlignOutputs:
    """What the align stage writes (its summary holds the similarity and the robot base)."""

    model: Path  # the sfm model in the world frame: z up, table at z = 0
    top_down: Path  # PNG: the table, the objects, the cameras and the robot base from above

    @classmethod
    def at(cls, folder: Path) -> AlignOutputs:
        return cls(folder / "sparse", folder / "top_down.png")


@dataclass(frozen=True)
class KnownDistance:
    """A measured distance between two things in the model: an image name (its camera centre)
    or a point ``(x, y, z)`` in SfM model coordinates."""

    a: str | Point
    b: str | Point
    metres: float


@dataclass(frozen=True)
class TableHint:
    """A pixel ``(x, y)`` of frame ``frame`` that shows the table (the plane must pass through
    the SfM points seen within ``radius`` image diagonals of it)."""

    frame: str
    x: float
    y: float
    radius: float = 0.05


@dataclass(frozen=True)
class AlignConfig:
    """World-frame settings. Give exactly one source of scale: ``marker_size``, ``distance``,
    ``object_height``, ``table_height`` or ``scale``.

    Attributes:
        marker_size: printed side of the marker's black square, metres.
        marker_id: the marker's id in its dictionary.
        marker_dictionary: an OpenCV ArUco dictionary name.
        distance: a known distance fixing the scale.
        object_height: height of the tallest object standing on the table, metres.
        table_height: height of the table top above the floor (which must be in view), metres.
        scale: metres per model unit, given outright (``1`` keeps model units).
        base: the robot base on the table (world units, degrees; the marker frame with a
            marker); None: the marker centre, else on the table edge facing the cameras.
        table_hint: a pixel that shows the table, when another plane is taken for it.
        plane: how the table plane is searched for (scale-free thresholds).
        min_marker_views: registered frames that must see the marker.
        max_scale_spread: largest accepted std/mean of the per-view marker scales.
        object_top_percentile: the tallest object's top is this percentile of the heights of
            the points standing on the table with neighbours (stray points are ignored).
        scene_margin: points above the table count as standing on it up to this far outside
            the outline of the table points and of where the cameras look on the table, as a
            fraction of the scene's reach (the median camera-to-scene distance); farther ones
            are background.
    """

    marker_size: float | None = None
    marker_id: int = 0
    marker_dictionary: str = "DICT_4X4_50"
    distance: KnownDistance | None = None
    object_height: float | None = None
    table_height: float | None = None
    scale: float | None = None
    base: BasePose | None = None
    table_hint: TableHint | None = None
    plane: PlaneSearch = field(default_factory=PlaneSearch)
    min_marker_views: int = 3
    max_scale_spread: float = 0.05
    object_top_percentile: float = 99.5
    scene_margin: float = 0.5

    def __post_init__(self) -> None:
        given = [n for n in SCALE_SOURCES if getattr(self, n) is not None]
        if len(given) > 1:
            raise ReconstructError(
                f"give only one source of metric scale, got {' and '.join(given)}", field="align"
            )
        for name in ("marker_size", "object_height", "table_height", "scale"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ReconstructError(f"must be positive, got {value}", field=f"align.{name}")
        if self.distance is not None and not (
            np.isfinite(self.distance.metres) and self.distance.metres > 0
        ):
            raise ReconstructError("must be positive", field="align.distance.metres")
        if not 0 <= self.scene_margin < 10:
            raise ReconstructError(
                f"must be in [0, 10), got {self.scene_margin}", field="align.scene_margin"
            )
        if not 50 <= self.object_top_percentile <= 100:
            raise ReconstructError(
                f"must be in [50, 100], got {self.object_top_percentile}",
                field="align.object_top_percentile",
            )
        if self.marker_size is not None:
            make_detector(self.marker_dictionary)  # an unknown dictionary, before any stage runs

    @property
    def scale_source(self) -> str | None:
        """The name of the scale source given, or None."""
        return next((n for n in SCALE_SOURCES if getattr(self, n) is not None), None)


def no_scale_error() -> ReconstructError:
    return ReconstructError(
        "no metric scale: pass --distance FRAME_A FRAME_B METRES (measured between two frames' "
        "camera positions), --object-height M (the tallest object on the table), "
        "--table-height M (table top above a floor in view), --marker-size M (a printed ArUco "
        "marker, DICT_4X4_50, lying on the table and seen in several frames), or --scale 1 to "
        "keep SfM units",
        field="align",
    )


def _marker_missing(views: MarkerViews, config: AlignConfig) -> ReconstructError:
    others = sorted({i for ids in views.detections.values() for i in ids} - {config.marker_id})
    hint = f"; other ids seen: {others} (set --marker-id)" if others else ""
    return ReconstructError(
        f"marker id {config.marker_id} ({config.marker_dictionary}) is seen in "
        f"{len(views.names)} registered frame(s), need {config.min_marker_views}{hint}; film the "
        "marker flat on the table, whole and sharp, from several viewpoints",
        field="align.marker_id",
    )


def _registered(name: str, names: list[str], field_name: str) -> int:
    if name not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ReconstructError(
            f"{name!r} is not a registered frame (registered: {shown})", field=field_name
        )
    return names.index(name)


def distance_scale(distance: KnownDistance, names: list[str], centres: np.ndarray) -> float:
    """Metres per model unit from a known distance between two frames or model points."""
    ends = [
        centres[_registered(ref, names, "align.distance")]
        if isinstance(ref, str)
        else np.asarray(ref, float)
        for ref in (distance.a, distance.b)
    ]
    length = float(np.linalg.norm(ends[0] - ends[1]))
    if length <= 0:
        raise ReconstructError(
            "the two ends of the distance coincide in the model", field="align.distance"
        )
    return distance.metres / length


def hinted_points(
    rec: pycolmap.Reconstruction, poses: Poses, ids: np.ndarray, hint: TableHint
) -> np.ndarray:
    """``[M]`` bool over the points ``ids``: those seen in ``hint.frame`` near its pixel."""
    image = rec.images[poses.image_ids[_registered(hint.frame, poses.names, "align.table_hint")]]
    camera = rec.cameras[image.camera_id]
    observed = [(p.xy, p.point3D_id) for p in image.get_observation_points2D()]
    xy = np.array([o[0] for o in observed]).reshape(-1, 2)
    radius = hint.radius * float(np.hypot(camera.width, camera.height))
    near = np.linalg.norm(xy - [hint.x, hint.y], axis=1) < radius
    if not near.any():
        raise ReconstructError(
            f"no reconstructed point within {radius:.0f} px of ({hint.x:g}, {hint.y:g}) in "
            f"{hint.frame} ({camera.width}x{camera.height}); point at textured table next to "
            "the objects",
            field="align.table_hint",
        )
    return np.isin(ids, [observed[i][1] for i in np.flatnonzero(near)])


def table_over_floor(
    points: np.ndarray, found: TablePlane, search: PlaneSearch
) -> tuple[Plane, np.ndarray, float]:
    """The table plane, its ``[M]`` inliers and its height above the floor (model units), when
    the floor is in view: the best plane is the table with the floor the densest parallel
    band under it, or the floor with the table the densest band over it (a smaller one)."""
    heights = found.plane.distance(points)
    least = max(search.min_points, int(search.min_share * len(points)))
    under = parallel_band(heights, found.threshold, -1, least)
    if under is not None:
        return found.plane, found.inliers, -under[0]
    over = parallel_band(heights, found.threshold, +1, least)
    if over is not None:
        band = np.abs(heights - over[0]) < found.threshold
        table = fit_plane(points[band])
        table = table if table.normal @ found.plane.normal > 0 else table.flipped()
        axes = frame_from_axes(found.plane.normal, np.cross(found.plane.normal, [1.0, 0.3, 0.1]))
        areas = [_area(points[mask] @ axes[:2].T) for mask in (band, found.inliers)]
        tilt = angle_between_deg(table.normal, found.plane.normal)
        if tilt <= MAX_FLOOR_TILT_DEG and areas[0] < areas[1]:
            return table, np.abs(table.distance(points)) < found.threshold, over[0]
    raise ReconstructError(
        "--table-height needs the floor in view around the table, and no floor was found "
        "parallel to the table: film the floor too, or use --distance or --object-height",
        field="align.table_height",
    )


def _area(xy: np.ndarray) -> float:
    polygon = outline(xy)
    if polygon is None:
        return 0.0
    x, y = polygon.T
    return float(0.5 * abs(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def world_axes(
    plane: Plane, middle: np.ndarray, cameras: Cameras, marker: MarkerGeometry | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``[3, 3]`` (rows: world axes in model coordinates) and origin ``[3]`` (model,
    on the plane): the marker's, else ``middle`` ``[3]`` with x away from the cameras."""
    if marker is not None:
        origin, x_hint = marker.centre, marker.x_axis
    else:
        origin = middle
        x_hint = origin - cameras.centres.mean(axis=0)
        flat = x_hint - (x_hint @ plane.normal) * plane.normal
        if np.linalg.norm(flat) < 0.05 * np.linalg.norm(x_hint):
            x_hint = cameras.forward[0]
            if abs(x_hint @ plane.normal) > 0.95:
                x_hint = cameras.down[0]
    origin = origin - plane.distance(origin) * plane.normal
    return frame_from_axes(plane.normal, x_hint), origin


def frame_on_table(
    points: np.ndarray,
    plane: Plane,
    inliers: np.ndarray,
    found: TablePlane,
    cameras: Cameras,
    marker: MarkerGeometry | None,
    scene_margin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The world axes and origin (``world_axes``; without a marker, the origin is the middle
    of what is on the table), the ``[M]`` points on or over the table and the ``[K, 3]``
    points the cameras look at on it (model frame)."""
    rotation, origin = world_axes(plane, np.median(points[inliers], axis=0), cameras, marker)
    aims = looked_at(plane, cameras, 2 * found.reach)
    scene = over_table(
        (points - origin) @ rotation.T,
        inliers,
        found.threshold,
        scene_margin * found.reach,
        ((aims - origin) @ rotation.T)[:, :2],
    )
    if marker is None:
        rotation, origin = world_axes(plane, np.median(points[scene], axis=0), cameras, None)
    return rotation, origin, scene, aims


def scale_before_table(
    config: AlignConfig,
    rec: pycolmap.Reconstruction,
    poses: Poses,
    image_dir: Path,
    centres: np.ndarray,
) -> tuple[float | None, dict[str, Any] | None, MarkerViews, MarkerGeometry | None]:
    """Scale (metres per model unit) from a marker, a distance or the given value (None when
    it comes from the table: an object's or the table's height); the marker's consistency,
    its views and geometry (None unless seen in two frames)."""
    views = find_marker(rec, poses, image_dir, config.marker_dictionary, config.marker_id)
    geometry = views.geometry()
    if config.marker_size is not None:
        if geometry is None or len(views.names) < config.min_marker_views:
            raise _marker_missing(views, config)
        estimate = marker_scale(geometry, views.cam_from_world, views.corners, config.marker_size)
        if not estimate.relative_spread <= config.max_scale_spread:
            raise ReconstructError(
                f"the marker's views disagree on the scale (relative spread "
                f"{estimate.relative_spread:.1%}, at most {config.max_scale_spread:.0%}): check "
                "that the marker lies flat and its size is right, or film it closer",
                field="align.marker_size",
            )
        return estimate.scale, estimate.as_dict(), views, geometry
    if config.distance is not None:
        return distance_scale(config.distance, poses.names, centres), None, views, geometry
    return config.scale, None, views, geometry


def place_robot(
    config: AlignConfig,
    marker: MarkerGeometry | None,
    table: np.ndarray,
    standing: np.ndarray,
    cameras: np.ndarray,
    per_metre: float,
) -> Placement:
    """The robot base (world xy ``[T, 2]`` table points, ``[J, 3]`` standing points, ``[N, 2]``
    cameras, ``per_metre`` world units a metre); by default facing the world origin."""
    frame = "the marker frame" if marker is not None else "the table frame"
    if config.base is not None:
        return Placement(config.base, "given", f"--base, in {frame}")
    if marker is not None:
        return Placement(BasePose(0.0, 0.0, 0.0), "marker", "the marker centre, facing its x")
    return default_base(table, standing, cameras, per_metre, middle=np.zeros(2))


def run_align(ctx: StageContext, config: AlignConfig) -> dict[str, Any]:
    """Align the sfm stage's model to the world frame; write ``AlignOutputs``."""
    if config.scale_source is None:
        raise no_scale_error()
    outputs = AlignOutputs.at(ctx.out_dir)
    rec = load_model(ctx.input(sfm.STAGE).model)
    poses = registered_poses(rec)
    cameras = Cameras.from_poses(poses.cam_from_world)
    ids = np.array(sorted(rec.points3D), dtype=np.int64)
    points = np.array([rec.points3D[i].xyz for i in ids]).reshape(-1, 3)
    ctx.report(0.1, "looking for the marker")
    images = ctx.input(frames.STAGE).images
    scale, consistency, views, marker = scale_before_table(
        config, rec, poses, images, cameras.centres
    )
    ctx.report(0.5, "finding the table plane")
    on_table = None
    if config.table_hint is not None:
        on_table = hinted_points(rec, poses, ids, config.table_hint)
    found = find_table(
        points,
        cameras,
        config.plane,
        on_table=on_table,
        marker_normal=None if marker is None else marker.normal,
    )
    plane, inliers, floor_gap = found.plane, found.inliers, None
    if config.table_height is not None:
        plane, inliers, floor_gap = table_over_floor(points, found, config.plane)
        scale = config.table_height / floor_gap
    rotation, origin, scene, aims = frame_on_table(
        points, plane, inliers, found, cameras, marker, config.scene_margin
    )
    local = (points - origin) @ rotation.T  # world axes, model units
    top = object_top(local, scene, found.threshold, config.object_top_percentile)
    if config.object_height is not None:
        if top is None:
            raise ReconstructError(
                "--object-height: nothing found standing on the table; use --distance",
                field="align.object_height",
            )
        scale = config.object_height / top
    world = Similarity(float(scale), rotation, -float(scale) * rotation @ origin)
    rec.transform(
        pycolmap.Sim3d(world.scale, pycolmap.Rotation3d(world.rotation), world.translation)
    )
    save_model(rec, outputs.model)
    metric = not (config.scale_source == "scale" and config.scale == 1.0)
    table_xy = world.scale * trim_strays(local[inliers][:, :2])
    extent = np.ptp(table_xy, axis=0) if len(table_xy) else np.ones(2)
    per_metre = 1.0 if metric else Units.from_table(float(extent.max())).per_metre
    standing = world.scale * local[scene & (local[:, 2] > 3 * found.threshold)]
    centres = world.apply(cameras.centres)
    placement = place_robot(config, marker, table_xy, standing, centres[:, :2], per_metre)
    ctx.report(0.9, "drawing the table from above")
    view = TopDown(
        table=table_xy,
        standing=standing,
        cameras=centres[:, :2],
        outline=outline(table_xy),
        placement=placement,
        per_metre=per_metre,
        metric=metric,
    )
    draw_top_down(view, outputs.top_down)
    residual = world.scale * float(np.sqrt(np.mean(plane.distance(points[inliers]) ** 2)))
    seen = outline(world.scale * seen_table(local, inliers, ((aims - origin) @ rotation.T)[:, :2]))
    return {
        "scale": world.scale,
        "scale_source": _SOURCE_NAMES[config.scale_source],
        "metric": metric,
        "scale_consistency": consistency,
        "world_from_model": {
            "scale": world.scale,
            "rotation": world.rotation.tolist(),
            "translation": world.translation.tolist(),
            "matrix": world.matrix().tolist(),
        },
        "gravity_residual_m": residual,
        "plane_inlier_ratio": round(float(inliers.mean()), 4),
        "table": found.as_dict()
        | {"hinted_points": None if on_table is None else int(on_table.sum())},
        "table_extent_m": extent.tolist(),
        "table_outline": None if seen is None else seen.tolist(),
        "object_top_m": None if top is None else world.scale * top,
        "floor_gap_m": None if floor_gap is None else world.scale * floor_gap,
        "camera_height_m": {
            "min": float(centres[:, 2].min()),
            "median": float(np.median(centres[:, 2])),
        },
        "marker_detections": views.detections,
        "marker_views": len(views.names),
        "marker_tilt_deg": None
        if marker is None
        else round(angle_between_deg(marker.normal, plane.normal), 3),
        "robot_base": placement.as_dict(per_metre),
        "top_down": outputs.top_down.name,
    }


_SOURCE_NAMES = {
    "marker_size": "marker",
    "distance": "distance",
    "object_height": "object_height",
    "table_height": "table_height",
    "scale": "given",
}


STAGE = Stage(
    name="align",
    config_type=AlignConfig,
    run=run_align,
    inputs=(frames.STAGE.name, sfm.STAGE.name),
    version=5,
    description="world frame: z up, table at z = 0, metres; the robot base",
    outputs_at=AlignOutputs.at,
    placement_files=frozenset({"top_down.png"}),  # the robot base drawn on the table
)
