"""Initial Gaussians from a sparse SfM point cloud (3DGS's recipe, flattened): one Gaussian per
point, its size the RMS distance to its nearest neighbours, low opacity, the point's colour.

Unlike 3DGS's isotropic balls, each Gaussian starts as a disc in the plane of its neighbours
(their principal axes): a tabletop is mostly planes, and balls as wide as the point spacing
(centimetres) leave a fog of Gaussians above and below each surface after densification
splits them, which biases the rendered depth the mesh stage fuses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from reconstruct.views import View
from sim_env.splats import GaussianSet
from sim_env.splats.rotations import matrix_to_quat


@dataclass(frozen=True)
class InitConfig:
    """Attributes:
    neighbours: points whose distances set each Gaussian's size.
    plane_neighbours: points whose spread sets each Gaussian's orientation.
    thickness: a disc's third scale relative to its in-plane size.
    opacity: initial opacity.
    scale_factor: size = scale_factor x RMS neighbour distance.
    max_scale: largest initial size, metres (isolated outliers stay small).
    max_points: at most this many points (a random subset beyond), seeded.
    seed: subset seed.
    table_points: at most this many extra points seeded on the table plane (0: none;
        ``table_samples``).
    table_spacing: their spacing, as a fraction of the SfM points' xy extent.
    """

    neighbours: int = 3
    plane_neighbours: int = 10
    thickness: float = 0.1
    opacity: float = 0.1
    scale_factor: float = 1.0
    max_scale: float = 0.05
    max_points: int = 100_000
    seed: int = 0
    table_points: int = 0
    table_spacing: float = 0.005


def gaussians_from_points(
    points: np.ndarray,  # [M, 3] world, metres
    colors: np.ndarray,  # [M, 3] RGB in [0, 1]
    config: InitConfig = InitConfig(),
) -> GaussianSet:
    """Degree-0 Gaussians on the points, deterministic for ``config.seed``."""
    points = np.asarray(points, np.float64)
    colors = np.asarray(colors, np.float64)
    if len(points) <= config.neighbours:
        raise ValueError(f"need more than {config.neighbours} points, got {len(points)}")
    if len(points) > config.max_points:
        keep = np.random.default_rng(config.seed).choice(len(points), config.max_points, False)
        points, colors = points[np.sort(keep)], colors[np.sort(keep)]
    tree = cKDTree(points)
    distances, _ = tree.query(points, k=config.neighbours + 1)
    size = config.scale_factor * np.sqrt(np.mean(distances[:, 1:] ** 2, axis=1))
    size = np.clip(size, 1e-4, config.max_scale)
    k = min(config.plane_neighbours, len(points) - 1) + 1
    _, near = tree.query(points, k=k)
    local = points[near] - points[near].mean(axis=1, keepdims=True)  # [M, k, 3]
    _, axes = np.linalg.eigh(np.einsum("mki,mkj->mij", local, local))  # ascending eigenvalues
    frames = axes[:, :, ::-1].copy()  # columns: two in-plane axes, then the normal
    frames[np.linalg.det(frames) < 0, :, 2] *= -1
    scales = np.stack([size, size, config.thickness * size], axis=1)
    return GaussianSet.from_colors(
        points, matrix_to_quat(frames), scales, np.full(len(points), config.opacity),
        np.clip(colors, 0.0, 1.0),
    )  # fmt: skip


def table_samples(
    views: list[View],
    points: np.ndarray,  # [M, 3] SfM points, world (table at z = 0)
    config: InitConfig = InitConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """``[K, 3]`` points on the table plane (z = 0) and ``[K, 3]`` their colours, where the
    views' pixels look down onto it within the SfM points' xy box, one per cell of
    ``table_spacing`` x that box's size (colours averaged over the pixels in a cell).

    SfM leaves a plain table and the sheet on it almost without points, while the photos see
    them everywhere; seeded only from the points, the splats leave them to Gaussians grown
    from the objects', and a held-out view shows a haze where the table is. Pixels that see
    an object seed table points under it too: those are occluded and trained away.
    """
    if config.table_points <= 0 or not len(points) or not views:
        return np.zeros((0, 3)), np.zeros((0, 3))
    lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    cell = config.table_spacing * float(np.max(hi - lo))
    if cell <= 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    hits, colours = [], []
    for view in views:
        w, h = view.size
        stride = max(1, min(w, h) // 96)
        u, v = np.meshgrid(np.arange(0, w, stride) + 0.5, np.arange(0, h, stride) + 0.5)
        k = view.K
        rays = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1)
        dirs = rays.reshape(-1, 3) @ view.viewmat[:3, :3]  # camera -> world directions
        centre = view.centre
        down = dirs[:, 2] < -1e-6
        t = np.where(down, -centre[2] / np.where(down, dirs[:, 2], -1.0), -1.0)
        hit = centre[None, :2] + t[:, None] * dirs[:, :2]
        keep = (t > 0) & np.all((hit >= lo) & (hit <= hi), axis=1)
        hits.append(hit[keep])
        colours.append(view.image[v.astype(int).ravel()[keep], u.astype(int).ravel()[keep]])
    xy, rgb = np.concatenate(hits), np.concatenate(colours)
    if not len(xy):
        return np.zeros((0, 3)), np.zeros((0, 3))
    cells, inverse = np.unique(
        np.floor((xy - lo) / cell).astype(np.int64), axis=0, return_inverse=True
    )
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=len(cells))[:, None]
    mean_rgb = np.stack([np.bincount(inverse, rgb[:, c], len(cells)) for c in range(3)], 1) / counts
    centres = lo + (cells + 0.5) * cell
    if len(centres) > config.table_points:
        keep = np.random.default_rng(config.seed).choice(len(centres), config.table_points, False)
        centres, mean_rgb = centres[np.sort(keep)], mean_rgb[np.sort(keep)]
    return np.c_[centres, np.zeros(len(centres))], np.clip(mean_rgb, 0.0, 1.0)
