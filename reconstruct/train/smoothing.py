"""Mip-splatting's 3D smoothing filter applied while training (differentiable).

The splats learn their shape through the filter: each Gaussian is rendered convolved with an
isotropic Gaussian as wide as the finest training pixel that sees it
(``sim_env.splats.smoothing.filter_std``), and the filter is baked into the exported set at the
end (``smooth_3d``), so a renderer needs no filter of its own. Without it, Gaussians shrink
below what any training camera could sample, and at another distance or a lower resolution
(the policies' 160x90) they turn to speckle or bloat.
"""

from __future__ import annotations

import torch

from sim_env.splats.smoothing import SamplingCamera, filter_std


def training_filter(
    means: torch.Tensor,  # [N, 3] world
    cameras: list[SamplingCamera],
    near: float,  # world units: centres nearer a camera do not count as seen by it
) -> torch.Tensor:
    """[N] the filter's standard deviation per Gaussian (world units), no gradient."""
    std = filter_std(means.detach().cpu().numpy(), cameras, near=near)
    return torch.as_tensor(std, dtype=means.dtype, device=means.device)


def smoothed(
    scales: torch.Tensor,  # [N, 3] activated
    opacities: torch.Tensor,  # [N] activated
    std: torch.Tensor,  # [N] the filter's standard deviation
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scales, opacities) of each Gaussian convolved with the filter, its integral kept
    (``sim_env.splats.smoothing.smooth_3d`` in torch)."""
    wide = torch.sqrt(scales * scales + (std * std)[:, None])
    return wide, opacities * torch.prod(scales / wide, dim=1)
