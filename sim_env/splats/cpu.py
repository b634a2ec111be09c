"""The CPU rasterizer: projection -> depth sort and tile binning -> per-tile blending (numba)."""

from __future__ import annotations

import numpy as np

from sim_env.splats.binning import bin_tiles
from sim_env.splats.blend import DepthMode, blend
from sim_env.splats.constants import EPS2D
from sim_env.splats.project import project

__all__ = ["rasterize_cpu"]


def rasterize_cpu(
    means: np.ndarray,  # [N, 3] f32 world, metres
    quats: np.ndarray,  # [N, 4] f32 w x y z
    scales: np.ndarray,  # [N, 3] f32 metres
    opacities: np.ndarray,  # [N] f32 in [0, 1]
    sh: np.ndarray,  # [N, K, 3] f32 SH coefficients, or [N, 1, 3] colours when sh_degree = -1
    sh_degree: int,  # 0..3, or -1 for plain colours
    viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
    K: np.ndarray,  # [3, 3] intrinsics, pixels
    width: int,
    height: int,
    background: np.ndarray,  # [3] f32
    near: float,  # metres
    far: float,  # metres
    antialiased: bool = False,  # gsplat's rasterize_mode "antialiased"
    depth: DepthMode = "expected",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgb [H, W, 3], depth [H, W], alpha [H, W] (float32); inputs already validated."""
    projection = project(
        means, quats, scales, opacities, sh, sh_degree, viewmat, K, width, height, near, far,
        EPS2D, antialiased,
    )  # fmt: skip
    bins = bin_tiles(projection, width, height)
    return blend(bins, width, height, background, depth)
