"""The training loss's SSIM against a float64 reference built on scipy's Gaussian filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from reconstruct.train.metrics import SSIM_C1, SSIM_C2, SSIM_SIGMA, SSIM_WINDOW, ssim, ssim_map


def reference_ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[3, H, W] SSIM with the 11x11 sigma-1.5 window, zero padded, in float64."""

    def blur(x: np.ndarray) -> np.ndarray:
        radius = SSIM_WINDOW // 2
        return gaussian_filter(
            x, SSIM_SIGMA, mode="constant", cval=0.0, truncate=radius / SSIM_SIGMA
        )

    out = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        num = (2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)
        out.append(num / ((mx**2 + my**2 + SSIM_C1) * (vx + vy + SSIM_C2)))
    return np.stack(out)


@pytest.mark.parametrize("size", [(40, 64), (23, 17)])
def test_ssim_map_matches_the_reference(size):
    rng = np.random.default_rng(0)
    a = rng.random((*size, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    ours = ssim_map(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert ours.shape == (3, *size)
    np.testing.assert_allclose(ours, reference_ssim_map(a, b), atol=2e-5)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert ssim(a, b) == pytest.approx(reference_ssim_map(a, b).mean(), abs=1e-5)
