"""A camera's own response, applied to the finished image: per-channel gains (its white balance
and exposure) and the JPEG codec its stream passes through.

A simulated camera hands the policy pixel-exact, noise-free frames; a real one never gives the
same frame twice. ``env.yaml`` ``render.camera_response`` models what a real camera does to
every pixel, the robot's included (unlike ``render.colour``, which maps the splats' colours
to the camera's): a lab matches its robot's stream, and the fidelity study measures how much
a policy's success and ranking move when only the camera changes
(``benchmarks/fidelity/camera_floor.py``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import mujoco
import numpy as np
from PIL import Image

from sim_env.render.base import CameraLayers, Renderer

__all__ = ["CameraResponse", "RespondingRenderer", "respond"]


@dataclass(frozen=True)
class CameraResponse:
    """What one camera does to its image: ``gains`` multiply R, G, B (1 leaves them), then
    ``jpeg_quality`` (1-100) encodes and decodes it, or None for a raw stream."""

    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    jpeg_quality: int | None = None


def respond(
    rgb: np.ndarray,  # [H, W, 3] uint8, the rendered image
    response: CameraResponse,
) -> np.ndarray:
    """[H, W, 3] uint8: ``rgb`` with the gains applied (rounded, clipped to 0-255), then
    JPEG-encoded at ``response.jpeg_quality`` (4:2:0, as cameras stream) and decoded."""
    out = rgb
    if response.gains != (1.0, 1.0, 1.0):
        scaled = rgb.astype(np.float32) * np.asarray(response.gains, np.float32)
        out = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if response.jpeg_quality is not None:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(out)).save(
            buffer, "JPEG", quality=response.jpeg_quality
        )
        with Image.open(buffer) as decoded:
            out = np.asarray(decoded.convert("RGB"))
    return out


class RespondingRenderer(Renderer):
    """``inner``'s images with each camera's response applied (depth and segmentation as
    drawn); cameras without one are passed through."""

    def __init__(self, inner: Renderer, responses: Mapping[str, CameraResponse]) -> None:
        self.inner = inner
        self.responses = dict(responses)

    def render_layers(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> CameraLayers:
        layers = self.inner.render_layers(data, camera, size)
        response = self.responses.get(camera)
        if response is None:
            return layers
        return CameraLayers(respond(layers.rgb, response), layers.depth, layers.segmentation)

    def close(self) -> None:
        self.inner.close()
