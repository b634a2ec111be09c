"""Image geometry shared by the cameras' consumers: one image-size type, and the resize
openpi policies were trained with.

:class:`ImageSize` is the only way a size travels through twinbench: always (width, height),
written ``WIDTHxHEIGHT`` (``320x180``). Files that store a size as ``[height, width]`` (a
bundle's policy.yaml, a policy server's metadata frame) convert at their boundary with
:meth:`ImageSize.from_height_width` and :attr:`ImageSize.height_width`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from sim_env.errors import SimEnvError

MAX_SIDE = 8192  # px: no camera renders, and no policy reads, a larger image


class _WidthHeight(NamedTuple):
    width: int
    height: int


class ImageSize(_WidthHeight):
    """An image's size in pixels, (width, height), each in 1..MAX_SIDE.

    A named tuple, so ``width, height = size`` and the renderers' ``size[0]`` (width) work;
    use the names. ``size.shape`` is the (height, width, 3) shape of an RGB image of this size.
    """

    __slots__ = ()

    def __new__(cls, width: int, height: int) -> ImageSize:
        values = []
        for name, value in (("width", width), ("height", height)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or not 1 <= value <= MAX_SIDE
            ):
                raise SimEnvError(
                    f"image {name} must be an integer in 1..{MAX_SIDE}, got {value!r}"
                )
            values.append(int(value))
        return super().__new__(cls, *values)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, 3): the shape of an RGB image of this size."""
        return (self.height, self.width, 3)

    @property
    def height_width(self) -> tuple[int, int]:
        """(height, width): the order files that store a size as ``[H, W]`` use."""
        return (self.height, self.width)

    @classmethod
    def parse(cls, text: str, *, field: str = "image_size") -> ImageSize:
        """``"WIDTHxHEIGHT"`` (e.g. ``"320x180"``) as a size.

        Raises:
            SimEnvError: naming ``field``, when ``text`` is not two positive integers joined
                by ``x``.
        """
        width, sep, height = str(text).strip().lower().partition("x")
        try:
            if not sep:
                raise ValueError
            return cls(int(width), int(height))
        except (ValueError, SimEnvError):
            raise SimEnvError(
                f"expected WIDTHxHEIGHT with both in 1..{MAX_SIDE}, e.g. 320x180, got {text!r}",
                field=field,
            ) from None

    @classmethod
    def from_height_width(cls, values: Sequence[Any], *, field: str = "image_size") -> ImageSize:
        """A size stored as ``[height, width]`` (policy.yaml, a server's metadata frame).

        Raises:
            SimEnvError: naming ``field``, when ``values`` is not two integers >= 1.
        """
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or len(values) != 2:
            raise SimEnvError(f"expected [height, width], got {values!r}", field=field)
        try:
            return cls(width=values[1], height=values[0])
        except SimEnvError as exc:
            raise SimEnvError(
                f"expected [height, width] > 0, got {list(values)!r}: {exc.message}", field=field
            ) from None

    @classmethod
    def coerce(cls, value: Any, *, field: str = "image_size") -> ImageSize:
        """An ImageSize, a ``"WIDTHxHEIGHT"`` string or a (width, height) pair, as a size.

        For configs documented as (width, height) (``EnvConfig``, ``EvalConfig``); a plain
        pair is never read as (height, width).
        """
        if isinstance(value, ImageSize):
            return value
        if isinstance(value, str):
            return cls.parse(value, field=field)
        if isinstance(value, Sequence) and len(value) == 2:
            try:
                return cls(*value)
            except SimEnvError as exc:
                raise SimEnvError(exc.message, field=field) from None
        raise SimEnvError(
            f"expected ImageSize(width, height), 'WIDTHxHEIGHT' or (width, height), got {value!r}",
            field=field,
        )


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


def read_rgba_png(
    path: Path, error: type[ValueError], refuse_size: Callable[[int, int], str | None]
) -> np.ndarray:
    """[H, W, 4] float32 RGBA in [0, 1] of the PNG at ``path`` (A = 1 for an RGB one).

    ``refuse_size(width, height)`` says why a size will not do (None: it will). Raises
    ``error`` saying what is wrong with the file; the caller names the file and field."""
    from PIL import UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise error(f"must be a PNG, got {image.format}")
            if image.mode not in ("RGB", "RGBA"):
                raise error(f"must be RGB or RGBA, got mode {image.mode}")
            why = refuse_size(*image.size)
            if why is not None:
                raise error(why)
            return np.asarray(image.convert("RGBA"), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise error(f"does not load as an image: {exc}") from None
