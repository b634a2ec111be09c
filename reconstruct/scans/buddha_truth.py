"""The Buddha photos' own truth: the dataset's projection matrices, and "up" from its sheet.

The AliceVision Buddha dataset (``BUDDHA_DIR``, CC BY 4.0) ships a 3x4 projection matrix per
photo (``cameras/NNNNN_P.txt``, world-to-image, in the dataset's own frame and arbitrary
scale). Its "up" is the normal of the cardboard sheet the statue stands on: four of the
sheet's printed markers (not ArUco, so align cannot use them) were located by hand in the
photos (``MARKERS``) and are triangulated with those matrices. A reconstruction is compared
after one similarity fit of its camera centres onto the dataset's: how far the centres stay
apart, and the angle between its up and the sheet's normal carried over by that fit. Both the
align test and the bundled environment's build (``reconstruct.scans.buddha``) use this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.geometry import angle_between_deg, camera_centres, umeyama

BUDDHA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "scans" / "buddha_tabletop"
"""The shared Buddha capture (``../shared`` beside the repository): ``images/``, ``cameras/``."""

# Centres (px, in the 1368x770 photos) of four of the sheet's printed markers, found by hand.
MARKERS: dict[str, dict[str, tuple[float, float]]] = {
    "top_left": {"00046": (384.4, 114.9), "00047": (452.7, 202.2)},
    "top_right": {
        "00046": (1028.8, 123.3),
        "00047": (1016.9, 207.6),
        "00018": (395.7, 312.5),
        "00049": (410.3, 136.3),
    },
    "middle_left": {"00046": (355.5, 412.0), "00047": (407.5, 447.2)},
    "middle_right": {"00046": (1032.8, 470.4), "00047": (1042.2, 503.3)},
}


@dataclass(frozen=True)
class DatasetCameras:
    """The dataset's cameras: ``folder`` holds ``NNNNN_P.txt`` per photo ``NNNNN.jpg``."""

    folder: Path = BUDDHA_DIR / "cameras"

    def projection(self, name: str) -> np.ndarray:
        """``[3, 4]`` P = K [R | t] of the photo ``name`` (with or without its extension)."""
        path = self.folder / f"{Path(name).stem}_P.txt"
        if not path.is_file():
            raise ReconstructError("no projection matrix for this photo", file=path)
        matrix = np.loadtxt(path)
        if matrix.shape != (3, 4):
            raise ReconstructError(f"expected a 3x4 matrix, found {matrix.shape}", file=path)
        return matrix

    def centre(self, name: str) -> np.ndarray:
        """``[3]`` the photo's camera centre, dataset frame."""
        homog = cv2.decomposeProjectionMatrix(self.projection(name))[2].ravel()
        return homog[:3] / homog[3]

    def marker_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``[4, 3]`` the triangulated markers (dataset frame) and ``[4]`` each one's largest
        reprojection error (px) over the photos it was located in (a check of the labels)."""
        points, errors = [], []
        for seen in MARKERS.values():
            rows = []
            for name, (u, v) in seen.items():
                p = self.projection(name)
                rows += [u * p[2] - p[0], v * p[2] - p[1]]
            homog = np.linalg.svd(np.asarray(rows))[2][-1]
            point = homog[:3] / homog[3]
            image = np.array([self.projection(n) @ np.r_[point, 1.0] for n in seen])
            error = np.linalg.norm(
                image[:, :2] / image[:, 2:] - np.array(list(seen.values())), axis=1
            )
            points.append(point)
            errors.append(error.max())
        return np.asarray(points), np.asarray(errors)

    def up(self) -> np.ndarray:
        """``[3]`` unit normal of the sheet (the markers' plane), toward the cameras."""
        points, _ = self.marker_points()
        normal = np.linalg.svd(points - points.mean(0))[2][-1]
        return normal if (self.centre("00046") - points.mean(0)) @ normal > 0 else -normal


@dataclass(frozen=True)
class DatasetComparison:
    """A reconstruction's cameras against the dataset's, after one similarity fit."""

    gravity_error_deg: float  # our up, carried into the dataset's frame, vs the sheet's normal
    centre_error_mean: float  # camera-centre distance after the fit / the dataset cameras' extent
    centre_error_max: float  # the same, the worst camera
    cameras: int  # compared (registered and in the dataset)
    dataset_per_unit: float  # the fit's scale: dataset units per unit of ours

    def as_dict(self) -> dict[str, float | int]:
        return {
            "gravity_error_deg": round(self.gravity_error_deg, 3),
            "camera_centre_error_mean": round(self.centre_error_mean, 5),
            "camera_centre_error_max": round(self.centre_error_max, 5),
            "cameras_compared": self.cameras,
        }

    def marker_spacing(self, cameras: DatasetCameras = DatasetCameras()) -> float:
        """The sheet's top-left to top-right marker distance in our units (metres for an
        aligned model): a length a reader can judge the assumed scale by."""
        points, _ = cameras.marker_points()
        names = list(MARKERS)
        gap = points[names.index("top_left")] - points[names.index("top_right")]
        return float(np.linalg.norm(gap)) / self.dataset_per_unit


def compare_with_dataset(
    names: list[str],
    cam_from_world: np.ndarray,  # [N, 3, 4] our poses of the photos ``names``
    up: np.ndarray,  # [3] our frame's up (world z of an aligned model: [0, 0, 1])
    cameras: DatasetCameras = DatasetCameras(),
) -> DatasetComparison:
    """Fit our camera centres onto the dataset's (a similarity: the scales are unrelated) and
    measure what the fit leaves: the centres' spread and the angle between the ups."""
    ours = camera_centres(np.asarray(cam_from_world, float))
    theirs = np.array([cameras.centre(n) for n in names])
    fit = umeyama(ours, theirs)
    errors = np.linalg.norm(fit.apply(ours) - theirs, axis=1)
    extent = float(np.linalg.norm(theirs.max(0) - theirs.min(0)))
    return DatasetComparison(
        gravity_error_deg=angle_between_deg(fit.rotation @ np.asarray(up, float), cameras.up()),
        centre_error_mean=float(errors.mean()) / extent,
        centre_error_max=float(errors.max()) / extent,
        cameras=len(names),
        dataset_per_unit=fit.scale,
    )
