"""The CPU trainer: the training loop (``loop.train_splats``) on the differentiable torch /
numba rasterizer, through ``gsplat.rasterization``'s contract (``rasterization_cpu``)."""

from __future__ import annotations

import torch

from reconstruct.train.config import TrainConfig
from reconstruct.train.cpu_rasterization import rasterization_cpu
from reconstruct.train.loop import Progress, TrainResult, train_splats
from reconstruct.train.raster import MAX_TORCH_SH_DEGREE
from reconstruct.views import View
from sim_env.splats import GaussianSet


def train_cpu(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
) -> TrainResult:
    """Optimise ``init`` on ``views`` (all used for training); returns the trained set.

    torch runs single-threaded meanwhile: its OpenMP workers spin between ops and starve the
    numba blending threads (10x slower on two cores otherwise).
    """
    if not 0 <= config.sh_degree <= MAX_TORCH_SH_DEGREE:
        raise ValueError(f"the CPU trainer supports SH degree 0 or 1, got {config.sh_degree}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_splats(
            init, views, config, scene_scale, report, rasterization_cpu, torch.device("cpu")
        )
    finally:
        torch.set_num_threads(threads)
