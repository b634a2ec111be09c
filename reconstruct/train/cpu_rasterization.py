"""``gsplat.rasterization``'s contract on the CPU rasterizer.

The training loop (``reconstruct.train.loop``) calls its rasterizer with gsplat's arguments and
reads what gsplat returns, so the same loop trains with gsplat's CUDA kernels on a GPU and with
this function elsewhere; only the kernels differ.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from reconstruct.train.raster import render_torch
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import GSPLAT_SETTINGS

# The settings render_torch has built in (gsplat's defaults with GSPLAT_SETTINGS on top);
# rasterize_mode may also be "antialiased".
_FIXED = {"near_plane": NEAR_PLANE, "far_plane": FAR_PLANE, **GSPLAT_SETTINGS}
RENDER_MODES = ("RGB", "RGB+ED")
RASTERIZE_MODES = ("classic", "antialiased")


def rasterization_cpu(
    means: torch.Tensor,  # [N, 3] world, metres
    quats: torch.Tensor,  # [N, 4] w x y z
    scales: torch.Tensor,  # [N, 3] metres, activated
    opacities: torch.Tensor,  # [N] activated
    colors: torch.Tensor,  # [N, K, 3] SH coefficients, or [N, 3] colours if sh_degree is None
    viewmats: torch.Tensor,  # [1, 4, 4] world -> camera, OpenCV axes
    Ks: torch.Tensor,  # [1, 3, 3] pixels
    width: int,
    height: int,
    sh_degree: int | None = None,  # 0 or 1, or None
    render_mode: Literal["RGB", "RGB+ED"] = "RGB",
    **settings: Any,  # gsplat keyword arguments; only the values above are supported
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """(render [1, H, W, 3 or 4], alphas [1, H, W, 1], info) as ``gsplat.rasterization``
    returns them for one camera in classic or antialiased, unpacked mode, without a background. In
    ``RGB+ED`` mode the fourth channel is the expected depth sum(w z) / alpha (metres).
    ``info`` has what densification reads: ``means2d`` [1, N, 2] (its gradient after
    backward), ``radii`` [1, N, 2] (the half-extents of each footprint's pixel rectangle; 0
    where culled), ``gaussian_ids`` (None: unpacked), ``width``, ``height``, ``n_cameras``."""
    mode = settings.pop("rasterize_mode", "classic")
    unsupported = {k: v for k, v in settings.items() if k not in _FIXED or _FIXED[k] != v}
    if mode not in RASTERIZE_MODES:
        unsupported["rasterize_mode"] = mode
    if render_mode not in RENDER_MODES:
        unsupported["render_mode"] = render_mode
    if unsupported or viewmats.shape[0] != 1 or Ks.shape[0] != 1:
        raise ValueError(
            f"rasterization_cpu renders one camera with {_FIXED} in a render_mode of "
            f"{RENDER_MODES} and a rasterize_mode of {RASTERIZE_MODES}; "
            f"got {unsupported or 'batch'}"
        )
    out = render_torch(
        means, quats, scales, opacities, colors, sh_degree, viewmats[0], Ks[0], width, height,
        antialiased=mode == "antialiased",
    )  # fmt: skip
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
    render = out.rgb if render_mode == "RGB" else torch.cat([out.rgb, out.depth[..., None]], -1)
    return render[None], out.alpha[None, ..., None], info
