"""One interface for every image renderer (MuJoCo meshes, Gaussian splats + MuJoCo robot).

Images are rendered directly at the size the policy reads: a camera whose aspect differs from
the requested size is rendered at the largest size of its own aspect that fits, then padded
with black, centred — exactly what openpi's ``resize_with_pad`` would do to a full-size image,
without rendering the full size first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class CameraLayers:
    """What one camera sees. rgb [H, W, 3] uint8; depth [H, W] float32 metres along the optical
    axis (0 where nothing); segmentation [H, W] int32 geom id (-1 where nothing)."""

    rgb: np.ndarray
    depth: np.ndarray | None = None
    segmentation: np.ndarray | None = None


def fit_size(native: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of ``native``'s aspect that fits in ``target``, as resize_with_pad does."""
    (w, h), (tw, th) = native, target
    ratio = max(w / tw, h / th)
    return max(1, int(w / ratio)), max(1, int(h / ratio))


def pad_to(image: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Centre ``image`` [h, w, ...] in a zero image of (width, height) ``target``."""
    tw, th = target
    h, w = image.shape[:2]
    if (w, h) == (tw, th):
        return image
    out = np.zeros((th, tw, *image.shape[2:]), dtype=image.dtype)
    top, left = (th - h) // 2, (tw - w) // 2
    out[top : top + h, left : left + w] = image
    return out


class Renderer(ABC):
    """Renders a camera of the current simulation state at a given size."""

    @abstractmethod
    def render_layers(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> CameraLayers:
        """What ``camera`` sees at the largest size of its aspect that fits ``size`` (unpadded)."""

    def render(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        """[H, W, 3] uint8 image of ``camera``; ``size`` = (width, height), default the camera's."""
        rgb = self.render_layers(data, camera, size).rgb
        return pad_to(rgb, size) if size else rgb

    def close(self) -> None:  # noqa: B027 - optional hook, most renderers hold nothing
        """Release GPU/GL resources."""
