"""Image quality: PSNR and SSIM (Gaussian 11x11 window, sigma 1.5, as the 3DGS papers report),
in torch so the training loss and the held-out evaluation use the same code."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2


def _as_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(image) if not torch.is_tensor(image) else image).float()


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two [H, W, 3] images in [0, 1]."""
    mse = float(torch.mean((_as_tensor(a) - _as_tensor(b)) ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


def _taps() -> torch.Tensor:
    """[SSIM_WINDOW] the normalised 1D Gaussian whose outer product is the SSIM window."""
    x = torch.arange(SSIM_WINDOW, dtype=torch.float32) - SSIM_WINDOW // 2
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _blur(stack: torch.Tensor) -> torch.Tensor:
    """[1, C, H, W] -> the Gaussian-window mean of every channel, zero padded: two 1D passes
    (the window is separable), 2 x 11 taps per pixel instead of 121."""
    channels, pad = stack.shape[1], SSIM_WINDOW // 2
    taps = _taps().to(stack.device)
    rows = F.conv2d(
        stack, taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(pad, 0), groups=channels
    )
    return F.conv2d(
        rows, taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, pad), groups=channels
    )


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM ``[3, H, W]`` of two [H, W, 3] images in [0, 1] (differentiable)."""
    x, y = a.permute(2, 0, 1), b.permute(2, 0, 1)
    moments = _blur(torch.cat([x, y, x * x, y * y, x * y])[None])[0]
    mu_x, mu_y, xx, yy, xy = moments.split(3)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return num / den


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Mean SSIM of two [H, W, 3] images in [0, 1]."""
    with torch.no_grad():
        return float(ssim_map(_as_tensor(a), _as_tensor(b)).mean())
