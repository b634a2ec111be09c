"""The training losses, computed from what a rasterizer with ``gsplat.rasterization``'s
contract returns, so that every rasterizer trains with the same objective."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reconstruct.train.metrics import ssim_map
from reconstruct.views import View
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import GSPLAT_SETTINGS

Rasterization = Callable[..., tuple[torch.Tensor, torch.Tensor, dict[str, Any]]]
"""A function with ``gsplat.rasterization``'s contract: gsplat's own (CUDA) or
``reconstruct.train.cpu_rasterization.rasterization_cpu``."""


@dataclass(frozen=True, eq=False)
class DepthTargets:
    """The SfM points one view sees, inside its image."""

    rows: torch.Tensor  # [P] int64 pixel rows
    cols: torch.Tensor  # [P] int64 pixel columns
    z: torch.Tensor  # [P] camera depth, metres

    @classmethod
    def of(cls, view: View, device: torch.device | str = "cpu") -> DepthTargets:
        cam = view.points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
        z = cam[:, 2]
        front = z > 1e-3
        uv = cam[front, :2] / z[front, None] * np.diag(view.K)[:2] + view.K[:2, 2]
        cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
        w, h = view.size
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        return cls(
            torch.from_numpy(rows[inside]).to(device),
            torch.from_numpy(cols[inside]).to(device),
            torch.from_numpy(z[front][inside].astype(np.float32)).to(device),
        )


def photometric(
    rgb: torch.Tensor,  # [H, W, 3] rendered
    target: torch.Tensor,  # [H, W, 3] captured, in [0, 1]
    ssim_weight: float,
) -> torch.Tensor:
    """(1 - w) L1 + w (1 - SSIM)."""
    l1 = torch.abs(rgb - target).mean()
    return (1.0 - ssim_weight) * l1 + ssim_weight * (1.0 - ssim_map(rgb, target).mean())


def depth_error(
    depth: torch.Tensor,  # [H, W] rendered expected depth, metres
    alpha: torch.Tensor,  # [H, W]
    targets: DepthTargets,
) -> torch.Tensor | None:
    """Mean relative error of the rendered depth at the SfM points whose pixel is covered
    (alpha > 0.5); None where there is none."""
    if not len(targets.z):
        return None
    covered = alpha[targets.rows, targets.cols].detach() > 0.5
    if not covered.any():
        return None
    error = torch.abs(depth[targets.rows, targets.cols] - targets.z) / targets.z
    return error[covered].mean()


def opacity_entropy(opacities: torch.Tensor) -> torch.Tensor:  # [N] activated
    """Mean binary entropy of the opacities (nats)."""
    o = opacities.clamp(1e-6, 1 - 1e-6)
    return -(o * torch.log(o) + (1 - o) * torch.log(1 - o)).mean()


def flatness(scales: torch.Tensor, scene_scale: float) -> torch.Tensor:  # [N, 3] metres
    """Mean smallest scale over the scene scale."""
    return scales.min(dim=-1).values.mean() / scene_scale


def depth_distortion(
    rasterization: Rasterization,
    means: torch.Tensor,  # [N, 3] world, metres
    quats: torch.Tensor,  # [N, 4] w x y z
    scales: torch.Tensor,  # [N, 3] metres, activated
    opacities: torch.Tensor,  # [N] activated
    viewmat: torch.Tensor,  # [4, 4] world -> camera
    K: torch.Tensor,  # [3, 3] pixels
    width: int,
    height: int,
    scene_scale: float,
) -> torch.Tensor:
    """[H, W] sum_ij w_i w_j (d_i - d_j)^2 per pixel, d the camera depth over the scene scale
    (2DGS's distortion loss, squared). It equals 2 (A M2 - M1^2) with A = sum w, M1 = sum w d
    and M2 = sum w d^2, so one extra render of the features (d, d^2, 0) gives it on any
    rasterizer. Depths are taken from the nearest Gaussian in front, which keeps the
    moments small where float32 would otherwise cancel them."""
    z = means @ viewmat[2, :3] + viewmat[2, 3]
    with torch.no_grad():
        front = z[z > NEAR_PLANE]
        nearest = front.min() if len(front) else z.new_zeros(())
    d = (z - nearest) / scene_scale
    features = torch.stack([d, d * d, torch.zeros_like(d)], dim=-1)
    moments, alphas, _ = rasterization(
        means=means,
        quats=quats,
        scales=scales,
        opacities=opacities,
        colors=features,
        viewmats=viewmat[None],
        Ks=K[None],
        width=width,
        height=height,
        sh_degree=None,
        near_plane=NEAR_PLANE,
        far_plane=FAR_PLANE,
        **GSPLAT_SETTINGS,
    )
    m1, m2 = moments[0, ..., 0], moments[0, ..., 1]
    return 2.0 * (alphas[0, ..., 0] * m2 - m1 * m1)
