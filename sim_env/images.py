"""Image geometry shared by the cameras' consumers: what openpi policies were trained with."""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_with_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Fit ``image`` inside (height, width) keeping its aspect ratio; pad the rest with zeros.

    The same geometry as ``tf.image.resize_with_pad`` as openpi's client replicates it with PIL
    (bilinear, sizes truncated, the resized image centred with the odd pixel at the bottom/right),
    so the pixels a policy sees here are those it saw on the real robot.

    Args:
        image: uint8 (H, W, C).
        height, width: target size [px].

    Returns:
        uint8 (height, width, C); ``image`` itself when it already has that size.
    """
    cur_height, cur_width = image.shape[:2]
    if (cur_height, cur_width) == (height, width):
        return image
    ratio = max(cur_width / width, cur_height / height)
    new_height, new_width = int(cur_height / ratio), int(cur_width / ratio)
    resized = np.asarray(
        Image.fromarray(image).resize((new_width, new_height), resample=Image.BILINEAR)
    )
    top = max(0, (height - new_height) // 2)
    left = max(0, (width - new_width) // 2)
    padded = np.zeros((height, width, *image.shape[2:]), dtype=image.dtype)
    padded[top : top + new_height, left : left + new_width] = resized
    return padded
