"""Object candidates: the scene mesh's geometry above the table plane, clustered.

The mesh surface is sampled densely (area-weighted); samples higher than ``seed_height``
above the table (z = 0 in the world frame) are clustered by DBSCAN. Clusters closer than
``merge_gap`` in 3D, or whose footprints on the table overlap or come that close (the pieces
of one real object the fusion left apart: its top above its sides), are one cluster while
together they stay within ``max_size`` (the raised rim at a scan's edge stays apart); each
cluster tall and wide enough to be an object becomes a candidate. With the Gaussians given,
a cluster the splats do not hold up (``hold``, ``min_held``) merges only with others like
it: the fused table bulging beside or under an object is not the object (the Buddha clip:
a 2-6 cm bulge 21% held, under the statue's brim, made its box 6 cm wider on the robot's
side than its SfM points). Then every sample higher
than ``min_height`` over the candidate's footprint (its cells' outline with the holes filled,
so a tray's floor is in, grown by ``reach``) joins it: low bumps of the table next to an
object do not chain onto it, as they would if all samples above ``min_height`` were clustered
at once. An open container whose walls came out as separate clusters (a tray's walls, their
tops dipping where few views saw them) is one candidate: the samples over its walls and the
floor they enclose (``container``). Candidates are numbered by their centroid (x, then y) so
the ids are stable across re-runs.

A candidate is scenery, not an object, when it stands outside the table top (background
beyond the table's edge), is wider than ``max_size`` (furniture), or has fewer than
``min_gaussians`` splats over it, or under 2% of the best supported candidate's (a fragment
the fusion made of a few large, faint Gaussians), or when most of it lies farther than
``hold`` from every Gaussian (a surface the fusion raised over a plain table, not where the
splats are), or when its top stands where the scan ends (the fused table rises there, and
nothing was scanned beyond it); scenery stays in the static scene unless
the user's edits name it. Lengths are metres (``SegmentConfig.in_units``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
import open3d as o3d
from scipy import ndimage
from scipy.spatial import cKDTree

from reconstruct.container import ContainerConfig, enclosures, high_samples
from reconstruct.errors import ReconstructError
from reconstruct.object_edits import ObjectEdits, Point2
from reconstruct.tabletop import TableTop, find_table_top
from reconstruct.units import Units, in_units


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
    table_cell: grid cell of the table top's outline (``tabletop``).
    at_radius: an ``at: [x, y]`` edit picks the candidate with a sample this near.
    min_gaussians: a candidate with fewer splats over it is scenery (count, not a length) ...
    min_gaussian_share: ... as is one with less than this share of the splats over the best
        supported candidate on the table.
    ridge_height, ridge_ratio: a candidate lower than ``ridge_height`` whose footprint is
        more than ``ridge_ratio`` times as long as it is wide is scenery: the raised edge of a
        sheet or of the table (on the Buddha photos, the cardboard's edge came out as a
        17 x 3 cm ridge 2.5 cm high in one of three builds); a lying banana is taller.
    edge_probe, edge_reach, min_surrounded: a candidate is the raised rim of the scan's
        edge when fewer than ``min_surrounded`` of its highest samples (within 80% of its
        top) have scanned surface all around them: within ``edge_reach`` of at least 7 of 8
        points ``edge_probe`` away. The fused table rises where the scan ends (on the Buddha
        photos, a 12 x 32 cm piece 3.9 cm high: 1%; the statue 92-94%, the simulated scans'
        objects and trays 100%).
    hold, min_held: a candidate with less than ``min_held`` of its samples above
        ``seed_height`` within ``hold`` of a Gaussian centre is scenery: a surface the splats
        do not hold up (the fused table bulging over plain wood: 23-39% within 1 cm on the
        Buddha scans, their statue 92-97%).
    container: which clusters are one open container's walls (``container``).
    """

    LENGTHS: ClassVar[tuple[str, ...]] = (
        "sample_spacing", "seed_height", "min_height", "reach", "merge_gap",
        "cluster_distance", "min_object_height", "min_size", "max_size", "table_cell",
        "at_radius", "hold", "ridge_height", "edge_probe", "edge_reach",
    )  # fmt: skip

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
    table_cell: float = 0.01
    at_radius: float = 0.05
    min_gaussians: int = 20
    min_gaussian_share: float = 0.02
    hold: float = 0.01
    min_held: float = 0.6
    ridge_height: float = 0.03
    ridge_ratio: float = 4.0
    edge_probe: float = 0.03
    edge_reach: float = 0.01
    min_surrounded: float = 0.5
    container: ContainerConfig = field(default_factory=ContainerConfig)

    def in_units(self, units: Units) -> SegmentConfig:
        scaled = in_units(self, self.LENGTHS, units.per_metre)
        return replace(scaled, container=self.container.in_units(units))


