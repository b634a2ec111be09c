"""Training-image augmentations: colour spaces against colorsys, warps against exact moves."""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pytest
import torch

from cotrain.augment import (
    OPENPI,
    ImageAugment,
    augment_images,
    colour_jitter,
    hsv_to_rgb,
    rgb_to_hsv,
    shift_images,
    warp,
)
from cotrain.errors import CotrainError


def _images(b: int = 4, h: int = 18, w: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_hsv_round_trip_matches_colorsys():
    rgb = _images(2, 5, 7)
    rgb[0, :, 0, 0] = torch.tensor([0.2, 0.2, 0.2])  # grey: hue and saturation 0
    rgb[0, :, 0, 1] = 0.0  # black
    hsv = rgb_to_hsv(rgb)
    for b, y, x in np.ndindex(2, 5, 7):
        expected = colorsys.rgb_to_hsv(*rgb[b, :, y, x].tolist())
        assert hsv[b, :, y, x].tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.allclose(hsv_to_rgb(hsv), rgb, atol=1e-6)


def test_hsv_to_rgb_matches_colorsys():
    hsv = _images(1, 6, 6, seed=3)
    rgb = hsv_to_rgb(hsv)
    for y, x in np.ndindex(6, 6):
        expected = colorsys.hsv_to_rgb(*hsv[0, :, y, x].tolist())
        assert rgb[0, :, y, x].tolist() == pytest.approx(expected, abs=1e-6)


def test_colour_jitter_moves_only_what_it_is_told():
    images = _images(8) * 0.6 + 0.2  # no clipping from the brightness offset below
    gen = torch.Generator().manual_seed(1)
    same = colour_jitter(images, ImageAugment(), gen)
    assert torch.allclose(same, images, atol=1e-6)

    before = rgb_to_hsv(images)
    after = rgb_to_hsv(colour_jitter(images, ImageAugment(brightness=0.15), gen))
    offset = after[:, 2] - before[:, 2]  # one value offset per image, hue and saturation kept
    assert torch.allclose(offset, offset[:, :1, :1].expand_as(offset), atol=1e-5)
    assert offset[:, 0, 0].abs().max() <= 0.15 and offset[:, 0, 0].abs().min() > 0
    assert torch.allclose(after[:, :2], before[:, :2], atol=1e-5)

    turned = rgb_to_hsv(colour_jitter(images, ImageAugment(hue=0.1), gen))
    assert torch.allclose(turned[:, 1:], before[:, 1:], atol=1e-5)
    step = (turned[:, 0] - before[:, 0] + 0.5) % 1.0 - 0.5
    assert torch.allclose(step, step[:, :1, :1].expand_as(step), atol=1e-4)


def test_colour_probability_is_the_share_of_images_changed():
    images = _images(2000, 2, 2)
    out = colour_jitter(images, OPENPI, torch.Generator().manual_seed(0))
    changed = (out - images).abs().flatten(1).amax(1) > 1e-6
    assert 0.45 < changed.float().mean() < 0.55


def test_warp_by_a_quarter_turn_is_rot90_on_a_square():
    images = _images(1, 8, 8)
    out = warp(images, torch.ones(1), torch.zeros(1, 2), torch.tensor([math.pi / 2]))
    assert torch.allclose(out, torch.rot90(images, k=1, dims=(2, 3)), atol=1e-5)


def _blob(h: int, w: int, x: float, y: float, sigma: float = 1.5) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    blob = torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return blob.expand(1, 3, h, w).clone()


def _centroid(image: torch.Tensor) -> tuple[float, float]:
    weight = image[0, 0]
    h, w = weight.shape
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return float((weight * xx).sum() / weight.sum()), float((weight * yy).sum() / weight.sum())


@pytest.mark.parametrize(("scale", "angle_deg"), [(1.0, 5.0), (1.0, -4.0), (0.95, 3.0)])
def test_warp_moves_a_point_as_its_docstring_says_on_a_wide_image(scale, angle_deg):
    h, w = 90, 160
    u, v = 30.0, -12.0  # pixel offset of the blob from the image centre
    image = _blob(h, w, w / 2 + u, h / 2 + v, sigma=3.0)
    angle = math.radians(angle_deg)
    out = warp(image, torch.tensor([scale]), torch.zeros(1, 2), torch.tensor([angle]))
    x, y = _centroid(out)
    cos, sin = math.cos(-angle), math.sin(-angle)
    expected = ((cos * u - sin * v) / scale + w / 2, (sin * u + cos * v) / scale + h / 2)
    assert (x, y) == pytest.approx(expected, abs=0.15)


def test_shift_only_augment_is_the_old_shift():
    images = _images(6)
    a = augment_images(images, ImageAugment(shift=2), torch.Generator().manual_seed(4))
    b = shift_images(images[:, None], 2, torch.Generator().manual_seed(4))[:, 0]
    assert torch.equal(a, b)


def test_openpi_augment_keeps_range_and_shape():
    images = _images(16)
    out = augment_images(images, OPENPI, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.allclose(out, images)


def test_bad_settings_are_refused():
    with pytest.raises(CotrainError, match="crop"):
        ImageAugment(crop=0.0)
    with pytest.raises(CotrainError, match="colour strengths"):
        ImageAugment(hue=-0.1)
