"""Gravity from an SfM model: the table plane, the floor under it, the objects' top.

Scale-free: every length threshold is a fraction of the scene's reach (the median distance
from the cameras to the points' median), so the search behaves the same in SfM units and in
metres.

The table is the plane the whole capture stands on: cameras above it, looking down at it and
held roughly upright, and the other points above it, not under it. Planes are hypothesised
from point triples, most of them local (a point and two of its neighbours, so that a table
holding a few percent of the points, around an object that fills the frames, is still
sampled), and each is scored rather than thresholded::

    score = inliers - below_weight * (points under the plane
                                      + points * fraction of cameras under it
                                      + points * fraction of cameras looking up at it
                                      + points * fraction of cameras held upside down to it)

A user hint (points near a pixel of one frame, which lie on the table) or a printed marker's
normal (the table is parallel to it) rules other planes out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from reconstruct.errors import ReconstructError
from reconstruct.geometry import Plane, angle_between_deg, fit_plane

LOOKING_UP = np.sin(np.radians(30.0))  # optical axis more than 30 deg above the table's horizon
UPSIDE_DOWN = np.sin(np.radians(45.0))  # image "down" more than 45 deg above the horizon


@dataclass(frozen=True)
class PlaneSearch:
    """How the table plane is searched for (scale-free).

    Attributes:
        threshold: inlier distance, as a fraction of the scene's reach.
        min_points: the table holds at least this many points ...
        min_share: ... and at least this fraction of them.
        hypotheses: point triples tried (three quarters local, the rest global).
        neighbours: a local triple is a point and two of its this many nearest neighbours.
        below_weight: cost of one point under a plane, in inliers.
        max_scored_points: planes are scored on a random subset of this size (speed).
        max_marker_tilt_deg: largest angle between the table and a marker lying on it.
        seed: random seed (the result is deterministic for a given seed).
    """

    threshold: float = 0.01
    min_points: int = 10
    min_share: float = 0.02
    hypotheses: int = 3000
    neighbours: int = 16
    below_weight: float = 2.0
    max_scored_points: int = 20000
    max_marker_tilt_deg: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "threshold": 0 < self.threshold < 1,
            "min_points": self.min_points >= 3,
            "min_share": 0 <= self.min_share < 1,
            "hypotheses": self.hypotheses >= 10,
            "neighbours": self.neighbours >= 2,
            "below_weight": self.below_weight >= 0,
            "max_scored_points": self.max_scored_points >= 100,
            "max_marker_tilt_deg": 0 < self.max_marker_tilt_deg <= 90,
        }
        for name, ok in checks.items():
            if not ok:
                raise ReconstructError(
                    f"invalid value {getattr(self, name)!r} (0 < threshold < 1, min_points >= 3, "
                    "0 <= min_share < 1, hypotheses >= 10, neighbours >= 2, below_weight >= 0, "
                    "max_scored_points >= 100, 0 < max_marker_tilt_deg <= 90)",
                    field=f"align.plane.{name}",
                )


@dataclass(frozen=True, eq=False)
class Cameras:
    """The registered cameras, in the points' frame and unit."""

    centres: np.ndarray  # [N, 3]
    forward: np.ndarray  # [N, 3] unit optical axes (camera z)
    down: np.ndarray  # [N, 3] unit image "down" directions (camera y)

    @classmethod
    def from_poses(cls, cam_from_world: np.ndarray) -> Cameras:
        """From ``[N, 3, 4]`` world-to-camera poses ``[R | t]``."""
        rot = cam_from_world[:, :, :3]
        centres = -np.einsum("nji,nj->ni", rot, cam_from_world[:, :, 3])
        return cls(centres, rot[:, 2], rot[:, 1])


@dataclass(frozen=True, eq=False)
class TablePlane:
    """The table found: its plane (normal toward the cameras), inliers and how it scored."""

    plane: Plane
    inliers: np.ndarray  # [M] bool over all points
    threshold: float  # inlier distance used, points' unit
    reach: float  # median camera-to-scene distance, points' unit
    score: float
    cameras_above: float  # fraction
    points_below: float  # fraction of all points under the plane
    runner_up: str  # the best clearly different plane, described (empty if none)

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "inliers": int(self.inliers.sum()),
            "inlier_ratio": round(float(self.inliers.mean()), 4),
            "threshold": self.threshold,
            "reach": self.reach,
            "score": round(self.score, 2),
            "cameras_above": round(self.cameras_above, 4),
            "points_below": round(self.points_below, 4),
            "runner_up": self.runner_up,
        }


def scene_reach(points: np.ndarray, centres: np.ndarray) -> float:
    """Median distance from the cameras ``[N, 3]`` to the median of the points ``[M, 3]``."""
    return float(np.median(np.linalg.norm(centres - np.median(points, axis=0), axis=1)))


