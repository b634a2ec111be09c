"""Stage ``align``: move the SfM model into the environment's world frame.

World frame: metres, z up, the table surface at z = 0. Gravity comes from the table: the
dominant plane of the SfM points with most cameras on one side (z points toward them). The
metric scale comes from exactly one of: a printed ArUco marker of known size seen in several
frames, a known distance between two camera centres or model points, or an explicit scale.

Placing the marker: print it flat (DICT_4X4_50, id 0 by default), measure the side of the
black square (``--marker-size``, metres) and lay it on the table so that its centre is the
robot base origin projected onto the table and the marker's x axis (left to right as the
marker is printed, text upright) points where the robot's +x (forward) should point. The world
origin is then the marker centre on the table plane, world x the marker's x. If the marker
cannot sit under the robot base, place it elsewhere and give the base's offset in the marker
frame (``base_offset``, ``base_yaw_deg``). Without a marker, the origin is the middle of the
table points and x follows the first frame's viewing direction; no robot base pose is given.

Writes ``sparse/`` (the model in world coordinates) and the summary with the similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pycolmap

from reconstruct import frames, sfm
from reconstruct.colmap_model import Poses, load_model, points_xyz, registered_poses, save_model
from reconstruct.errors import ReconstructError
from reconstruct.geometry import (
    Plane,
    Similarity,
    angle_between_deg,
    camera_centres,
    frame_from_axes,
    ransac_plane,
)
from reconstruct.marker import (
    MarkerGeometry,
    detect_markers,
    make_detector,
    marker_scale,
    triangulate_marker,
)
from reconstruct.stage import Stage, StageContext

Point = tuple[float, float, float]
CAMERA_SIDE_RATIO = 0.8  # fraction of cameras that must be above the table plane
MAX_POINTS_BELOW = 0.3  # largest fraction of points below the table (floor, outliers)
MAX_MARKER_TILT_DEG = 10.0  # largest angle between the table plane and a marker lying on it
MAX_PLANE_TRIES = 5  # planes tried, largest first


@dataclass(frozen=True)
class AlignOutputs:
    """What the align stage writes (its summary holds the similarity and the robot base)."""

    model: Path  # the sfm model in the world frame: metres, z up, table at z = 0

    @classmethod
    def at(cls, folder: Path) -> AlignOutputs:
        return cls(folder / "sparse")


@dataclass(frozen=True)
class KnownDistance:
    """A measured distance between two things in the model: an image name (its camera centre)
    or a point ``(x, y, z)`` in SfM model coordinates."""

    a: str | Point
    b: str | Point
    metres: float


@dataclass(frozen=True)
class AlignConfig:
    """World-frame settings. Give exactly one of ``marker_size``, ``distance`` or ``scale``.

    Attributes:
        marker_size: printed side of the marker's black square, metres.
        marker_id: the marker's id in its dictionary.
        marker_dictionary: an OpenCV ArUco dictionary name.
        distance: a known distance fixing the scale.
        scale: metres per model unit, given outright (``1`` keeps model units).
        min_marker_views: registered frames that must see the marker.
        max_scale_spread: largest accepted std/mean of the per-view marker scales.
        plane_threshold: RANSAC inlier distance, as a fraction of the median camera-to-scene
            distance (scale-free, as the plane is fitted before scaling).
        min_plane_inliers: the table plane must hold at least this fraction of the points.
        base_offset: robot base origin in the marker frame, metres.
        base_yaw_deg: robot base yaw about z relative to the marker's x axis, degrees.
        seed: RANSAC seed.
    """

    marker_size: float | None = None
    marker_id: int = 0
    marker_dictionary: str = "DICT_4X4_50"
    distance: KnownDistance | None = None
    scale: float | None = None
    min_marker_views: int = 3
    max_scale_spread: float = 0.05
    plane_threshold: float = 0.01
    min_plane_inliers: float = 0.05
    base_offset: Point = (0.0, 0.0, 0.0)
    base_yaw_deg: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        given = [n for n in ("marker_size", "distance", "scale") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ReconstructError(
                f"give only one source of metric scale, got {' and '.join(given)}", field="align"
            )
        for name in ("marker_size", "scale"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ReconstructError(f"must be positive, got {value}", field=f"align.{name}")
        if self.distance is not None and not self.distance.metres > 0:
            raise ReconstructError("must be positive", field="align.distance.metres")


def _no_scale_error() -> ReconstructError:
    return ReconstructError(
        "no metric scale: print an ArUco marker (DICT_4X4_50), lay it on the table, film it "
        "from several views and pass --marker-size (side of its black square, metres); or pass "
        "--distance A B METRES between two frames; or pass --scale 1 to keep SfM units",
        field="align",
    )


@dataclass(frozen=True, eq=False)
class MarkerViews:
    """Where the marker was seen among the registered frames."""

    detections: dict[str, list[int]]  # every registered frame -> ids seen
    names: list[str]  # frames that see the configured marker
    cam_from_world: np.ndarray  # [V, 3, 4]
    corners: np.ndarray  # [V, 4, 2] undistorted normalised coordinates


def find_marker(
    rec: pycolmap.Reconstruction, poses: Poses, image_dir: Path, config: AlignConfig
) -> MarkerViews:
    """Detect markers in every registered frame and collect the views of ``config.marker_id``."""
    detector = make_detector(config.marker_dictionary)
    detections: dict[str, list[int]] = {}
    names, views, quads = [], [], []
    for name, image_id, pose in zip(
        poses.names, poses.image_ids, poses.cam_from_world, strict=True
    ):
        grey = cv2.imread(str(image_dir / name), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise ReconstructError(
                "cannot read this frame; re-run the frames stage", file=image_dir / name
            )
        found = detect_markers(grey, detector)
        detections[name] = sorted(found)
        if config.marker_id in found:
            camera = rec.cameras[rec.images[image_id].camera_id]
            names.append(name)
            views.append(pose)
            quads.append(np.asarray(camera.cam_from_img(found[config.marker_id])))
    return MarkerViews(
        detections, names, np.asarray(views).reshape(-1, 3, 4), np.asarray(quads).reshape(-1, 4, 2)
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


def _model_point(ref: str | Point, names: list[str], centres: np.ndarray) -> np.ndarray:
    if isinstance(ref, str):
        if ref not in names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise ReconstructError(
                f"{ref!r} is not a registered frame (registered: {shown})", field="align.distance"
            )
        return centres[names.index(ref)]
    return np.asarray(ref, float)


def distance_scale(distance: KnownDistance, names: list[str], centres: np.ndarray) -> float:
    """Metres per model unit from a known distance between two frames or model points."""
    a = _model_point(distance.a, names, centres)
    b = _model_point(distance.b, names, centres)
    length = float(np.linalg.norm(a - b))
    if length <= 0:
        raise ReconstructError(
            "the two ends of the distance coincide in the model", field="align.distance"
        )
    return distance.metres / length


def table_plane(
    points: np.ndarray, centres: np.ndarray, config: AlignConfig, marker_normal: np.ndarray | None
) -> tuple[Plane, np.ndarray]:
    """The largest plane that looks like the table, its normal toward the cameras.

    A table has most cameras on one side (above it) and few points on the other (nothing
    stands below a table top); when a marker lies on the table, the plane must also be
    parallel to it. Planes are tried largest first, each one's points removed before the next.

    Args:
        points: ``[M, 3]`` SfM points, model units.
        centres: ``[N, 3]`` camera centres, model units.
        config: thresholds.
        marker_normal: ``[3]`` the marker's normal, if seen.
    Returns:
        The plane and the ``[M]`` inlier mask.
    """
    if len(points) < 3:
        raise ReconstructError("the model has too few points to find the table", field="sfm")
    reach = float(np.median(np.linalg.norm(centres - np.median(points, axis=0), axis=1)))
    threshold = config.plane_threshold * reach
    remaining = np.ones(len(points), bool)
    tried = []
    for attempt in range(MAX_PLANE_TRIES):
        if remaining.sum() < 3:
            break
        plane, inliers = ransac_plane(points[remaining], threshold, seed=config.seed + attempt)
        share = inliers.sum() / len(points)
        if share < config.min_plane_inliers:
            break
        if np.mean(plane.distance(centres) > 0) < 0.5:
            plane = plane.flipped()
        above = float(np.mean(plane.distance(centres) > 0))
        below = float(np.mean(plane.distance(points) < -threshold))
        tilt = 0.0 if marker_normal is None else angle_between_deg(plane.normal, marker_normal)
        if above >= CAMERA_SIDE_RATIO and below <= MAX_POINTS_BELOW and tilt <= MAX_MARKER_TILT_DEG:
            return plane, np.abs(plane.distance(points)) < threshold
        tried.append(
            f"{share:.0%} of points, {above:.0%} of cameras above, {below:.0%} of points below"
            + (f", {tilt:.0f} deg from the marker" if marker_normal is not None else "")
        )
        remaining[np.flatnonzero(remaining)[inliers]] = False
    detail = f" (planes tried: {'; '.join(tried)})" if tried else ""
    raise ReconstructError(
        "no table plane found below the cameras: film the table top from above its surface, "
        "with plenty of textured (not glossy) table in view, objects standing on it" + detail,
        field="align",
    )


def world_frame(
    plane: Plane, points: np.ndarray, poses: Poses, marker: MarkerGeometry | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation ``[3, 3]`` (rows: world axes in model coordinates) and origin ``[3]`` (model)."""
    if marker is not None:
        origin, x_hint = marker.centre, marker.x_axis
    else:
        origin = np.median(points, axis=0)
        first = poses.cam_from_world[0, :, :3]
        x_hint = first[2] if abs(first[2] @ plane.normal) < 0.95 else first[0]
    origin = origin - plane.distance(origin) * plane.normal
    return frame_from_axes(plane.normal, x_hint), origin


