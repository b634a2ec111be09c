"""The CUDA trainer: the training loop (``loop.train_splats``) with gsplat's ``rasterization``
(any SH degree up to 3), called with the settings ``sim_env`` renders with (classic mode,
0.3 px low-pass)."""

from __future__ import annotations

from reconstruct.errors import ReconstructError
from reconstruct.train.config import TrainConfig
from reconstruct.train.loop import Progress, TrainResult, train_splats
from reconstruct.views import View
from sim_env.splats import GaussianSet, gsplat_cuda_available


def train_gsplat(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
) -> TrainResult:
    """Optimise ``init`` on ``views`` with gsplat on the GPU."""
    if not gsplat_cuda_available():
        raise ReconstructError(
            "the gsplat trainer needs a CUDA GPU and gsplat's CUDA extension; use --trainer cpu "
            "(slower, smaller images) or train elsewhere and --trainer nerfstudio-import",
            field="splats.trainer",
        )
    import torch
    from gsplat import rasterization

    return train_splats(
        init, views, config, scene_scale, report, rasterization, torch.device("cuda")
    )
