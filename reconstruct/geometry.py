"""Pure array geometry for the reconstruction stages: similarities, planes, camera centres,
convex outlines on the table plane.

Conventions: points are row vectors ``[N, 3]``; a camera pose ``cam_from_world`` is ``[3, 4]``
(``x_cam = R @ x_world + t``, OpenCV/COLMAP axes: x right, y down, z forward). Lengths are in
whatever unit the inputs use (SfM model units before alignment, metres after).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError


@dataclass(frozen=True, eq=False)
class Similarity:
    """``p_dst = scale * rotation @ p_src + translation`` (a 7-DoF similarity transform)."""

    scale: float
    rotation: np.ndarray  # [3, 3], det = +1
    translation: np.ndarray  # [3]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform points ``[N, 3]`` (or one point ``[3]``)."""
        return self.scale * np.asarray(points, float) @ self.rotation.T + self.translation

    def matrix(self) -> np.ndarray:
        """The ``[4, 4]`` homogeneous matrix ``[[sR, t], [0, 1]]``."""
        out = np.eye(4)
        out[:3, :3] = self.scale * self.rotation
        out[:3, 3] = self.translation
        return out

    def inverse(self) -> Similarity:
        rot_inv = self.rotation.T
        return Similarity(1.0 / self.scale, rot_inv, -(rot_inv @ self.translation) / self.scale)


def umeyama(src: np.ndarray, dst: np.ndarray, *, with_scale: bool = True) -> Similarity:
    """Least-squares similarity mapping ``src`` onto ``dst`` (Umeyama 1991).

    Args:
        src: ``[N, 3]`` points, N >= 3 and not all collinear.
        dst: ``[N, 3]`` corresponding points.
        with_scale: estimate the scale (otherwise a rigid transform, scale 1).
    """
    src = np.asarray(src, float)
    dst = np.asarray(dst, float)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3 or len(src) < 3:
        raise ValueError(
            f"umeyama needs two [N, 3] arrays with N >= 3, got {src.shape}, {dst.shape}"
        )
    mu_src, mu_dst = src.mean(0), dst.mean(0)
    src_c, dst_c = src - mu_src, dst - mu_dst
    cov = dst_c.T @ src_c / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    if sigma[1] <= 1e-12 * max(sigma[0], 1e-300):
        raise ValueError("umeyama: the points are collinear or coincident")
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    var_src = (src_c**2).sum() / len(src)
    scale = float(np.trace(np.diag(sigma) @ sign) / var_src) if with_scale else 1.0
    translation = mu_dst - scale * rotation @ mu_src
    return Similarity(scale, rotation, translation)


def camera_centres(cam_from_world: np.ndarray) -> np.ndarray:
    """Camera centres in world coordinates, ``c = -R^T t``.

    Args:
        cam_from_world: ``[N, 3, 4]`` poses ``[R | t]``.
    Returns:
        ``[N, 3]`` centres, in the world's unit.
    """
    rot = cam_from_world[:, :, :3]
    trans = cam_from_world[:, :, 3]
    return -np.einsum("nji,nj->ni", rot, trans)


@dataclass(frozen=True, eq=False)
class Plane:
    """The plane ``normal @ p + offset = 0``, ``normal`` a unit ``[3]`` vector."""

    normal: np.ndarray  # [3]
    offset: float

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distances ``[N]`` of points ``[N, 3]``, positive on the normal's side."""
        return np.asarray(points, float) @ self.normal + self.offset

    def flipped(self) -> Plane:
        return Plane(-self.normal, -self.offset)


def fit_plane(points: np.ndarray) -> Plane:
    """Total-least-squares plane through ``[N, 3]`` points (N >= 3)."""
    points = np.asarray(points, float)
    centroid = points.mean(0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1] / np.linalg.norm(vt[-1])
    return Plane(normal, float(-normal @ centroid))


