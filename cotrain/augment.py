"""Image augmentations for training policies on camera frames.

Real generalist policies are not trained on raw frames: openpi's training
(``openpi.models.model.preprocess_observation``) crops 95% of every non-wrist image at random,
resizes it back and rotates it by up to 5 degrees, then jitters every image's colour with
augmax's ``ColorJitter(brightness=0.3, contrast=0.4, saturation=0.5)`` (augmax's defaults:
hue 0.1, applied to half the images). :data:`OPENPI` is that recipe, so policies trained here
can meet a twin's rendering as a real policy would. All functions take float images in [0, 1],
[B, 3, H, W], and draw one set of parameters per image from ``generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from cotrain.errors import CotrainError


@dataclass(frozen=True)
class ImageAugment:
    """What to vary per training image; zeros turn a part off.

    Attributes:
        shift: random translation [px], edge-replicated.
        crop: fraction of width and height kept by a random crop, resized back (1: none).
        degrees: random rotation about the centre, uniform in [-degrees, degrees].
        brightness, contrast, saturation, hue: augmax ``ColorJitter`` strengths (HSV value
            offset, contrast slant, saturation offset, hue offset in turns).
        colour_probability: share of images whose colour is jittered.
    """

    shift: int = 0
    crop: float = 1.0
    degrees: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    colour_probability: float = 1.0

    def __post_init__(self) -> None:
        if self.shift < 0 or self.degrees < 0:
            raise CotrainError(f"shift and degrees must be >= 0, got {self}")
        if not 0.0 < self.crop <= 1.0:
            raise CotrainError(f"must be in (0, 1], got {self.crop}", field="crop")
        if min(self.brightness, self.contrast, self.saturation, self.hue) < 0:
            raise CotrainError(f"colour strengths must be >= 0, got {self}")
        if not 0.0 <= self.colour_probability <= 1.0:
            raise CotrainError(
                f"must be in [0, 1], got {self.colour_probability}", field="colour_probability"
            )

    @property
    def geometric(self) -> bool:
        return self.crop < 1.0 or self.degrees > 0

    @property
    def colour(self) -> bool:
        strengths = (self.brightness, self.contrast, self.saturation, self.hue)
        return self.colour_probability > 0 and max(strengths) > 0


SHIFT_ONLY = ImageAugment(shift=2)
OPENPI = ImageAugment(
    crop=0.95, degrees=5.0, brightness=0.3, contrast=0.4, saturation=0.5, hue=0.1,
    colour_probability=0.5,
)  # fmt: skip


def augment_images(
    images: torch.Tensor, augment: ImageAugment, generator: torch.Generator
) -> torch.Tensor:
    """[B, 3, H, W] in [0, 1] -> the same, geometry first, then colour (openpi's order)."""
    out = shift_images(images[:, None], augment.shift, generator)[:, 0]
    if augment.geometric:
        out = crop_rotate(out, augment.crop, augment.degrees, generator)
    if augment.colour:
        out = colour_jitter(out, augment, generator)
    return out


def shift_images(images: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``pixels`` (edge-replicated), per sample and camera;
    images [B, K, C, H, W]."""
    if pixels == 0:
        return images
    b, k, c, h, w = images.shape
    flat = images.reshape(b * k, c, h, w)
    padded = nn.functional.pad(flat, (pixels,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (b * k, 2), generator=generator)
    crops = [padded[i, :, y : y + h, x : x + w] for i, (y, x) in enumerate(offsets.tolist())]
    return torch.stack(crops).view(b, k, c, h, w)


def _uniform(low: float, high: float, n: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def crop_rotate(
    images: torch.Tensor, crop: float, degrees: float, generator: torch.Generator
) -> torch.Tensor:
    """A random ``crop`` of each image resized to the full size, rotated by up to ``degrees``
    about its centre."""
    b = images.shape[0]
    centre = torch.stack([_uniform(-(1 - crop), 1 - crop, b, generator) for _ in range(2)], -1)
    angle = torch.deg2rad(_uniform(-degrees, degrees, b, generator))
    return warp(images, torch.full((b,), crop), centre, angle)


def warp(
    images: torch.Tensor, scale: torch.Tensor, centre: torch.Tensor, angle: torch.Tensor
) -> torch.Tensor:
    """Each output image shows the input's window of ``scale`` [B] times its size centred at
    ``centre`` [B, 2] (x, y; [-1, 1] spans the image), turned by ``angle`` [B] [rad] in pixel
    units: an input point at pixel offset (u, v) from that centre lands at
    R(-angle) (u, v) / scale. Bilinear; what falls outside is edge-replicated."""
    b, _, h, w = images.shape
    cos, sin = torch.cos(angle), torch.sin(angle)
    aspect = w / h  # the rotation is in pixels, not in the stretched normalised square
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale * cos
    theta[:, 0, 1] = -scale * sin / aspect
    theta[:, 1, 0] = scale * sin * aspect
    theta[:, 1, 1] = scale * cos
    theta[:, :, 2] = centre
    grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    return nn.functional.grid_sample(
        images, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB in [0, 1] -> HSV, hue in turns [0, 1) (colorsys's convention)."""
    r, g, b = rgb.unbind(-3)
    value, _ = rgb.max(-3)
    low, _ = rgb.min(-3)
    span = value - low
    saturation = torch.where(value > 0, span / value.clamp_min(1e-12), torch.zeros_like(value))
    safe = span.clamp_min(1e-12)
    hue = torch.where(
        value == r,
        ((g - b) / safe) % 6.0,
        torch.where(value == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    hue = torch.where(span > 0, hue / 6.0, torch.zeros_like(hue))
    return torch.stack([hue, saturation, value], dim=-3)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] HSV (hue in turns) -> RGB in [0, 1]."""
    hue, saturation, value = hsv.unbind(-3)
    k = torch.stack([(n + hue * 6.0) % 6.0 for n in (5.0, 3.0, 1.0)], dim=-3)
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return value.unsqueeze(-3) - (value * saturation).unsqueeze(-3) * ramp


def colour_jitter(
    images: torch.Tensor, augment: ImageAugment, generator: torch.Generator
) -> torch.Tensor:
    """augmax's ``ColorJitter`` on [B, 3, H, W]: in HSV, hue and saturation offsets, a value
    offset (brightness) and a contrast slant about 0.5, one draw per image, applied to a
    ``colour_probability`` share of the images."""
    b = images.shape[0]

    def draw(strength: float) -> torch.Tensor:
        return _uniform(-strength, strength, b, generator)[:, None, None]

    hue, saturation, value = rgb_to_hsv(images).unbind(-3)
    hue = (hue + draw(augment.hue)) % 1.0
    saturation = (saturation + draw(augment.saturation)).clamp(0.0, 1.0)
    value = value + draw(augment.brightness)
    slant = torch.tan((draw(augment.contrast) + 1.0) * (math.pi / 4))
    value = (value * slant + 0.5 * (1 - slant)).clamp(0.0, 1.0)
    jittered = hsv_to_rgb(torch.stack([hue, saturation, value], dim=-3))
    apply = torch.rand(b, generator=generator) < augment.colour_probability
    return torch.where(apply[:, None, None, None], jittered, images)
