"""Object candidates: the scene mesh's geometry above the table plane, clustered.

The mesh surface is sampled densely (area-weighted); samples higher than ``seed_height``
above the table (z = 0 in the world frame) are clustered by DBSCAN, and each cluster tall
and wide enough to be an object, and not too wide to be one, becomes a candidate. Then every
sample higher than ``min_height`` over the candidate's footprint (its cells' outline with the
holes filled, so a tray's floor is in, grown by ``reach``) joins it: low bumps of the table
next to an object do not chain onto it, as they would if all samples above ``min_height``
were clustered at once. Candidates are numbered by their centroid (x, then y) so the ids are
stable across re-runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d
from scipy import ndimage
from scipy.spatial import cKDTree

from reconstruct.errors import ReconstructError
from reconstruct.object_edits import ObjectEdits, Point2

AT_RADIUS = 0.05  # m, an "at: [x, y]" reference picks the candidate with a sample this near


@dataclass(frozen=True)
class SegmentConfig:
    """Attributes (metres):
    sample_spacing: mean distance between surface samples.
    seed_height: samples higher than this are clustered into candidates.
    min_height: samples lower than this are table.
    reach: lower samples join a candidate within this distance of its footprint.
    merge_gap: clusters closer than this are one candidate (the parts of a tray's walls
        whose fused tops dip below ``seed_height``).
    cluster_distance: DBSCAN neighbourhood radius.
    min_samples: DBSCAN core-point neighbours.
    min_object_height: candidates must reach this high (the table's far, grazing edges
        reconstruct up to ~2 cm high bumps; graspable objects are taller).
    min_size, max_size: a candidate's footprint diagonal must lie in between.
    """

    sample_spacing: float = 0.0015
    seed_height: float = 0.015
    min_height: float = 0.005
    reach: float = 0.008
    merge_gap: float = 0.015
    cluster_distance: float = 0.008
    min_samples: int = 8
    min_object_height: float = 0.025
    min_size: float = 0.015
    max_size: float = 0.5


@dataclass(frozen=True, eq=False)
class Candidate:
    id: int
    points: np.ndarray  # [P, 3] world, metres
    colors: np.ndarray  # [P, 3] in [0, 1]

    @property
    def centroid(self) -> np.ndarray:
        return self.points.mean(0)

    def describe(self) -> dict:
        lo, hi = self.points.min(0), self.points.max(0)
        return {
            "id": self.id,
            "centroid_m": self.centroid.round(4).tolist(),
            "size_m": (hi - lo).round(4).tolist(),
            "samples": len(self.points),
        }


def surface_samples(
    mesh: o3d.geometry.TriangleMesh, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """``[S, 3]`` points and ``[S, 3]`` colours spread evenly over the mesh surface."""
    count = max(1000, int(mesh.get_surface_area() / spacing**2))
    cloud = mesh.sample_points_uniformly(number_of_points=count)
    colors = np.asarray(cloud.colors) if cloud.has_colors() else np.full((count, 3), 0.5)
    return np.asarray(cloud.points), colors


def _over(xy: np.ndarray, seeds: np.ndarray, cell: float, reach: float) -> np.ndarray:
    """``[N]`` whether points ``xy`` lie over the filled outline of ``seeds`` grown by ``reach``."""
    grow = int(np.ceil(reach / cell))
    lo = seeds.min(0) - (grow + 2) * cell
    shape = tuple((np.ceil((seeds.max(0) + (grow + 2) * cell - lo) / cell)).astype(int)[::-1])
    grid = np.zeros(shape, bool)
    ij = np.floor((seeds - lo) / cell).astype(int)
    grid[ij[:, 1], ij[:, 0]] = True
    grid = ndimage.binary_dilation(
        ndimage.binary_fill_holes(ndimage.binary_closing(grid, iterations=2)), iterations=grow
    )
    ij = np.floor((xy - lo) / cell).astype(int)
    inside = np.all((ij >= 0) & (ij < np.array(shape[::-1])), axis=1)
    out = np.zeros(len(xy), bool)
    out[inside] = grid[ij[inside, 1], ij[inside, 0]]
    return out


def merge_close(points: np.ndarray, labels: np.ndarray, gap: float) -> np.ndarray:
    """DBSCAN labels (-1 noise) with clusters closer than ``gap`` (m) given one label."""
    count = labels.max() + 1 if len(labels) else 0
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    trees = [cKDTree(points[labels == k]) for k in range(count)]
    for a in range(count):
        for b in range(a + 1, count):
            if trees[a].count_neighbors(trees[b], gap) > 0:
                parent[root(b)] = root(a)
    roots = np.array([root(k) for k in range(count)] + [-1])
    return roots[labels]


def find_candidates(
    points: np.ndarray, colors: np.ndarray, config: SegmentConfig
) -> list[Candidate]:
    """Clusters of the samples above the table that look like objects."""
    high = np.flatnonzero(points[:, 2] > config.seed_height)
    low = points[:, 2] > config.min_height
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[high]))
    labels = merge_close(
        points[high],
        np.asarray(cloud.cluster_dbscan(config.cluster_distance, config.min_samples)),
        config.merge_gap,
    )
    kept = []
    for label in np.unique(labels[labels >= 0]):
        seeds = points[high[labels == label]]
        lo, hi = seeds.min(0), seeds.max(0)
        diagonal = float(np.linalg.norm(hi[:2] - lo[:2]))
        if hi[2] < config.min_object_height or not config.min_size <= diagonal <= config.max_size:
            continue
        member = low & _over(points[:, :2], seeds[:, :2], config.cluster_distance / 2, config.reach)
        kept.append((points[member], colors[member]))
    kept.sort(key=lambda c: tuple(np.round(c[0].mean(0)[:2], 2)))
    return [Candidate(i, xyz, rgb) for i, (xyz, rgb) in enumerate(kept)]


def _resolve(
    ref_ids: tuple[int, ...], ref_at: tuple[Point2, ...], candidates: list[Candidate], field: str
) -> list[int]:
    """Candidate ids named outright, plus for each point the candidate whose samples come
    nearest to it (within ``AT_RADIUS``); points that reach none are ignored as long as
    some reference resolves."""
    ids = list(ref_ids)
    for bad in [i for i in ids if not 0 <= i < len(candidates)]:
        raise ReconstructError(
            f"no candidate {bad}: the objects stage found {len(candidates)} (ids 0..{len(candidates) - 1}, see its summary)",
            field=field,
        )
    trees = [cKDTree(c.points[:, :2]) for c in candidates]
    for point in ref_at:
        distance = np.array([tree.query(point)[0] for tree in trees])
        if len(distance) and distance.min() <= AT_RADIUS:
            ids.append(int(np.argmin(distance)))
    if not ids and ref_at:
        shown = ", ".join(f"{c.id}: ({c.centroid[0]:.2f}, {c.centroid[1]:.2f})" for c in candidates)
        raise ReconstructError(
            f"no candidate within {AT_RADIUS * 100:.0f} cm of {list(ref_at)}; candidates are at {shown}",
            field=field,
        )
    return ids


def apply_edits(
    candidates: list[Candidate], edits: ObjectEdits
) -> list[tuple[str, list[Candidate], float | None]]:
    """The objects after the user's edits: (name, merged candidates, density or None)."""
    used: dict[int, str] = {}
    objects = []
    for k, edit in enumerate(edits.objects):
        ids = _resolve(edit.candidates, edit.at, candidates, f"objects[{k}]")
        for i in ids:
            if i in used and used[i] != edit.name:
                raise ReconstructError(
                    f"candidate {i} is claimed by both {used[i]!r} and {edit.name!r}",
                    field=f"objects[{k}]",
                )
            used[i] = edit.name
        objects.append((edit.name, [candidates[i] for i in sorted(set(ids))], edit.density))
    dropped = set(_resolve(edits.drop, edits.drop_at, candidates, "drop"))
    clash = dropped & set(used)
    if clash:
        raise ReconstructError(
            f"candidates {sorted(clash)} are both dropped and named", field="drop"
        )
    if edits.keep_unlisted:
        for c in candidates:
            if c.id not in used and c.id not in dropped:
                objects.append((f"object_{c.id}", [c], None))
    return objects