def ransac_plane(
    points: np.ndarray,
    threshold: float,
    *,
    iterations: int = 500,
    max_scored_points: int = 20000,
    seed: int = 0,
) -> tuple[Plane, np.ndarray]:
    """The plane with the most points within ``threshold``, refined on its inliers.

    Args:
        points: ``[N, 3]``, N >= 3.
        threshold: inlier distance, in the points' unit.
        iterations: random 3-point hypotheses.
        max_scored_points: hypotheses are scored on a random subset of this size (speed).
        seed: random seed (the result is deterministic for a given seed).
    Returns:
        The plane and the ``[N]`` boolean inlier mask over all points.
    """
    points = np.asarray(points, float)
    if len(points) < 3:
        raise ValueError(f"ransac_plane needs at least 3 points, got {len(points)}")
    rng = np.random.default_rng(seed)
    scored = points
    if len(points) > max_scored_points:
        scored = points[rng.choice(len(points), max_scored_points, replace=False)]
    samples = points[rng.integers(0, len(points), size=(iterations, 3))]  # [I, 3, 3]
    normals = np.cross(samples[:, 1] - samples[:, 0], samples[:, 2] - samples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    valid = norms > 1e-12
    normals = normals[valid] / norms[valid, None]
    offsets = -np.einsum("ij,ij->i", normals, samples[valid, 0])
    best, best_count = -1, -1
    for start in range(0, len(normals), 64):
        dist = np.abs(scored @ normals[start : start + 64].T + offsets[start : start + 64])
        counts = (dist < threshold).sum(0)
        k = int(np.argmax(counts)) if len(counts) else 0
        if len(counts) and counts[k] > best_count:
            best, best_count = start + k, int(counts[k])
    if best < 0:
        raise ValueError("ransac_plane: all sampled point triples were degenerate")
    plane = Plane(normals[best], float(offsets[best]))
    for _ in range(2):  # refit on inliers, then re-select inliers with the refined plane
        inliers = np.abs(plane.distance(points)) < threshold
        if inliers.sum() < 3:
            break
        plane = fit_plane(points[inliers])
    return plane, np.abs(plane.distance(points)) < threshold


def frame_from_axes(z_axis: np.ndarray, x_hint: np.ndarray) -> np.ndarray:
    """Rotation ``[3, 3]`` whose rows are the new x, y, z axes (so ``R @ v`` expresses v in them).

    z is ``z_axis`` normalised; x is ``x_hint`` with its z component removed; y = z × x.
    """
    z = np.asarray(z_axis, float) / np.linalg.norm(z_axis)
    x = np.asarray(x_hint, float) - (np.asarray(x_hint, float) @ z) * z
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("frame_from_axes: the x hint is parallel to the z axis")
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def triangulate(cam_from_world: np.ndarray, normalized: np.ndarray) -> np.ndarray:
    """Linear (DLT) triangulation of one point seen in several views.

    Args:
        cam_from_world: ``[V, 3, 4]`` poses, V >= 2.
        normalized: ``[V, 2]`` undistorted normalised image coordinates (x/z, y/z).
    Returns:
        ``[3]`` world point.
    """
    rows = []
    for pose, (u, v) in zip(cam_from_world, normalized, strict=True):
        rows.append(u * pose[2] - pose[0])
        rows.append(v * pose[2] - pose[1])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    homog = vt[-1]
    return homog[:3] / homog[3]


def angle_between_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two vectors ``[3]`` (direction only)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def outline(xy: np.ndarray) -> np.ndarray | None:
    """Counter-clockwise convex outline ``[K, 2]`` of ``[N, 2]`` points; None without area."""
    if len(xy) < 3:
        return None
    try:
        hull = ConvexHull(xy)
    except QhullError:
        return None
    return xy[hull.vertices]


def ray_exit(polygon: np.ndarray, start: np.ndarray, direction: np.ndarray) -> float:
    """Distance along ``direction`` (unit ``[2]``) from ``start`` ``[2]`` to where the ray
    leaves the convex ``polygon`` ``[K, 2]`` (0 if ``start`` is outside)."""
    best = np.inf
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        edge = b - a
        normal = np.array([edge[1], -edge[0]])  # outward for a counter-clockwise polygon
        rate = direction @ normal
        if rate > 1e-12:
            best = min(best, float((a - start) @ normal / rate))
    return max(best, 0.0) if np.isfinite(best) else 0.0


def inside(polygon: np.ndarray, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """``[N]`` bool: which of ``[N, 2]`` points lie inside the convex counter-clockwise
    ``polygon`` ``[K, 2]``, or less than ``margin`` outside its edges' lines."""
    edges = np.roll(polygon, -1, axis=0) - polygon
    outward = np.c_[edges[:, 1], -edges[:, 0]] / np.linalg.norm(edges, axis=1)[:, None]
    beyond = np.einsum("nkd,kd->nk", xy[:, None, :] - polygon[None], outward)
    return np.all(beyond <= margin, axis=1)


def trim_strays(xy: np.ndarray) -> np.ndarray:
    """``[T, 2]`` points without the strays: those over 3x the median distance from the middle."""
    if len(xy) < 4:
        return xy
    radius = np.linalg.norm(xy - np.median(xy, axis=0), axis=1)
    return xy[radius <= 3 * np.median(radius)]


def seen_table(
    local: np.ndarray, inliers: np.ndarray, looked_at: np.ndarray | None = None
) -> np.ndarray:
    """``[T, 2]`` table xy that structure from motion saw: the ``[M]`` plane ``inliers`` of the
    ``[M, 3]`` points in world axes (strays trimmed) and the ``[N, 2]`` points the cameras
    look at on the table."""
    xy = trim_strays(local[inliers][:, :2])
    return xy if looked_at is None else np.r_[xy, looked_at]


def over_table(
    local: np.ndarray,
    inliers: np.ndarray,
    threshold: float,
    margin: float,
    looked_at: np.ndarray | None = None,
) -> np.ndarray:
    """``[M]`` bool: the points on or over the table, of ``[M, 3]`` points in world axes
    (table at z = 0, any unit): not under it, and within ``margin`` of the outline of its
    ``[M]`` ``inliers`` and of the ``[N, 2]`` points the cameras look at on it (objects may
    stand where the table has no points)."""
    polygon = outline(seen_table(local, inliers, looked_at))
    if polygon is None:
        return local[:, 2] > -threshold
    return inside(polygon, local[:, :2], margin) & (local[:, 2] > -threshold)
