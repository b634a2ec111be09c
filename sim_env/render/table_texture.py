"""The table top drawn from a picture instead of splats (format version 2,
``scene.table_texture``).

A table is a plane, and a picture of it projected from the scan's frames keeps the frames'
detail, where splats trained on a CPU for a few thousand steps blur it (benchmarks/FIDELITY.md,
session 17). Each pixel's ray meets the plane ``z = height``; inside the picture's extent the
colour and coverage (the picture's alpha: where the table is) are read from a mipmap pyramid
at the level of the pixel's footprint, trilinearly, as a GPU samples a texture. The hybrid
renderer blends the splats over it (everything on the table stands above the plane) and the
robot over both by depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim_env.envmap import camera_rays

__all__ = ["TablePicture", "TableTexture", "mip_levels", "over_table"]

Extent = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max, world units


@dataclass(frozen=True, eq=False)
class TablePicture:
    """What a camera sees of the table."""

    rgb: np.ndarray  # [H, W, 3] float32 colour premultiplied by ``alpha``
    alpha: np.ndarray  # [H, W] float32 in [0, 1]: how much of the pixel is table
    depth: np.ndarray  # [H, W] metres along the optical axis, inf where ``alpha`` is 0


def mip_levels(image: np.ndarray) -> list[np.ndarray]:
    """The picture and its halvings (area averages) down to a side of 1 px."""
    levels = [np.ascontiguousarray(image, np.float32)]
    while min(levels[-1].shape[:2]) > 1:
        h, w = levels[-1].shape[:2]
        half = (max(1, w // 2), max(1, h // 2))
        levels.append(cv2.resize(levels[-1], half, interpolation=cv2.INTER_AREA))
    return levels


class TableTexture:
    """One package's table picture; world-fixed cameras' views are cached."""

    def __init__(self, rgba: np.ndarray, extent: Extent, height: float):
        """``rgba``: [H, W, 4] float in [0, 1], straight (not premultiplied) colour."""
        rgba = np.asarray(rgba, np.float32)
        premultiplied = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)
        self.levels = mip_levels(premultiplied)
        self.extent = tuple(float(x) for x in extent)
        self.height = float(height)
        self._fixed: dict[tuple[str, int, int], TablePicture] = {}

    def hides(self, means: np.ndarray) -> np.ndarray:
        """[N] whether the ``[N, 3]`` world points lie under the table the picture shows."""
        x_min, y_min, x_max, y_max = self.extent
        rows, cols = self.levels[0].shape[:2]
        col = np.floor((means[:, 0] - x_min) / (x_max - x_min) * cols).astype(int)
        row = np.floor((y_max - means[:, 1]) / (y_max - y_min) * rows).astype(int)
        inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
        table = np.zeros(len(means), bool)
        table[inside] = self.levels[0][row[inside], col[inside], 3] >= 0.5
        return table & (means[:, 2] < self.height)

    def draw(
        self,
        viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
        K: np.ndarray,  # [3, 3] intrinsics, pixel centres at +0.5
        width: int,
        height: int,
        fixed: tuple[str, int, int] | None = None,  # set for a camera fixed in the world
    ) -> TablePicture:
        if fixed is not None and fixed in self._fixed:
            return self._fixed[fixed]
        picture = self._draw(viewmat, K, width, height)
        if fixed is not None:
            self._fixed[fixed] = picture
        return picture

    def _draw(self, viewmat: np.ndarray, K: np.ndarray, width: int, height: int) -> TablePicture:
        origin, dirs = camera_rays(viewmat, K, width, height)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (self.height - origin[2]) / dirs[..., 2]
        ahead = np.isfinite(t) & (t > 0)
        t = np.where(ahead, t, 0.0)
        x = origin[0] + t * dirs[..., 0]
        y = origin[1] + t * dirs[..., 1]
        x_min, y_min, x_max, y_max = self.extent
        hit = ahead & (x >= x_min) & (x <= x_max) & (y >= y_min) & (y <= y_max)
        rows, cols = self.levels[0].shape[:2]
        u = (x - x_min) / (x_max - x_min) * cols  # texel edges at integers, level 0
        v = (y_max - y) / (y_max - y_min) * rows
        read = self._sample(u, v, self._level(u, v, ahead))
        read[~hit] = 0.0
        alpha = np.clip(read[..., 3], 0.0, 1.0)
        depth_along = t * (dirs @ np.asarray(viewmat, np.float64)[2, :3])  # camera z
        depth = np.where(alpha > 0, depth_along, np.inf).astype(np.float32)
        return TablePicture(read[..., :3].astype(np.float32), alpha.astype(np.float32), depth)

    def _level(self, u: np.ndarray, v: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        """[H, W] fractional mip level: log2 of the larger pixel step in texels (OpenGL's)."""
        far = 1e6
        uu, vv = np.where(ahead, u, far), np.where(ahead, v, far)
        step_x = np.hypot(np.gradient(uu, axis=1), np.gradient(vv, axis=1))
        step_y = np.hypot(np.gradient(uu, axis=0), np.gradient(vv, axis=0))
        rho = np.maximum(np.maximum(step_x, step_y), 1.0)
        return np.clip(np.log2(rho), 0.0, len(self.levels) - 1.0)

    def _sample(self, u: np.ndarray, v: np.ndarray, level: np.ndarray) -> np.ndarray:
        """[H, W, 4] trilinear reads at level-0 texel coordinates ``u``, ``v``."""
        low = np.floor(level).astype(int)
        high = np.minimum(low + 1, len(self.levels) - 1)
        frac = (level - low)[..., None].astype(np.float32)
        rows, cols = self.levels[0].shape[:2]
        out = np.zeros(u.shape + (4,), np.float32)
        for index in np.unique(np.r_[low.ravel(), high.ravel()]):
            image = self.levels[index]
            map_x = (u * (image.shape[1] / cols) - 0.5).astype(np.float32)
            map_y = (v * (image.shape[0] / rows) - 0.5).astype(np.float32)
            read = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            weight = np.where(low[..., None] == index, 1.0 - frac, 0.0)
            weight = weight + np.where(high[..., None] == index, frac, 0.0)
            out += read * weight.astype(np.float32)
        return out


def over_table(
    rgb: np.ndarray,  # [H, W, 3] splat colour, premultiplied by alpha
    depth: np.ndarray,  # [H, W] the splats' expected depth (metres, where alpha > 0)
    alpha: np.ndarray,  # [H, W] the splats' accumulated opacity
    table: TablePicture,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The splat layer blended over the table picture: colour (premultiplied), expected depth
    and opacity of the two together, as if the picture were one more splat behind all."""
    rest = (1.0 - alpha).astype(np.float32)
    cover = np.where(np.isfinite(table.depth), table.alpha, 0.0).astype(np.float32)
    out_alpha = alpha + rest * cover
    out_rgb = rgb + rest[..., None] * np.where(cover[..., None] > 0, table.rgb, 0.0)
    table_depth = np.where(cover > 0, table.depth, 0.0)
    weighted = alpha * np.where(alpha > 0, depth, 0.0) + rest * cover * table_depth
    out_depth = np.where(out_alpha > 0, weighted / np.maximum(out_alpha, 1e-10), depth)
    return out_rgb.astype(np.float32), out_depth.astype(np.float32), out_alpha.astype(np.float32)