@dataclass(frozen=True, eq=False)
class Candidate:
    id: int
    points: np.ndarray  # [P, 3] world
    colors: np.ndarray  # [P, 3] in [0, 1]
    gaussians: int = 0  # splats standing over it
    scenery: str = ""  # why it is scenery and not an object; empty for an object
    pieces: int = 1  # clusters joined into it: a container's walls

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
            "gaussians": self.gaussians,
            **({"pieces": self.pieces} if self.pieces > 1 else {}),
            **({"scenery": self.scenery} if self.scenery else {}),
        }


def surface_samples(
    mesh: o3d.geometry.TriangleMesh, spacing: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[S, 3]`` points, ``[S, 3]`` colours and ``[S, 3]`` unit normals spread evenly over the
    mesh surface; the same for the same ``seed`` (open3d's sampler is random: unseeded, the
    candidates and their ids changed from run to run, and an objects file's ids with them)."""
    count = max(1000, int(mesh.get_surface_area() / spacing**2))
    mesh = o3d.geometry.TriangleMesh(mesh)
    mesh.compute_vertex_normals()
    o3d.utility.random.seed(seed)
    cloud = mesh.sample_points_uniformly(number_of_points=count)
    colors = np.asarray(cloud.colors) if cloud.has_colors() else np.full((count, 3), 0.5)
    return np.asarray(cloud.points), colors, np.asarray(cloud.normals)


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


def _relabel(labels: np.ndarray, roots: np.ndarray) -> np.ndarray:
    """Labels (-1 noise) mapped through ``roots`` and renumbered 0..K-1."""
    out = np.full(len(labels), -1)
    kept = labels >= 0
    _, out[kept] = np.unique(roots[labels[kept]], return_inverse=True)
    return out


def close_pairs(points: np.ndarray, labels: np.ndarray, gap: float) -> set[tuple[int, int]]:
    """The pairs of DBSCAN clusters (labels, -1 noise) of the ``[N, 3]`` points that come
    closer than ``gap`` in 3D."""
    count = labels.max() + 1 if len(labels) else 0
    groups = [points[labels == k] for k in range(count)]
    boxes = np.array([(g.min(0), g.max(0)) for g in groups]).reshape(count, 2, 3)
    trees = [cKDTree(g) for g in groups]
    pairs = set()
    for a in range(count):
        for b in range(a + 1, count):
            apart = np.any((boxes[a, 0] > boxes[b, 1] + gap) | (boxes[b, 0] > boxes[a, 1] + gap))
            if not apart and trees[a].count_neighbors(trees[b], gap) > 0:
                pairs.add((a, b))
    return pairs


def overlapping_pairs(
    xy: np.ndarray, labels: np.ndarray, cell: float, gap: float
) -> set[tuple[int, int]]:
    """The pairs of clusters whose footprints (``[N, 2]`` points on a grid of ``cell``, gaps
    of two cells closed) overlap or come within ``gap`` of each other."""
    count = labels.max() + 1 if len(labels) else 0
    if count < 2:
        return set()
    grow = int(np.ceil(gap / 2 / cell))
    origin = xy.min(0)
    keys, owners = [], []
    for k in range(count):
        ij = np.floor((xy[labels == k] - origin) / cell).astype(np.int64)
        base = ij.min(0) - grow - 3
        grid = np.zeros(tuple(ij.max(0) - base + grow + 4)[::-1], bool)
        grid[ij[:, 1] - base[1], ij[:, 0] - base[0]] = True
        grid = ndimage.binary_closing(grid, iterations=2)
        if grow:
            grid = ndimage.binary_dilation(grid, iterations=grow)
        rows, cols = np.nonzero(grid)
        keys.append((rows + base[1]) * (1 << 32) + (cols + base[0]))
        owners.append(np.full(len(rows), k))
    key, owner = np.concatenate(keys), np.concatenate(owners)
    order = np.lexsort((owner, key))
    key, owner = key[order], owner[order]
    shared = np.flatnonzero(key[1:] == key[:-1])
    return {(int(owner[i]), int(owner[i + 1])) for i in shared if owner[i] != owner[i + 1]}


def join_pieces(
    xy: np.ndarray, labels: np.ndarray, pairs: set[tuple[int, int]], max_size: float
) -> np.ndarray:
    """Labels with the touching ``pairs`` of clusters given one label, the pair whose joined
    footprint (``[N, 2]`` points) is smallest first, while it stays within ``max_size``
    across (its bounding box's diagonal): the raised rim of a scan's edge that touches an
    object by one corner stays apart from it (on the Buddha photos, a 45 x 41 cm rim made the
    statue too wide to be an object in one build of four)."""
    count = labels.max() + 1 if len(labels) else 0
    lo = np.array([xy[labels == k].min(0) for k in range(count)]).reshape(count, 2)
    hi = np.array([xy[labels == k].max(0) for k in range(count)]).reshape(count, 2)
    root = np.arange(count)
    while True:
        best, joined = max_size, None
        for a, b in pairs:
            ra, rb = root[a], root[b]
            if ra == rb:
                continue
            width = float(np.linalg.norm(np.maximum(hi[ra], hi[rb]) - np.minimum(lo[ra], lo[rb])))
            if width <= best:
                best, joined = width, (min(ra, rb), max(ra, rb))
        if joined is None:
            return _relabel(labels, root)
        keep, gone = joined
        lo[keep], hi[keep] = np.minimum(lo[keep], lo[gone]), np.maximum(hi[keep], hi[gone])
        root[root == gone] = keep


def splats_over(gaussians: np.ndarray, seeds: np.ndarray, top: float, config: SegmentConfig) -> int:
    """How many of the ``[G, 3]`` Gaussian centres stand over the footprint of ``seeds``
    (``[P, 2]``), between ``min_height`` and ``top`` + ``reach``."""
    z = gaussians[:, 2]
    tall = (z > config.min_height) & (z < top + config.reach)
    near = tall & np.all(
        (gaussians[:, :2] >= seeds.min(0) - config.reach)
        & (gaussians[:, :2] <= seeds.max(0) + config.reach),
        axis=1,
    )
    over = _over(gaussians[near, :2], seeds, config.cluster_distance / 2, config.reach)
    return int(over.sum())


def scenery_reason(
    centroid: np.ndarray, width: float, table: TableTop | None, config: SegmentConfig
) -> str:
    """Why a candidate at ``centroid`` (``[2]`` world xy), ``width`` across (its footprint's
    diagonal), is scenery by where it is and its size; empty when it may be an object."""
    if table is not None and not table.contains(centroid[None], config.reach)[0]:
        return "beyond the table's edge"
    if width > config.max_size:
        return f"wider than max_size ({width:.3g} > {config.max_size:.3g})"
    return ""


def ridge_reason(seeds: np.ndarray, config: SegmentConfig) -> str:
    """Why the ``[P, 3]`` ``seeds`` of a candidate are a ridge (see ``SegmentConfig``); empty
    when they are not."""
    height = float(seeds[:, 2].max())
    if height >= config.ridge_height or len(seeds) < 3:
        return ""
    xy = seeds[:, :2] - seeds[:, :2].mean(0)
    _, axes = np.linalg.eigh(np.cov(xy.T))
    extents = np.ptp(xy @ axes, axis=0)  # [2] m: across, along the footprint's axes
    if extents[1] <= config.ridge_ratio * max(extents[0], 1e-9):
        return ""
    return (
        f"a ridge: {extents[1] / max(extents[0], 1e-9):.1f} times as long as it is wide, "
        f"{height:.3g} high (< ridge_height {config.ridge_height:.3g})"
    )


def edge_reason(members: np.ndarray, surface: cKDTree, config: SegmentConfig) -> str:
    """Why a candidate of the ``[P, 3]`` ``members`` samples is the raised rim where the scan
    ends (``surface``: a tree of every sample's xy; see ``SegmentConfig.edge_probe``); empty
    when it is not."""
    top = members[members[:, 2] >= 0.8 * members[:, 2].max()]
    top = top[:: max(1, len(top) // 200)]
    turns = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
    around = config.edge_probe * np.c_[np.cos(turns), np.sin(turns)]  # [8, 2]
    probes = (top[:, None, :2] + around[None]).reshape(-1, 2)
    found = surface.query(probes, distance_upper_bound=config.edge_reach)[0] <= config.edge_reach
    unseen = (~found).reshape(len(top), len(turns)).sum(1)
    seen = float((unseen < 2).mean())  # a top sample with scanned surface all around it
    if seen >= config.min_surrounded:
        return ""
    return (
        f"the raised rim where the scan ends: {seen:.0%} of its top has scanned surface "
        f"{config.edge_probe:.3g} around it (fewer than {config.min_surrounded:.0%})"
    )


def fragment_reason(count: int, counts: list[int], config: SegmentConfig) -> str:
    """Why a candidate with ``count`` splats over it is a fragment, given the ``counts`` of
    the candidates on the table; empty when it is not."""
    least = max(config.min_gaussians, int(config.min_gaussian_share * max(counts, default=0)))
    if count < least:
        return f"a fragment: {count} Gaussians over it (fewer than {least})"
    return ""


def held_share(seeds: np.ndarray, gaussians: cKDTree, hold: float) -> float:
    """The share of the ``[P, 3]`` ``seeds`` within ``hold`` of a Gaussian centre (``gaussians``,
    a tree of them); 0 without seeds."""
    if not len(seeds):
        return 0.0
    return float((gaussians.query(seeds, distance_upper_bound=hold)[0] <= hold).mean())


def held_reason(seeds: np.ndarray, gaussians: cKDTree, config: SegmentConfig) -> str:
    """Why a candidate whose ``[P, 3]`` samples above ``seed_height`` are ``seeds`` is a
    surface the splats (``gaussians``, a tree of their centres) do not hold up; empty when
    enough of it lies within ``hold`` of a centre."""
    share = held_share(seeds, gaussians, config.hold)
    if share < config.min_held:
        return (
            f"a surface the splats do not hold up: {share:.0%} of it within "
            f"{config.hold:.3g} of a Gaussian (fewer than {config.min_held:.0%})"
        )
    return ""


def merged(points: np.ndarray, labels: np.ndarray, config: SegmentConfig) -> np.ndarray:
    """DBSCAN labels (-1 noise) of the ``[N, 3]`` points with the clusters that are one
    object's pieces (close in 3D or over each other, ``join_pieces``) given one label."""
    cell = config.cluster_distance / 2
    pairs = close_pairs(points, labels, config.merge_gap)
    pairs |= overlapping_pairs(points[:, :2], labels, cell, config.merge_gap)
    return join_pieces(points[:, :2], labels, pairs, config.max_size)


def merged_by_hold(
    points: np.ndarray, labels: np.ndarray, gaussians: cKDTree, config: SegmentConfig
) -> np.ndarray:
    """``merged`` labels, held clusters (``held_share`` at least ``min_held``) merged only
    with held ones and the rest only with the rest."""
    count = labels.max() + 1 if len(labels) else 0
    held = np.array(
        [held_share(points[labels == k], gaussians, config.hold) >= config.min_held
         for k in range(count)],
        bool,
    )  # fmt: skip
    out = np.full(len(labels), -1)
    offset = 0
    for side in (held, ~held):
        mine = (labels >= 0) & side[np.maximum(labels, 0)]
        if not mine.any():
            continue
        part = merged(points, _relabel(np.where(mine, labels, -1), np.arange(count)), config)
        out[part >= 0] = part[part >= 0] + offset
        offset = out.max() + 1
    return out


def joined_containers(
    found: list[list],
    points: np.ndarray,
    colors: np.ndarray,
    low: np.ndarray,
    config: SegmentConfig,
    gaussians: np.ndarray | None,
) -> list[list]:
    """``found`` (per cluster: samples, colours, splats over it, scenery reason, pieces) with
    the clusters that stand mostly (their samples above ``seed_height``) over one container's
    walls and floor (``container.enclosures`` of the ``low`` samples around the clusters that
    may be objects) replaced by one: the ``low`` samples over its walls and floor."""
    kept = [f for f in found if not f[3]]
    if not kept:
        return found
    reach = config.container.max_size / 2
    lo = np.min([f[0][:, :2].min(0) for f in kept], axis=0) - reach
    hi = np.max([f[0][:, :2].max(0) for f in kept], axis=0) + reach
    around = low & np.all((points[:, :2] >= lo) & (points[:, :2] <= hi), axis=1)
    joined, used = [], set()
    high_xy = high_samples(points[around], config.container)[:, :2]
    for walls in enclosures(points[around], config.container):
        own = walls.trimmed(high_xy)  # not the bumps that closing its gaps joined to it
        members = []
        for k, f in enumerate(found):
            seeds = f[0][f[0][:, 2] > config.seed_height, :2]
            if k not in used and len(seeds) and walls.contains(seeds, own).mean() > 0.5:
                members.append(k)
        if not members:  # low walls alone (the table's bumps) are no object
            continue
        used.update(members)
        member = low & walls.contains(points[:, :2], own)
        seeds = points[member & (points[:, 2] > config.seed_height)]
        count = 0
        if gaussians is not None and len(seeds):
            count = splats_over(gaussians, seeds[:, :2], float(seeds[:, 2].max()), config)
        reasons = [found[k][3] for k in members]
        reason = "" if "" in reasons else reasons[0]
        joined.append([points[member], colors[member], count, reason, len(members)])
    return [f for k, f in enumerate(found) if k not in used] + joined


def find_candidates(
    points: np.ndarray,
    colors: np.ndarray,
    config: SegmentConfig,
    table: TableTop | None = None,
    gaussians: np.ndarray | None = None,
) -> list[Candidate]:
    """Clusters of the samples above the table that look like objects, each marked as scenery
    when it stands outside ``table``, has too few of the ``[G, 3]`` ``gaussians`` over it or
    too few of them near it (neither check without them); ``config`` in world units."""
    high = np.flatnonzero(points[:, 2] > config.seed_height)
    low = points[:, 2] > config.min_height
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[high]))
    labels = np.asarray(cloud.cluster_dbscan(config.cluster_distance, config.min_samples))
    tree = None if gaussians is None else cKDTree(gaussians)
    surface = cKDTree(points[:, :2])
    if tree is None:
        labels = merged(points[high], labels, config)
    else:
        labels = merged_by_hold(points[high], labels, tree, config)
    found = []
    for label in np.unique(labels[labels >= 0]):
        seeds = points[high[labels == label]]
        lo, hi = seeds.min(0), seeds.max(0)
        diagonal = float(np.linalg.norm(hi[:2] - lo[:2]))
        if hi[2] < config.min_object_height or diagonal < config.min_size:
            continue
        member = low & _over(points[:, :2], seeds[:, :2], config.cluster_distance / 2, config.reach)
        count = 0 if gaussians is None else splats_over(gaussians, seeds[:, :2], hi[2], config)
        reason = scenery_reason(points[member, :2].mean(0), diagonal, table, config)
        reason = reason or ridge_reason(seeds, config)
        if tree is not None and not reason:
            reason = held_reason(seeds, tree, config)
        reason = reason or edge_reason(points[member], surface, config)
        found.append([points[member], colors[member], count, reason, 1])
    found = joined_containers(found, points, colors, low, config, gaussians)
    if gaussians is not None:
        on_table = [c[2] for c in found if c[3] != "beyond the table's edge"]
        for candidate in found:
            candidate[3] = candidate[3] or fragment_reason(candidate[2], on_table, config)
    found.sort(key=lambda c: tuple(np.round(c[0].mean(0)[:2], 2)))
    return [Candidate(i, *fields) for i, fields in enumerate(found)]


def table_and_candidates(
    points: np.ndarray,
    colors: np.ndarray,
    normals: np.ndarray,
    gaussians: np.ndarray,
    config: SegmentConfig,
    seen: np.ndarray | None = None,
) -> tuple[TableTop | None, list[Candidate]]:
    """The table top of the ``[S, 3]`` surface samples and of the ``[K, 2]`` outline of the
    table SfM ``seen`` (``find_table_top``), and the candidates above it."""
    table = find_table_top(points, normals, config.min_height, config.table_cell, seen=seen)
    return table, find_candidates(points, colors, config, table, gaussians)


def _resolve(
    ref_ids: tuple[int, ...],
    ref_at: tuple[Point2, ...],
    candidates: list[Candidate],
    field: str,
    radius: float,
) -> list[int]:
    """Candidate ids named outright, plus for each point the candidate whose samples come
    nearest to it (within ``radius``; objects before scenery); points that reach none are
    ignored as long as some reference resolves."""
    ids = list(ref_ids)
    for bad in [i for i in ids if not 0 <= i < len(candidates)]:
        raise ReconstructError(
            f"no candidate {bad}: the objects stage found {len(candidates)} (ids 0..{len(candidates) - 1}, see its summary)",
            field=field,
        )
    trees = [cKDTree(c.points[:, :2]) for c in candidates]
    scenery = np.array([bool(c.scenery) for c in candidates])
    for point in ref_at:
        distance = np.array([tree.query(point)[0] for tree in trees])
        reached = distance <= radius
        if reached.any():
            pool = reached & ~scenery if (reached & ~scenery).any() else reached
            ids.append(int(np.flatnonzero(pool)[np.argmin(distance[pool])]))
    if not ids and ref_at:
        shown = ", ".join(f"{c.id}: ({c.centroid[0]:.3g}, {c.centroid[1]:.3g})" for c in candidates)
        raise ReconstructError(
            f"no candidate within {radius:.3g} of {list(ref_at)}; candidates are at {shown}",
            field=field,
        )
    return ids


def apply_edits(
    candidates: list[Candidate], edits: ObjectEdits, at_radius: float = SegmentConfig.at_radius
) -> list[tuple[str, list[Candidate], float | None]]:
    """The objects after the user's edits: (name, merged candidates, density or None); the
    candidates that are scenery stay out unless an edit names them."""
    used: dict[int, str] = {}
    objects = []
    for k, edit in enumerate(edits.objects):
        ids = _resolve(edit.candidates, edit.at, candidates, f"objects[{k}]", at_radius)
        for i in ids:
            if i in used and used[i] != edit.name:
                raise ReconstructError(
                    f"candidate {i} is claimed by both {used[i]!r} and {edit.name!r}",
                    field=f"objects[{k}]",
                )
            used[i] = edit.name
        objects.append((edit.name, [candidates[i] for i in sorted(set(ids))], edit.density))
    dropped = set(_resolve(edits.drop, edits.drop_at, candidates, "drop", at_radius))
    clash = dropped & set(used)
    if clash:
        raise ReconstructError(
            f"candidates {sorted(clash)} are both dropped and named", field="drop"
        )
    if edits.keep_unlisted:
        for c in candidates:
            if c.id not in used and c.id not in dropped and not c.scenery:
                objects.append((f"object_{c.id}", [c], None))
    return objects
