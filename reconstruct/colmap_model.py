"""Read a pycolmap sparse model as plain arrays, and measure how trustworthy it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from reconstruct.errors import ReconstructError


def load_model(model_dir: Path) -> pycolmap.Reconstruction:
    """The COLMAP binary model (cameras.bin, images.bin, points3D.bin) in ``model_dir``, e.g.
    ``SfmOutputs.model`` or ``AlignOutputs.model``."""
    if not (model_dir / "images.bin").is_file():
        raise ReconstructError(
            "no sparse model here; run the sfm stage first", file=model_dir, field="images.bin"
        )
    return pycolmap.Reconstruction(str(model_dir))


def save_model(rec: pycolmap.Reconstruction, model_dir: Path) -> Path:
    """Write ``rec`` in COLMAP binary format to ``model_dir``; returns that folder."""
    model_dir.mkdir(parents=True, exist_ok=True)
    rec.write(str(model_dir))
    return model_dir


@dataclass(frozen=True, eq=False)
class Poses:
    """Registered images of a model, sorted by name."""

    names: list[str]
    image_ids: list[int]
    cam_from_world: np.ndarray  # [N, 3, 4], model units


def registered_poses(rec: pycolmap.Reconstruction) -> Poses:
    """Names, ids and world-to-camera poses of the registered images."""
    images = sorted((rec.images[i] for i in rec.reg_image_ids()), key=lambda im: im.name)
    poses = np.array([im.cam_from_world().matrix() for im in images]).reshape(-1, 3, 4)
    return Poses([im.name for im in images], [im.image_id for im in images], poses)


def points_xyz(rec: pycolmap.Reconstruction) -> np.ndarray:
    """``[M, 3]`` 3D point positions, model units."""
    return np.array([p.xyz for p in rec.points3D.values()]).reshape(-1, 3)


def image_coverage(rec: pycolmap.Reconstruction, grid: int = 8) -> dict[str, float]:
    """Per registered image, the fraction of a ``grid x grid`` partition of the image that
    holds at least one observation of a 3D point.

    A model that looks accurate (low reprojection error) but whose observations bunch in a
    corner often comes from a repeated texture matched to the wrong copy.
    """
    out: dict[str, float] = {}
    for image_id in rec.reg_image_ids():
        image = rec.images[image_id]
        camera = rec.cameras[image.camera_id]
        xy = np.array([p.xy for p in image.get_observation_points2D()]).reshape(-1, 2)
        cells = np.floor(xy / [camera.width, camera.height] * grid).clip(0, grid - 1).astype(int)
        out[image.name] = len({(int(a), int(b)) for a, b in cells}) / grid**2
    return out


def model_stats(rec: pycolmap.Reconstruction) -> dict[str, float | int]:
    """The quality numbers recorded in the sfm summary."""
    coverage = image_coverage(rec)
    return {
        "registered": rec.num_reg_images(),
        "points": rec.num_points3D(),
        "mean_reprojection_error": round(float(rec.compute_mean_reprojection_error()), 4),
        "mean_track_length": round(float(rec.compute_mean_track_length()), 4),
        "mean_observations_per_image": round(
            float(rec.compute_mean_observations_per_reg_image()), 2
        ),
        "mean_coverage": round(float(np.mean(list(coverage.values()))) if coverage else 0.0, 4),
    }
