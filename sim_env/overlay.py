"""Where a package's geometry lands in a camera image, so lines drawn over a render sit on what
the render shows: mesh edges, convex-hull outlines, the table frame and the robot base.

Projection goes through the renderers' own pinhole (:class:`sim_env.cameras.Intrinsics`, pixel
(i, j) covering [i, i + 1) x [j, j + 1)) and the camera's pose in the simulated state
(:func:`sim_env.cameras.world_to_camera`), so a world point and the pixel MuJoCo draws it at
agree. Geometry closer to the camera plane than :data:`NEAR` is clipped away before projecting
(a point behind the camera has no pixel).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from sim_env.cameras import Intrinsics, quat_to_mat, world_to_camera
from sim_env.package import EnvPackage, Pose
from sim_env.package.geometry import load_mesh
from sim_env.scene import SceneModel

NEAR = 0.01  # m: the clip plane in front of the camera
FEATURE_ANGLE_DEG = 30.0  # mesh edges whose faces meet at a sharper angle are drawn
MAX_EDGES = 1500  # per mesh: the sharpest ones, so a dense scan stays readable
TABLE = "table"


@dataclass(frozen=True)
class Pinhole:
    """One camera in one simulated state, at the size of the image it describes."""

    view: np.ndarray  # [4, 4] world -> camera (OpenCV axes: x right, y down, z forward), m
    intrinsics: Intrinsics  # at the image's size

    @classmethod
    def at(cls, data: mujoco.MjData, camera_id: int, intrinsics: Intrinsics) -> Pinhole:
        return cls(world_to_camera(data, camera_id), intrinsics)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world points, m -> [N, 3] camera-frame points, m."""
        return np.asarray(points, np.float64) @ self.view[:3, :3].T + self.view[:3, 3]

    def pixels(self, points_camera: np.ndarray) -> np.ndarray:
        """[N, 3] camera-frame points (z > 0), m -> [N, 2] (x, y) pixel coordinates, px."""
        k = self.intrinsics
        z = points_camera[:, 2]
        return np.stack(
            [k.fx * points_camera[:, 0] / z + k.cx, k.fy * points_camera[:, 1] / z + k.cy], axis=1
        )

    def project(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world points, m -> [N, 2] pixel coordinates, px; NaN behind the near plane."""
        cam = self.to_camera(points)
        out = np.full((len(cam), 2), np.nan)
        front = cam[:, 2] > NEAR
        out[front] = self.pixels(cam[front])
        return out


def table_point(camera: Pinhole, pixel: tuple[float, float], z: float = 0.0) -> np.ndarray | None:
    """[3] the world point (m) on the plane at height ``z`` that ``pixel`` (x, y px, at the
    camera's size) sees, or None where its ray runs parallel to the plane or meets it behind
    the near plane: the inverse of :meth:`Pinhole.project` on that plane."""
    k = camera.intrinsics
    ray = np.array([(pixel[0] - k.cx) / k.fx, (pixel[1] - k.cy) / k.fy, 1.0])  # camera frame
    rot = camera.view[:3, :3]
    origin, direction = -rot.T @ camera.view[:3, 3], rot.T @ ray
    if abs(direction[2]) < 1e-12:
        return None
    depth = (z - origin[2]) / direction[2]  # along the optical axis, m
    return origin + depth * direction if depth > NEAR else None


def project_segments(segments: np.ndarray, camera: Pinhole) -> np.ndarray:
    """[E, 2, 3] world segments, m -> [E', 2, 2] pixel segments, px: each clipped to the part
    in front of the near plane; segments wholly behind it are dropped."""
    if len(segments) == 0:
        return np.zeros((0, 2, 2))
    a, b = camera.to_camera(segments[:, 0]), camera.to_camera(segments[:, 1])
    keep = (a[:, 2] > NEAR) | (b[:, 2] > NEAR)
    a, b = a[keep], b[keep]
    t = (NEAR - a[:, 2]) / np.where(a[:, 2] == b[:, 2], 1.0, b[:, 2] - a[:, 2])
    crossing = a + t[:, None] * (b - a)
    a = np.where((a[:, 2] > NEAR)[:, None], a, crossing)
    b = np.where((b[:, 2] > NEAR)[:, None], b, crossing)
    return np.stack([camera.pixels(a), camera.pixels(b)], axis=1)


def hull_outline(vertices: np.ndarray, edges: np.ndarray, camera: Pinhole) -> np.ndarray | None:
    """The image outline of a convex body: [K, 2] pixel polygon (counter-clockwise in x-right,
    y-down pixels as scipy orders it), or None when none of it lies in front of the camera.

    Args:
        vertices: [N, 3] world points of the convex body, m.
        edges: [E, 2] vertex indices of its edges; where the body crosses the near plane, the
            edges' crossings there bound the visible part.
    """
    cam = camera.to_camera(vertices)
    front = cam[:, 2] > NEAR
    points = [cam[front]]
    a, b = cam[edges[:, 0]], cam[edges[:, 1]]
    cross = (a[:, 2] > NEAR) != (b[:, 2] > NEAR)
    if cross.any():
        a, b = a[cross], b[cross]
        t = (NEAR - a[:, 2]) / (b[:, 2] - a[:, 2])
        points.append(a + t[:, None] * (b - a))
    visible = np.concatenate(points)
    if len(visible) < 3:
        return None
    pixels = camera.pixels(visible)
    try:
        return pixels[ConvexHull(pixels).vertices]
    except QhullError:  # seen edge-on: a line, no area
        return None


def feature_edges(
    mesh: trimesh.Trimesh, angle_deg: float = FEATURE_ANGLE_DEG, limit: int = MAX_EDGES
) -> np.ndarray:
    """[E, 2, 3] segments in the mesh's frame, m: its creases (faces meeting at more than
    ``angle_deg``) and open borders, at most ``limit`` of them, sharpest first (borders count as
    sharpest). Vertices split at texture seams are welded first, so a seam is not a border."""
    welded = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    welded.merge_vertices(merge_tex=True, merge_norm=True)
    angles = welded.face_adjacency_angles
    sharp = angles > np.radians(angle_deg)
    edges = [welded.face_adjacency_edges[sharp]]
    weights = [angles[sharp]]
    sorted_edges = np.sort(welded.edges, axis=1)
    unique, counts = np.unique(sorted_edges, axis=0, return_counts=True)
    border = unique[counts == 1]
    edges.append(border)
    weights.append(np.full(len(border), np.pi))
    edges_all, weight = np.concatenate(edges), np.concatenate(weights)
    order = np.argsort(-weight, kind="stable")[:limit]
    return np.asarray(welded.vertices)[edges_all[order]]


@dataclass(frozen=True)
class Wireframe:
    """A body's geometry in the world, ready to project: its visual mesh's feature edges and
    its convex collision hulls."""

    name: str  # the object's name, or TABLE for the static scene
    edges: np.ndarray  # [E, 2, 3] world segments, m
    hulls: tuple[tuple[np.ndarray, np.ndarray], ...]  # per hull: [N, 3] world vertices, [E, 2]


def _placed(points: np.ndarray, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
    return np.asarray(points, np.float64) @ rotation.T + position


def _wireframe(
    name: str, root: Path, mesh: str | None, hulls: list[str], rot: np.ndarray, pos: np.ndarray
) -> Wireframe:
    """``mesh``'s feature edges (without a mesh, the hulls') and the hulls, placed by (rot, pos)."""
    placed, local = [], []
    for rel in hulls:
        hull = load_mesh(root / rel)
        placed.append((_placed(hull.vertices, rot, pos), np.asarray(hull.edges_unique)))
        if mesh is None:
            local.append(feature_edges(hull))
    if mesh is not None:
        local.append(feature_edges(load_mesh(root / mesh)))
    edges = _placed(np.concatenate(local).reshape(-1, 3), rot, pos).reshape(-1, 2, 3)
    return Wireframe(name, edges, tuple(placed))


def package_wireframes(
    package: EnvPackage, scene: SceneModel, data: mujoco.MjData
) -> list[Wireframe]:
    """The table, then every object at its pose in ``data``.

    The table is drawn from its collision hulls alone (their edges too): a scanned scene's
    visual mesh is the whole room around it, edges everywhere.
    """
    spec, root = package.spec, package.root
    table = _wireframe(TABLE, root, None, spec.scene.collision_hulls, np.eye(3), np.zeros(3))
    bodies = {o.name: o.body_id for o in scene.objects}
    objects = [
        _wireframe(
            o.name,
            root,
            o.visual.mesh,
            o.collision_hulls,
            data.xmat[bodies[o.name]].reshape(3, 3),
            data.xpos[bodies[o.name]],
        )
        for o in spec.objects
    ]
    return [table, *objects]


def frame_axes(pose: Pose, length: float) -> np.ndarray:
    """[3, 2, 3] world segments, m: the x, y and z axes of ``pose``'s frame, ``length`` long."""
    origin, rot = np.asarray(pose.pos, np.float64), quat_to_mat(np.asarray(pose.quat))
    return np.stack([np.stack([origin, origin + length * rot[:, i]]) for i in range(3)])


def base_marker(pose: Pose, radius: float, sides: int = 24) -> np.ndarray:
    """[sides + 1, 2, 3] world segments, m: a ring of ``radius`` in the robot base's xy plane
    around its origin, and a spoke along its x axis (the way the arm faces at zero yaw)."""
    origin, rot = np.asarray(pose.pos, np.float64), quat_to_mat(np.asarray(pose.quat))
    angles = np.linspace(0.0, 2 * np.pi, sides + 1)
    ring = origin + radius * (
        np.cos(angles)[:, None] * rot[:, 0] + np.sin(angles)[:, None] * rot[:, 1]
    )
    segments = np.stack([ring[:-1], ring[1:]], axis=1)
    spoke = np.stack([origin, origin + 1.5 * radius * rot[:, 0]])[None]
    return np.concatenate([segments, spoke])
