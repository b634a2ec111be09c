"""``gsplat.rasterization``'s contract on the CPU trainer's rasterizer.

gsplat's training recipe (``DefaultStrategy`` densification reading ``info``) runs on top of
any function with this contract, so the gsplat trainer's loop can run, and be tested, on a
machine without CUDA; only gsplat's kernels are then left out.
"""

from __future__ import annotations

from typing import Any

import torch

from reconstruct.train.raster import render_torch
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import GSPLAT_SETTINGS

# The settings render_torch has built in (gsplat's defaults with GSPLAT_SETTINGS on top).
_FIXED = {"near_plane": NEAR_PLANE, "far_plane": FAR_PLANE, **GSPLAT_SETTINGS}


def rasterization_cpu(
    means: torch.Tensor,  # [N, 3] world, metres
    quats: torch.Tensor,  # [N, 4] w x y z
    scales: torch.Tensor,  # [N, 3] metres, activated
    opacities: torch.Tensor,  # [N] activated
    colors: torch.Tensor,  # [N, K, 3] SH coefficients
    viewmats: torch.Tensor,  # [1, 4, 4] world -> camera, OpenCV axes
    Ks: torch.Tensor,  # [1, 3, 3] pixels
    width: int,
    height: int,
    sh_degree: int,  # 0 or 1
    **settings: Any,  # gsplat keyword arguments; only the values above are supported
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """(render [1, H, W, 3], alphas [1, H, W, 1], info) as ``gsplat.rasterization`` returns
    them for one camera in classic, unpacked mode. ``info`` has what ``DefaultStrategy``
    reads: ``means2d`` [1, N, 2] (its gradient after backward), ``radii`` [1, N, 2] (the
    half-extents of each footprint's pixel rectangle; 0 where culled), ``gaussian_ids``
    (None: unpacked), ``width``, ``height``, ``n_cameras``."""
    unsupported = {k: v for k, v in settings.items() if k not in _FIXED or _FIXED[k] != v}
    if unsupported or viewmats.shape[0] != 1 or Ks.shape[0] != 1:
        raise ValueError(
            f"rasterization_cpu renders one camera with {_FIXED}; got {unsupported or 'batch'}"
        )
    out = render_torch(
        means, quats, scales, opacities, colors, sh_degree, viewmats[0], Ks[0], width, height
    )
    with torch.no_grad():
        half = (out.rects[:, [1, 3]] - out.rects[:, [0, 2]] + 2) // 2
        radii = torch.where(out.visible[:, None], half, 0).int()[None]
    info = {
        "means2d": out.means2d,
        "radii": radii,
        "gaussian_ids": None,  # unpacked, as gsplat says it
        "width": width,
        "height": height,
        "n_cameras": 1,
    }
    return out.rgb[None], out.alpha[None, ..., None], info
