"""The registered frames of the aligned model as training views: undistorted pinhole images at
a chosen width, intrinsics and world-to-camera matrices (OpenCV axes, world metres)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pycolmap

from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.errors import ReconstructError


@dataclass(frozen=True, eq=False)
class View:
    """One frame as the splat trainers and renderers use it.

    ``K`` follows gsplat's convention (pixel centres at integer + 0.5, like COLMAP's), which
    is what ``sim_env.splats.rasterize`` expects.
    """

    name: str
    image: np.ndarray  # [H, W, 3] float32 RGB in [0, 1]
    K: np.ndarray  # [3, 3] pinhole intrinsics, pixels
    viewmat: np.ndarray  # [4, 4] world -> camera
    points: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 3))
    )  # [P, 3] SfM points it sees

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def centre(self) -> np.ndarray:
        return -self.viewmat[:3, :3].T @ self.viewmat[:3, 3]


def pinhole_of(camera: pycolmap.Camera) -> np.ndarray:
    """[3, 3] pinhole intrinsics of a COLMAP camera with its distortion removed."""
    return np.array(
        [
            [camera.focal_length_x, 0.0, camera.principal_point_x],
            [0.0, camera.focal_length_y, camera.principal_point_y],
            [0.0, 0.0, 1.0],
        ]
    )


def undistort_maps(camera: pycolmap.Camera) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps from the pinhole image (same size and K) into the distorted one."""
    k = pinhole_of(camera)
    u, v = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    rays = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1)
    source = camera.img_from_cam(rays.reshape(-1, 3), check_cheirality=False)
    source = source.reshape(camera.height, camera.width, 2) - 0.5  # to cv2's pixel centres
    return source[..., 0].astype(np.float32), source[..., 1].astype(np.float32)


def load_views(
    model_dir: Path, image_dir: Path, width: int | None = None, names: list[str] | None = None
) -> list[View]:
    """Every registered frame (or those in ``names``) of the model under ``model_dir``,
    undistorted and resized to ``width`` px (keeping the aspect), in name order."""
    rec = load_model(model_dir)
    poses = registered_poses(rec)
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    views = []
    for name, image_id, pose in zip(
        poses.names, poses.image_ids, poses.cam_from_world, strict=True
    ):
        if names is not None and name not in names:
            continue
        camera = rec.cameras[rec.images[image_id].camera_id]
        bgr = cv2.imread(str(image_dir / name), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ReconstructError(
                "cannot read this frame; re-run the frames stage", file=image_dir / name
            )
        if bgr.shape[:2] != (camera.height, camera.width):
            raise ReconstructError(
                f"frame is {bgr.shape[1]}x{bgr.shape[0]} but its camera is "
                f"{camera.width}x{camera.height}; re-run the sfm stage",
                file=image_dir / name,
            )
        k = pinhole_of(camera)
        if not camera.is_undistorted():
            if camera.camera_id not in maps:
                maps[camera.camera_id] = undistort_maps(camera)
            map_x, map_y = maps[camera.camera_id]
            bgr = cv2.remap(bgr, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if width is not None and width != camera.width:
            height = max(1, round(camera.height * width / camera.width))
            bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
            k = np.diag([width / camera.width, height / camera.height, 1.0]) @ k
        viewmat = np.eye(4)
        viewmat[:3] = pose
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        seen = [
            rec.points3D[p.point3D_id].xyz for p in rec.images[image_id].get_observation_points2D()
        ]
        views.append(View(name, rgb, k, viewmat, np.asarray(seen, float).reshape(-1, 3)))
    if not views:
        raise ReconstructError("no registered frames to use", file=model_dir)
    return views


def holdout_split(count: int, every: int) -> tuple[list[int], list[int]]:
    """(training, held-out) indices: every ``every``-th view is held out (0, every, ...);
    ``every`` <= 1 holds none out."""
    if every <= 1 or count < 2:
        return list(range(count)), []
    test = list(range(0, count, every))
    return [i for i in range(count) if i % every], test
