"""The CUDA path: gsplat's ``rasterization`` with the CPU rasterizer's settings, numpy in/out."""

from __future__ import annotations

from functools import cache
from types import MappingProxyType

import numpy as np

from sim_env.errors import SimEnvError
from sim_env.splats.constants import EPS2D, TILE_SIZE

__all__ = ["GSPLAT_SETTINGS", "gsplat_cuda_available", "gsplat_settings", "rasterize_gsplat"]

# The keyword arguments of ``gsplat.rasterization`` that give the CPU rasterizer's semantics
# (classic mode, the 0.3 px low-pass, no radius clip, one list per camera); the renderer and
# the gsplat trainer both pass them.
GSPLAT_SETTINGS = MappingProxyType(
    {
        "eps2d": EPS2D,
        "radius_clip": 0.0,
        "packed": False,
        "tile_size": TILE_SIZE,
        "rasterize_mode": "classic",
    }
)


def gsplat_settings(antialiased: bool = False) -> dict:
    """``GSPLAT_SETTINGS`` with ``rasterize_mode`` "antialiased" when asked (the CPU
    rasterizer's ``antialiased`` flag)."""
    return {**GSPLAT_SETTINGS, "rasterize_mode": "antialiased" if antialiased else "classic"}


@cache
def gsplat_cuda_available() -> bool:
    """True when torch sees a CUDA device and gsplat's CUDA extension loads (the first call
    may JIT-compile it, which takes minutes)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        from gsplat.cuda._backend import _C
    except (ImportError, OSError, RuntimeError):
        return False
    return _C is not None


def rasterize_gsplat(
    means: np.ndarray,  # [N, 3] f32 world, metres
    quats: np.ndarray,  # [N, 4] f32 w x y z
    scales: np.ndarray,  # [N, 3] f32 metres
    opacities: np.ndarray,  # [N] f32 in [0, 1]
    sh: np.ndarray,  # [N, K, 3] f32 SH coefficients, or [N, 1, 3] colours when sh_degree = -1
    sh_degree: int,  # 0..3, or -1 for plain colours
    viewmat: np.ndarray,  # [4, 4] f32 world -> camera, OpenCV axes
    K: np.ndarray,  # [3, 3] f32 intrinsics, pixels
    width: int,
    height: int,
    background: np.ndarray,  # [3] f32
    near: float,  # metres
    far: float,  # metres
    antialiased: bool = False,  # rasterize_mode "antialiased" instead of "classic"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgb [H, W, 3], expected depth [H, W], alpha [H, W] (float32) from gsplat on CUDA."""
    if not gsplat_cuda_available():
        raise SimEnvError(
            "backend 'gsplat' needs a CUDA device and gsplat's CUDA extension; "
            "use backend='cpu' or 'auto'"
        )
    import torch
    from gsplat import rasterization

    def cuda(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).cuda()

    with torch.no_grad():
        render, alpha, _ = rasterization(
            means=cuda(means),
            quats=cuda(quats),
            scales=cuda(scales),
            opacities=cuda(opacities),
            colors=cuda(sh[:, 0]) if sh_degree < 0 else cuda(sh),
            viewmats=cuda(viewmat)[None],
            Ks=cuda(K)[None],
            width=width,
            height=height,
            near_plane=near,
            far_plane=far,
            sh_degree=None if sh_degree < 0 else sh_degree,
            backgrounds=cuda(background)[None],
            render_mode="RGB+ED",
            **gsplat_settings(antialiased),
        )
    render = render[0].cpu().numpy()
    return (
        np.ascontiguousarray(render[..., :3]),
        np.ascontiguousarray(render[..., 3]),
        np.ascontiguousarray(alpha[0, ..., 0].cpu().numpy()),
    )