def hypotheses(points: np.ndarray, search: PlaneSearch) -> tuple[np.ndarray, np.ndarray]:
    """Planes through point triples of ``[M, 3]`` points: unit normals ``[H, 3]``, offsets
    ``[H]`` (degenerate triples dropped)."""
    rng = np.random.default_rng(search.seed)
    count = search.hypotheses
    k = min(search.neighbours, len(points) - 1)
    local = (3 * count) // 4
    first = rng.integers(0, len(points), local)
    _, near = cKDTree(points).query(points[first], k=k + 1)
    pick = rng.integers(1, k + 1, (local, 2))
    triples = np.c_[first, near[np.arange(local)[:, None], pick]]
    triples = np.r_[triples, rng.integers(0, len(points), (count - local, 3))]
    samples = points[triples]  # [H, 3, 3]
    normals = np.cross(samples[:, 1] - samples[:, 0], samples[:, 2] - samples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    valid = norms > 1e-9 * float(np.ptp(points, axis=0).max()) ** 2
    normals = normals[valid] / norms[valid, None]
    return normals, -np.einsum("ij,ij->i", normals, samples[valid, 0])


def score_planes(
    normals: np.ndarray,
    offsets: np.ndarray,
    points: np.ndarray,
    cameras: Cameras,
    threshold: float,
    below_weight: float,
) -> dict[str, np.ndarray]:
    """Score planes (``[H, 3]`` normals, ``[H]`` offsets) as tables of ``[M, 3]`` points.

    Returns per plane, ``[H]`` each: ``normals`` and ``offsets`` (turned toward most cameras),
    ``score``, ``inliers`` and ``below`` (point counts), ``cameras_above``, ``looking_up``,
    ``upside_down`` (fractions of the cameras).
    """
    side = cameras.centres @ normals.T + offsets  # [N, H]
    flip = np.where(np.mean(side > 0, axis=0) < 0.5, -1.0, 1.0)
    normals, offsets, side = normals * flip[:, None], offsets * flip, side * flip
    inliers, below = [], []
    for start in range(0, len(normals), 256):
        dist = points @ normals[start : start + 256].T + offsets[start : start + 256]
        inliers.append((np.abs(dist) < threshold).sum(0))
        below.append((dist < -threshold).sum(0))
    scores = {
        "normals": normals,
        "offsets": offsets,
        "inliers": np.concatenate(inliers),
        "below": np.concatenate(below),
        "cameras_above": np.mean(side > 0, axis=0),
        "looking_up": np.mean(cameras.forward @ normals.T > LOOKING_UP, axis=0),
        "upside_down": np.mean(cameras.down @ normals.T > UPSIDE_DOWN, axis=0),
    }
    bad_cameras = (1 - scores["cameras_above"]) + scores["looking_up"] + scores["upside_down"]
    cost = scores["below"] + len(points) * bad_cameras
    scores["score"] = scores["inliers"] - below_weight * cost
    return scores


def _describe(scores: dict[str, np.ndarray], i: int, total: int) -> str:
    return (
        f"{scores['inliers'][i] / total:.0%} of points on it, {scores['below'][i] / total:.0%} "
        f"under it, {scores['cameras_above'][i]:.0%} of cameras above, "
        f"{scores['looking_up'][i]:.0%} looking up at it"
    )


def find_table(
    points: np.ndarray,
    cameras: Cameras,
    search: PlaneSearch,
    *,
    on_table: np.ndarray | None = None,
    marker_normal: np.ndarray | None = None,
) -> TablePlane:
    """The best-scoring table plane, refined on its inliers.

    Args:
        points: ``[M, 3]`` SfM points (any unit).
        cameras: the registered cameras, same frame and unit.
        search: thresholds and weights.
        on_table: ``[M]`` bool, points the user says lie on the table (at least half of them
            must be inliers of the plane).
        marker_normal: ``[3]`` the normal of a marker lying on the table.
    """
    if len(points) < max(search.min_points, 4):
        raise ReconstructError(
            f"the model has {len(points)} points, too few to find the table", field="sfm"
        )
    reach = scene_reach(points, cameras.centres)
    threshold = search.threshold * reach
    subset = np.arange(len(points))
    if len(points) > search.max_scored_points:
        rng = np.random.default_rng(search.seed)
        subset = np.sort(rng.choice(len(points), search.max_scored_points, replace=False))
    normals, offsets = hypotheses(points, search)
    scores = score_planes(normals, offsets, points[subset], cameras, threshold, search.below_weight)
    need = max(search.min_points, search.min_share * len(points)) * len(subset) / len(points)
    allowed = scores["inliers"] >= need
    if marker_normal is not None:
        tilt = np.degrees(np.arccos(np.clip(np.abs(scores["normals"] @ marker_normal), 0, 1)))
        allowed &= tilt <= search.max_marker_tilt_deg
    if on_table is not None:
        hinted = points[on_table]
        near = np.abs(hinted @ scores["normals"].T + scores["offsets"]) < threshold
        allowed &= near.mean(0) >= 0.5
    if not allowed.any():
        raise _no_table(scores, len(subset), on_table is not None, marker_normal is not None)
    ranked = np.argsort(np.where(allowed, scores["score"], -np.inf))[::-1]
    best = int(ranked[0])
    plane = Plane(scores["normals"][best], float(scores["offsets"][best]))
    for _ in range(3):  # refit on the inliers, keeping the side the cameras are on
        inliers = np.abs(plane.distance(points)) < threshold
        if inliers.sum() < 3:
            break
        refit = fit_plane(points[inliers])
        plane = refit if refit.normal @ plane.normal > 0 else refit.flipped()
    runner_up = ""
    for i in ranked[1 : int(allowed.sum())]:
        other = Plane(scores["normals"][i], float(scores["offsets"][i]))
        apart = abs(other.distance(points[inliers]).mean()) > 3 * threshold
        if angle_between_deg(other.normal, plane.normal) > 10 or apart:
            runner_up = f"score {scores['score'][i]:.0f}: {_describe(scores, int(i), len(subset))}"
            break
    distance = plane.distance(points)
    return TablePlane(
        plane=plane,
        inliers=np.abs(distance) < threshold,
        threshold=threshold,
        reach=reach,
        score=float(scores["score"][best]),
        cameras_above=float(np.mean(plane.distance(cameras.centres) > 0)),
        points_below=float(np.mean(distance < -threshold)),
        runner_up=runner_up,
    )


def _no_table(
    scores: dict[str, np.ndarray], total: int, hinted: bool, marker: bool
) -> ReconstructError:
    best = int(np.argmax(scores["inliers"]))
    why = []
    if hinted:
        why.append("none passes through the points at the --table-hint pixel")
    if marker:
        why.append("none lies parallel to the marker")
    reason = "; ".join(why) or "none holds enough points"
    return ReconstructError(
        f"no table plane found ({reason}; the largest plane has "
        f"{_describe(scores, best, total)}): film the table top from above its surface, with "
        "plenty of textured (not glossy) table in view around the objects, or point at the "
        "table with --table-hint FRAME X Y",
        field="align",
    )


def looked_at(plane: Plane, cameras: Cameras, max_distance: float) -> np.ndarray:
    """``[K, 3]`` where the optical axes of the cameras looking down at ``plane`` meet it,
    for those meeting it within ``max_distance`` of the camera."""
    height = plane.distance(cameras.centres)
    rate = cameras.forward @ plane.normal
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(rate < -1e-6, -height / rate, np.inf)
    hits = (reach > 0) & (reach <= max_distance)
    return cameras.centres[hits] + reach[hits, None] * cameras.forward[hits]


def parallel_band(
    heights: np.ndarray, threshold: float, side: int, min_points: int
) -> tuple[float, int] | None:
    """The densest band ``2 * threshold`` thick of ``heights`` (signed distances to a plane,
    ``[M]``) on one ``side`` (+1 above, -1 below), clear of the plane: its median height and
    point count, or None if no band holds ``min_points``."""
    keep = np.sort(heights[side * heights > 3 * threshold])
    if len(keep) < min_points:
        return None
    ends = np.searchsorted(keep, keep + 2 * threshold, side="right")
    counts = ends - np.arange(len(keep))
    i = int(np.argmax(counts))
    if counts[i] < min_points:
        return None
    return float(np.median(keep[i : ends[i]])), int(counts[i])


def object_top(
    local: np.ndarray, over_table: np.ndarray, threshold: float, percentile: float
) -> float | None:
    """Height of the tallest object's top above the table, from ``[M, 3]`` points in world
    axes (table at z = 0, any unit): a high ``percentile`` of the heights of the points
    standing over the table (``over_table``, ``[M]`` bool) that have three neighbours within
    ``3 * threshold`` (stray SfM points float alone); None if nothing stands on the table."""
    standing = local[over_table & (local[:, 2] > 3 * threshold)]
    if len(standing) < 4:
        return None
    counts = cKDTree(standing).query_ball_point(standing, 3 * threshold, return_length=True)
    dense = standing[counts >= 4]  # itself and three others
    if len(dense) < 3:
        return None
    return float(np.percentile(dense[:, 2], percentile))