def run_align(ctx: StageContext, config: AlignConfig) -> dict[str, Any]:
    """Align the sfm stage's model to the world frame; write it to ``AlignOutputs.model``."""
    if config.marker_size is None and config.distance is None and config.scale is None:
        raise _no_scale_error()
    rec = load_model(ctx.input(sfm.STAGE).model)
    poses = registered_poses(rec)
    centres = camera_centres(poses.cam_from_world)
    ctx.report(0.1, "looking for the marker")
    views = find_marker(rec, poses, ctx.input(frames.STAGE).images, config)
    geometry = None
    if len(views.names) >= 2:
        geometry = triangulate_marker(views.cam_from_world, views.corners)
    consistency = None
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
        scale, source, consistency = estimate.scale, "marker", estimate.as_dict()
    elif config.distance is not None:
        scale, source = distance_scale(config.distance, poses.names, centres), "distance"
    else:
        scale, source = float(config.scale), "given"
    ctx.report(0.6, "fitting the table plane")
    points = points_xyz(rec)
    plane, inliers = table_plane(
        points, centres, config, None if geometry is None else geometry.normal
    )
    rotation, origin = world_frame(plane, points, poses, geometry)
    world = Similarity(scale, rotation, -scale * rotation @ origin)
    rec.transform(
        pycolmap.Sim3d(world.scale, pycolmap.Rotation3d(world.rotation), world.translation)
    )
    save_model(rec, AlignOutputs.at(ctx.out_dir).model)
    heights = world.apply(centres)[:, 2]
    residual = scale * float(np.sqrt(np.mean(plane.distance(points[inliers]) ** 2)))
    base = tilt = None
    if geometry is not None:
        base = {"position_m": list(config.base_offset), "yaw_deg": config.base_yaw_deg}
        tilt = round(angle_between_deg(geometry.normal, plane.normal), 3)
    return {
        "scale": scale,
        "scale_source": source,
        "scale_consistency": consistency,
        "world_from_model": {
            "scale": scale,
            "rotation": world.rotation.tolist(),
            "translation": world.translation.tolist(),
            "matrix": world.matrix().tolist(),
        },
        "gravity_residual_m": residual,
        "plane_inlier_ratio": round(float(inliers.mean()), 4),
        "camera_height_m": {"min": float(heights.min()), "median": float(np.median(heights))},
        "marker_detections": views.detections,
        "marker_views": len(views.names),
        "marker_tilt_deg": tilt,
        "robot_base": base,
    }


STAGE = Stage(
    name="align",
    config_type=AlignConfig,
    run=run_align,
    inputs=(frames.STAGE.name, sfm.STAGE.name),
    description="world frame: metres, z up, table at z = 0",
    outputs_at=AlignOutputs.at,
)
