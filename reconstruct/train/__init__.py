"""Gaussian splat training: one training loop (``loop``) for any rasterizer with
``gsplat.rasterization``'s contract, a differentiable one for the CPU (torch projection, numba
blending with a hand-written backward), the CPU and gsplat trainers (the loop with either),
initialisation from SfM points, densification and image metrics. The trainers import torch;
their settings do not."""

from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.init import InitConfig, gaussians_from_points

__all__ = ["DensifyConfig", "InitConfig", "TrainConfig", "gaussians_from_points"]
