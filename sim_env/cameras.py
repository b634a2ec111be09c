"""Camera conventions: OpenCV poses and intrinsics in the package, MuJoCo cameras in the model.

An OpenCV camera looks down +z with y down; a MuJoCo camera looks down -z with y up, so the
two frames differ by a rotation of pi about x: ``R_mujoco = R_opencv @ diag(1, -1, -1)``.

Pixel centres: the package's intrinsics follow OpenCV (the top-left pixel's centre is (0, 0),
a centred camera has cx = (width - 1) / 2). Both renderers put pixel (i, j)'s centre at
(i + 0.5, j + 0.5) instead: MuJoCo's OpenGL frustum spans the image's outer edges, and gsplat
(and our CPU rasterizer) sample pixel centres at +0.5. ``Intrinsics`` holds the renderers'
convention; ``Intrinsics.of`` converts the package's numbers once, so MuJoCo's camera and the
splats' ``K`` come from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.package.schema import CameraSpec

OPENCV_TO_MUJOCO = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels, pixel (i, j) covering [i, i + 1) x [j, j + 1): a point
    (x, y, z) in the camera frame lands at (fx x / z + cx, fy y / z + cy), and a centred camera
    has cx = width / 2. The rasterizer's ``K`` convention (gsplat's), not OpenCV's."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def of(cls, camera: CameraSpec) -> Intrinsics:
        """A package camera's intrinsics (OpenCV: pixel centres at integers), converted."""
        return cls(
            camera.width, camera.height, camera.fx, camera.fy, camera.cx + 0.5, camera.cy + 0.5
        )

    def matrix(self) -> np.ndarray:
        """[3, 3] K."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same field of view rendered at another resolution (the image edges stay put)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy)


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """[3, 3] rotation of a unit quaternion (w, x, y, z)."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of a [3, 3] rotation."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.asarray(mat, dtype=np.float64).reshape(9))
    return quat


def opencv_to_mujoco_quat(quat_cv: np.ndarray) -> np.ndarray:
    return mat_to_quat(quat_to_mat(quat_cv) @ OPENCV_TO_MUJOCO)


def add_camera(body: mujoco.MjsBody, camera: CameraSpec) -> mujoco.MjsCamera:
    """A MuJoCo camera with the package's pinhole intrinsics and OpenCV pose."""
    k = Intrinsics.of(camera)
    return body.add_camera(
        name=camera.name,
        pos=list(camera.pose.pos),
        quat=list(opencv_to_mujoco_quat(np.array(camera.pose.quat))),
        resolution=[k.width, k.height],
        sensor_size=[float(k.width), float(k.height)],  # one length unit per pixel
        focal_pixel=[k.fx, k.fy],
        principal_pixel=[k.width / 2.0 - k.cx, k.height / 2.0 - k.cy],  # offsets from the centre
    )


def world_to_camera(data: mujoco.MjData, camera_id: int) -> np.ndarray:
    """[4, 4] world-to-camera transform (OpenCV axes) of a camera in the current state."""
    rot = data.cam_xmat[camera_id].reshape(3, 3) @ OPENCV_TO_MUJOCO  # camera-to-world
    view = np.eye(4)
    view[:3, :3] = rot.T
    view[:3, 3] = -rot.T @ data.cam_xpos[camera_id]
    return view


def look_at(
    eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 0.0, 1.0])
) -> np.ndarray:
    """(w, x, y, z) orientation of an OpenCV camera at ``eye`` looking at ``target``.

    Args:
        eye, target: [3] points in the parent frame, metres; up: [3] the parent's up direction.
    """
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return mat_to_quat(np.stack([right, down, forward], axis=1))
