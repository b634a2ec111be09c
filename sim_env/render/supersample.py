"""Splat layers rendered finer than the image and box-averaged down to it.

A camera's pixel integrates the light over its area. Splats trained on images of a finer pixel
than a policy camera's (a phone's 240 px frames against a 160x90 exterior view) drawn straight
at the coarse size are point samples of a look fitted at the fine one; drawn at about the
training pixel's size and averaged, they integrate as the camera does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_average_layers"]


def box_average_layers(
    rgb: np.ndarray,  # [H f, W f, 3] premultiplied colour
    depth: np.ndarray,  # [H f, W f] expected depth, metres
    alpha: np.ndarray,  # [H f, W f]
    factor: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb [H, W, 3], depth [H, W], alpha [H, W]) averaged over ``factor`` x ``factor``
    blocks; the depth weighted by alpha (0 where nothing was drawn), float32."""
    h, w = alpha.shape[0] // factor, alpha.shape[1] // factor
    if (h * factor, w * factor) != alpha.shape:
        raise ValueError(f"layers of {alpha.shape} are not a multiple of {factor}")

    def blocks(values: np.ndarray) -> np.ndarray:
        return values.reshape(h, factor, w, factor, *values.shape[2:]).mean(axis=(1, 3))

    mean_alpha = blocks(alpha)
    weighted = blocks(np.where(alpha > 0, depth * alpha, 0.0))
    mean_depth = np.where(mean_alpha > 0, weighted / np.maximum(mean_alpha, 1e-12), 0.0)
    return (
        blocks(rgb).astype(np.float32),
        mean_depth.astype(np.float32),
        mean_alpha.astype(np.float32),
    )
