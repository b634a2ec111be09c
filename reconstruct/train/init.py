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
    """

    neighbours: int = 3
    plane_neighbours: int = 10
    thickness: float = 0.1
    opacity: float = 0.1
    scale_factor: float = 1.0
    max_scale: float = 0.05
    max_points: int = 100_000
    seed: int = 0


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
