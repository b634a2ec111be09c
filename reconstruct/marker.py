"""A printed ArUco marker on the table: detection in the registered frames, triangulation from
SfM poses, metric scale.

Marker frame (OpenCV's convention): origin at the centre of the black square, x to the right
and y up as the marker is printed, z out of the paper. Corners come in the order top-left,
top-right, bottom-right, bottom-left.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycolmap

from reconstruct.colmap_model import Poses
from reconstruct.errors import ReconstructError
from reconstruct.geometry import triangulate


def dictionary_names() -> list[str]:
    """The ArUco/AprilTag dictionaries OpenCV knows, e.g. ``DICT_4X4_50``."""
    return sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_") and n.upper() == n)


def make_detector(dictionary: str) -> cv2.aruco.ArucoDetector:
    """A detector for ``dictionary`` with sub-pixel corner refinement."""
    if dictionary not in dictionary_names():
        raise ReconstructError(
            f"unknown marker dictionary {dictionary!r}; choose one of {', '.join(dictionary_names())}",
            field="align.marker_dictionary",
        )
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(
        cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)), params
    )


def detect_markers(grey: np.ndarray, detector: cv2.aruco.ArucoDetector) -> dict[int, np.ndarray]:
    """Markers in a ``[H, W]`` uint8 image: id -> ``[4, 2]`` corner pixels (first if repeated)."""
    corners, ids, _ = detector.detectMarkers(grey)
    found: dict[int, np.ndarray] = {}
    if ids is not None:
        for marker_id, quad in zip(ids.ravel(), corners, strict=True):
            found.setdefault(int(marker_id), quad.reshape(4, 2).astype(float))
    return found


def marker_corners(size: float) -> np.ndarray:
    """``[4, 3]`` corners in the marker frame for a marker of side ``size`` (metres)."""
    h = size / 2
    return np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])


@dataclass(frozen=True, eq=False)
class MarkerGeometry:
    """The marker triangulated in the SfM model (model units)."""

    corners: np.ndarray  # [4, 3]
    centre: np.ndarray  # [3]
    x_axis: np.ndarray  # [3] unit, marker x (left to right as printed)
    normal: np.ndarray  # [3] unit, marker z (out of the paper)
    side: float  # mean edge length


def triangulate_marker(cam_from_world: np.ndarray, corners: np.ndarray) -> MarkerGeometry:
    """Triangulate the marker's corners from several registered views.

    Args:
        cam_from_world: ``[V, 3, 4]`` poses of the views, V >= 2, model units.
        corners: ``[V, 4, 2]`` undistorted normalised coordinates of the corners in each view.
    """
    pts = np.stack([triangulate(cam_from_world, corners[:, k]) for k in range(4)])
    x_axis = (pts[1] - pts[0]) + (pts[2] - pts[3])
    y_axis = (pts[0] - pts[3]) + (pts[1] - pts[2])
    normal = np.cross(x_axis, y_axis)
    side = float(np.mean(np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1)))
    return MarkerGeometry(
        pts, pts.mean(0), x_axis / np.linalg.norm(x_axis), normal / np.linalg.norm(normal), side
    )


@dataclass(frozen=True, eq=False)
class MarkerScale:
    """Metres per model unit from the marker, and how well the views agree."""

    scale: float  # from the triangulated marker's mean side
    per_view: np.ndarray  # [V] from each view's own PnP distance to the marker
    mean: float
    std: float
    relative_spread: float  # std / mean of per_view

    def as_dict(self) -> dict[str, float | int]:
        return {
            "mean": self.mean,
            "std": self.std,
            "relative_spread": self.relative_spread,
            "views": len(self.per_view),
            "triangulated": self.scale,
        }


def marker_scale(
    geometry: MarkerGeometry, cam_from_world: np.ndarray, corners: np.ndarray, size: float
) -> MarkerScale:
    """Scale from the marker's known printed ``size`` (metres).

    The scale used is ``size / geometry.side`` (all views at once). Each view also gives its own
    estimate, the ratio of its PnP camera-to-marker distance (metres) to the same distance in
    the model; their spread says how consistent the marker, its size and the poses are.

    Args:
        geometry: the triangulated marker.
        cam_from_world: ``[V, 3, 4]`` model poses.
        corners: ``[V, 4, 2]`` undistorted normalised corner coordinates.
        size: printed side of the black square, metres.
    """
    object_points = marker_corners(size)
    per_view = []
    for pose, quad in zip(cam_from_world, corners, strict=True):
        ok, _, tvec = cv2.solvePnP(
            object_points, quad, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE_SQUARE
        )
        model_distance = np.linalg.norm(pose[:, :3] @ geometry.centre + pose[:, 3])
        if ok and model_distance > 0:
            per_view.append(float(np.linalg.norm(tvec)) / model_distance)
    values = np.asarray(per_view)
    mean = float(values.mean()) if len(values) else float("nan")
    std = float(values.std()) if len(values) else float("nan")
    return MarkerScale(
        size / geometry.side, values, mean, std, std / mean if mean else float("nan")
    )


@dataclass(frozen=True, eq=False)
class MarkerViews:
    """Where the marker was seen among the registered frames."""

    detections: dict[str, list[int]]  # every registered frame -> ids seen
    names: list[str]  # frames that see the configured marker
    cam_from_world: np.ndarray  # [V, 3, 4]
    corners: np.ndarray  # [V, 4, 2] undistorted normalised coordinates

    def geometry(self) -> MarkerGeometry | None:
        """The marker triangulated from its views; None if fewer than two see it."""
        if len(self.names) < 2:
            return None
        return triangulate_marker(self.cam_from_world, self.corners)


def find_marker(
    rec: pycolmap.Reconstruction, poses: Poses, image_dir: Path, dictionary: str, marker_id: int
) -> MarkerViews:
    """Detect markers in every registered frame (read from ``image_dir``) and collect the
    views of ``marker_id``."""
    detector = make_detector(dictionary)
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
        if marker_id in found:
            camera = rec.cameras[rec.images[image_id].camera_id]
            names.append(name)
            views.append(pose)
            quads.append(np.asarray(camera.cam_from_img(found[marker_id])))
    return MarkerViews(
        detections, names, np.asarray(views).reshape(-1, 3, 4), np.asarray(quads).reshape(-1, 4, 2)
    )
