"""``rasterize``: one camera's RGB, depth and alpha from activated Gaussians.

Conventions are gsplat's: quaternions w x y z, scales and opacities activated, ``viewmat``
world-to-camera in OpenCV axes (x right, y down, z forward), ``K`` pinhole intrinsics in
pixels with pixel centres at integer + 0.5. Depth is gsplat's ``render_mode="RGB+ED"``
expected depth: sum(w_i z_i) / alpha with z the camera-frame z of each Gaussian centre
(metres, not the ray length), alpha = sum(w_i) = 1 - final transmittance; pixels that no
Gaussian reaches have depth 0 and alpha 0. With ``depth="median"`` (CPU only: gsplat's
3DGS kernels have no median depth) depth is instead the z of the Gaussian whose blending takes
the pixel's accumulated alpha to 0.5 or above, 0 where it stays below (2DGS's median depth),
for surfaces whose edges must not be averaged with what lies behind them. The background is
blended into rgb only.
SH colours are evaluated for the direction from the camera centre to each Gaussian centre,
plus 0.5, clamped at 0; plain colours are used as given. Opacities above 1 are outside
gsplat's contract (its radius rule assumes opacity <= 1) and are not supported.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sim_env.splats.blend import DEPTH_MODES, DepthMode
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.cpu import rasterize_cpu
from sim_env.splats.gaussians import sh_degree_for_bases
from sim_env.splats.gpu import gsplat_cuda_available, rasterize_gsplat

__all__ = ["Backend", "DepthMode", "rasterize"]

Backend = Literal["auto", "cpu", "gsplat"]
_BACKENDS = ("auto", "cpu", "gsplat")


def _f32(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype=np.float32)
    if out.ndim != len(shape) or any(
        s is not None and s != o for s, o in zip(shape, out.shape, strict=True)
    ):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {out.shape}; expected {want}")
    return out


def _colors_and_degree(colors: np.ndarray, n: int, sh_degree: int | None):
    """-> ([N, K, 3] float32, degree), degree -1 meaning plain colours in ``[:, 0]``."""
    colors = np.ascontiguousarray(colors, dtype=np.float32)
    if colors.ndim == 2:
        if sh_degree is not None:
            raise ValueError("sh_degree is set but colors has shape (N, 3); pass (N, K, 3) SH")
        return _f32("colors", colors, (n, 3))[:, None, :], -1
    colors = _f32("colors", colors, (n, None, 3))
    available = sh_degree_for_bases(colors.shape[1])
    degree = available if sh_degree is None else sh_degree
    if not 0 <= degree <= available:
        raise ValueError(f"sh_degree {degree} needs {(degree + 1) ** 2} coefficients per channel")
    return colors, degree


def rasterize(
    means: np.ndarray,  # [N, 3] world, metres
    quats: np.ndarray,  # [N, 4] w x y z (normalised here)
    scales: np.ndarray,  # [N, 3] metres, activated
    opacities: np.ndarray,  # [N] in [0, 1], activated
    colors: np.ndarray,  # [N, 3] RGB or [N, K, 3] SH coefficients
    viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
    K: np.ndarray,  # [3, 3] intrinsics, pixels
    width: int,
    height: int,
    background: np.ndarray | None = None,  # [3] RGB behind the splats; black if None
    sh_degree: int | None = None,  # SH degree to use; all available if None
    backend: Backend = "auto",
    *,
    near_plane: float = NEAR_PLANE,  # metres
    far_plane: float = FAR_PLANE,  # metres
    antialiased: bool = False,
    depth: DepthMode = "expected",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render -> (rgb [H, W, 3], depth [H, W] in metres, alpha [H, W]), float32.

    ``depth``: "expected" or "median" (see the module docstring). ``backend``: "cpu"
    (numba), "gsplat" (CUDA) or "auto" (gsplat when CUDA and its extension are available and
    the depth is expected, else cpu). Both share gsplat's classic-mode semantics, or with
    ``antialiased`` its "antialiased" mode (mip-splatting's 2D filter: each splat's opacity
    scaled by sqrt(det(cov2d) / det(cov2d + 0.3 I)), so sub-pixel Gaussians do not bloat
    when rendered below the resolution they were trained at).
    """
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(_BACKENDS)}")
    if depth not in DEPTH_MODES:
        raise ValueError(f"unknown depth {depth!r}; expected one of {', '.join(DEPTH_MODES)}")
    if depth == "median" and backend == "gsplat":
        raise ValueError('depth="median" needs backend "cpu" or "auto": gsplat has no median depth')
    if width <= 0 or height <= 0:
        raise ValueError(f"image size {width}x{height}; both must be positive")
    if not 0 < near_plane < far_plane:
        raise ValueError(f"need 0 < near_plane < far_plane, got {near_plane}, {far_plane}")
    means = _f32("means", means, (None, 3))
    n = means.shape[0]
    quats = _f32("quats", quats, (n, 4))
    scales = _f32("scales", scales, (n, 3))
    opacities = _f32("opacities", opacities, (n,))
    sh, degree = _colors_and_degree(colors, n, sh_degree)
    viewmat = _f32("viewmat", viewmat, (4, 4))
    K = _f32("K", K, (3, 3))
    bg = np.zeros(3, np.float32) if background is None else _f32("background", background, (3,))
    gpu_ok = depth == "expected" and gsplat_cuda_available()
    use_gpu = backend == "gsplat" or (backend == "auto" and gpu_ok)
    if use_gpu:
        return rasterize_gsplat(
            means, quats, scales, opacities, sh, degree, viewmat, K, width, height, bg,
            near_plane, far_plane, antialiased,
        )  # fmt: skip
    return rasterize_cpu(
        means, quats, scales, opacities, sh, degree, viewmat, K, width, height, bg,
        near_plane, far_plane, antialiased, depth,
    )  # fmt: skip
