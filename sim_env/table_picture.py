"""The table picture file of a package (``scene.table_texture.image``): reading and its checks,
apart from the renderer so that the package loader can validate it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_env.images import read_rgba_png

MAX_SIDE = 8192  # px: a picture's longest side
ASPECT_TOLERANCE = 0.02  # the picture's width/height may differ this much from the extent's


class TableTextureFileError(ValueError):
    """A picture file that cannot be a table texture (the loader names the file and field)."""


def read_picture(path: Path, extent: tuple[float, float, float, float]) -> np.ndarray:
    """[H, W, 4] float32 RGBA in [0, 1] of the PNG at ``path`` (A: where the table is; 1 for an
    RGB picture); raises TableTextureFileError."""
    x_min, y_min, x_max, y_max = extent
    want = (x_max - x_min) / (y_max - y_min)

    def refuse(w: int, h: int) -> str | None:
        if not (2 <= w <= MAX_SIDE and 2 <= h <= MAX_SIDE):
            return f"each side must be 2-{MAX_SIDE} px, got {w}x{h}"
        if abs(w / h / want - 1.0) > ASPECT_TOLERANCE:
            return (
                f"is {w}x{h} px (aspect {w / h:.3f}) but its extent is {x_max - x_min:g} x "
                f"{y_max - y_min:g} (aspect {want:.3f}): texels must be square"
            )
        return None

    return read_rgba_png(path, TableTextureFileError, refuse)
