"""Mip-splatting's 3D smoothing filter: no Gaussian finer than its cameras can sample.

A Gaussian smaller than the footprint of a pixel of every camera that sees it is detail the
reconstruction could not have measured; at another distance or resolution it shows up as
speckle. Mip-splatting convolves each Gaussian with an isotropic 3D Gaussian of standard
deviation ``sqrt(dilation) * d / f``: ``d`` the nearest depth at which a camera sees it
(inside the image widened by ``margin`` on each side, deeper than ``near``), ``f`` the largest
focal length among the cameras, ``dilation`` 0.2 (squared pixels). Gaussians no camera sees get
the largest filter of those seen. The convolution keeps each Gaussian's integral:
    scales' = sqrt(scales^2 + std^2),  opacity' = opacity * sqrt(prod scales^2 / prod scales'^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from sim_env.splats.gaussians import GaussianSet

__all__ = ["DILATION", "SamplingCamera", "filter_std", "smooth_3d"]

DILATION = 0.2  # filter variance in squared pixels of the finest camera (mip-splatting's)
MARGIN = 0.15  # image fraction added on every side when testing visibility
NEAR = 0.2  # metres: nearer centres are not counted as seen


class SamplingCamera(NamedTuple):
    """A camera whose pixels bound the detail a Gaussian can have."""

    viewmat: np.ndarray  # [4, 4] world -> camera, OpenCV axes
    K: np.ndarray  # [3, 3] pixels
    width: int
    height: int


def filter_std(
    means: np.ndarray,  # [N, 3] world, metres
    cameras: Sequence[SamplingCamera],
    dilation: float = DILATION,
    near: float = NEAR,  # metres: nearer centres are not counted as seen
) -> np.ndarray:
    """[N] the 3D filter's standard deviation per Gaussian, metres."""
    if not cameras:
        raise ValueError("the 3D filter needs at least one camera")
    means = np.asarray(means, np.float64)
    distance = np.full(len(means), np.inf)
    focal = 0.0
    for cam in cameras:
        view, k = np.asarray(cam.viewmat, np.float64), np.asarray(cam.K, np.float64)
        local = means @ view[:3, :3].T + view[:3, 3]
        z = local[:, 2]
        safe = np.where(z > near, z, 1.0)
        x = k[0, 0] * local[:, 0] / safe + k[0, 2]
        y = k[1, 1] * local[:, 1] / safe + k[1, 2]
        seen = (z > near) & (np.abs(x - cam.width / 2) <= (0.5 + MARGIN) * cam.width)
        seen &= np.abs(y - cam.height / 2) <= (0.5 + MARGIN) * cam.height
        distance = np.where(seen, np.minimum(distance, z), distance)
        focal = max(focal, float(k[0, 0]), float(k[1, 1]))
    seen_any = np.isfinite(distance)
    fallback = distance[seen_any].max() if seen_any.any() else near
    distance = np.where(seen_any, distance, fallback)
    return np.sqrt(dilation) * distance / focal


def smooth_3d(gs: GaussianSet, std: np.ndarray) -> GaussianSet:
    """``gs`` convolved with isotropic Gaussians of ``std`` [N] metres (integrals kept)."""
    scales = gs.scales.astype(np.float64)
    std = np.asarray(std, np.float64)[:, None]
    smoothed = np.sqrt(scales**2 + std**2)
    coefficient = np.prod(scales / smoothed, axis=1)
    return GaussianSet.from_activated(
        gs.means, gs.quats, smoothed, gs.opacities * coefficient, gs.sh
    )
