"""Stage 3 of the CPU rasterizer: per-tile front-to-back alpha blending, scatter style.

gsplat's CUDA kernel has every pixel of a tile walk the tile's whole list (a gather). On a
CPU that wastes most of the work: at low resolution a splat covers a handful of pixels. Here
each splat, front to back, visits only its own pixel rectangle inside the tile, skips rows
whose pixels are all done (a bit per pixel) and pixels outside its alpha >= 1/255 ellipse
before any exp; the tile stops once every pixel is done. The per-pixel arithmetic and its
order are gsplat's, so the result is too:
    alpha = min(0.999, opacity * exp(-sigma)), skipped when below 1/255;
    a pixel is done (exclusive) when T * (1 - alpha) <= 1e-4;
    colour += alpha * T * c, depth += alpha * T * z, T *= 1 - alpha.
Outputs: rgb + T * background, alpha = 1 - T, and either expected depth = sum(w z) /
max(alpha, 1e-10) or median depth: the z of the blended splat that takes T from above 0.5 to
0.5 or below (2DGS's and Gaussian surfels' surface depth, which does not average a thin wall's
edge with what lies behind it), 0 where T stays above 0.5.
"""

from __future__ import annotations

from typing import Literal

import numba
import numpy as np

from sim_env.splats.binning import TileBins
from sim_env.splats.constants import ALPHA_MAX, ALPHA_MIN, DEPTH_ALPHA_EPS, T_MIN, TILE_SIZE
from sim_env.splats.project import (
    REC_A,
    REC_B,
    REC_BLUE,
    REC_C,
    REC_DEPTH,
    REC_G,
    REC_OPACITY,
    REC_R,
    REC_RECT,
    REC_SIGMA_MAX,
    REC_WIDTH,
    REC_X,
    REC_Y,
)

__all__ = ["DEPTH_MODES", "DepthMode", "blend"]

DepthMode = Literal["expected", "median"]
DEPTH_MODES = ("expected", "median")

_ZERO = np.float32(0.0)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_ALPHA_MIN = np.float32(ALPHA_MIN)
_ALPHA_MAX = np.float32(ALPHA_MAX)
_T_MIN = np.float32(T_MIN)
_DEPTH_EPS = np.float32(DEPTH_ALPHA_EPS)
_TILE_PIXELS = TILE_SIZE * TILE_SIZE
_BATCH = 256  # records gathered at a time, so that a tile that stops early gathers little


@numba.njit(parallel=True, cache=True, fastmath=True)
def _blend_kernel(
    records,  # [N, REC_WIDTH] f32
    offsets,  # [n_tiles + 1] i64
    entries,  # [n_intersections] i32 record indices, each tile's run front to back
    tiles_x,
    width,
    height,
    background,  # [3] f32
    median_depth,  # bool: depth is the median depth, else the expected depth
    rgb,  # out [H, W, 3] f32
    depth,  # out [H, W] f32
    alpha,  # out [H, W] f32
):
    n_tiles = offsets.shape[0] - 1
    for tile in numba.prange(n_tiles):
        tx0 = (tile % tiles_x) * TILE_SIZE
        ty0 = (tile // tiles_x) * TILE_SIZE
        tx1 = min(tx0 + TILE_SIZE, width) - 1
        ty1 = min(ty0 + TILE_SIZE, height) - 1
        n_rows_open = ty1 - ty0 + 1
        full_row = np.uint32((1 << (tx1 - tx0 + 1)) - 1)
        trans = np.ones(_TILE_PIXELS, np.float32)
        acc = np.zeros((_TILE_PIXELS, 4), np.float32)  # r, g, b, sum of w * z
        median = np.zeros(_TILE_PIXELS, np.float32)  # z where T crossed 0.5, 0 until then
        row_done = np.zeros(TILE_SIZE, np.uint32)  # bit x - tx0 set once that pixel is done
        local = np.empty((_BATCH, REC_WIDTH), np.float32)
        ilocal = local.view(np.int32)
        for e in range(offsets[tile], offsets[tile + 1]):
            k = (e - offsets[tile]) % _BATCH
            if k == 0:  # gather a batch: independent loads overlap their cache misses
                for j in range(min(_BATCH, offsets[tile + 1] - e)):
                    local[j] = records[entries[e + j]]
            x_lo = max(ilocal[k, REC_RECT], tx0)
            x_hi = min(ilocal[k, REC_RECT + 1], tx1)
            y_lo = max(ilocal[k, REC_RECT + 2], ty0)
            y_hi = min(ilocal[k, REC_RECT + 3], ty1)
            box = np.uint32(((1 << (x_hi - x_lo + 1)) - 1) << (x_lo - tx0))
            rec = local[k]
            mx, my = rec[REC_X], rec[REC_Y]
            ca, cb, cc = rec[REC_A], rec[REC_B], rec[REC_C]
            op, smax, z = rec[REC_OPACITY], rec[REC_SIGMA_MAX], rec[REC_DEPTH]
            cr, cg, cbl = rec[REC_R], rec[REC_G], rec[REC_BLUE]
            half_a = _HALF * ca
            for py in range(y_lo, y_hi + 1):
                r = py - ty0
                done_bits = row_done[r]
                if (done_bits & box) == box:
                    continue
                dy = np.float32(py) + _HALF - my
                bdy = cb * dy
                cdy = _HALF * cc * dy * dy
                base = r * TILE_SIZE - tx0
                for px in range(x_lo, x_hi + 1):
                    bit = np.uint32(1) << np.uint32(px - tx0)
                    if done_bits & bit:
                        continue
                    dx = np.float32(px) + _HALF - mx
                    sigma = (half_a * dx + bdy) * dx + cdy
                    if sigma > smax:  # outside the alpha >= 1/255 ellipse
                        continue
                    a = min(_ALPHA_MAX, op * np.exp(-sigma))
                    if sigma < _ZERO or a < _ALPHA_MIN:
                        continue
                    p = base + px
                    t = trans[p]
                    next_t = t * (_ONE - a)
                    if next_t <= _T_MIN:
                        done_bits |= bit
                        continue
                    w = a * t
                    acc[p, 0] += w * cr
                    acc[p, 1] += w * cg
                    acc[p, 2] += w * cbl
                    acc[p, 3] += w * z
                    if t > _HALF and next_t <= _HALF:
                        median[p] = z
                    trans[p] = next_t
                if done_bits != row_done[r]:
                    row_done[r] = done_bits
                    if done_bits == full_row:
                        n_rows_open -= 1
            if n_rows_open == 0:
                break
        for py in range(ty0, ty1 + 1):
            for px in range(tx0, tx1 + 1):
                p = (py - ty0) * TILE_SIZE + px - tx0
                t = trans[p]
                a = _ONE - t
                alpha[py, px] = a
                rgb[py, px, 0] = acc[p, 0] + t * background[0]
                rgb[py, px, 1] = acc[p, 1] + t * background[1]
                rgb[py, px, 2] = acc[p, 2] + t * background[2]
                if median_depth:
                    depth[py, px] = median[p]
                else:
                    depth[py, px] = acc[p, 3] / max(a, _DEPTH_EPS)


def blend(
    bins: TileBins,
    width: int,
    height: int,
    background: np.ndarray,  # [3] f32
    depth: DepthMode = "expected",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Composite the binned splats -> rgb [H, W, 3], depth [H, W] (metres: ``depth`` "expected"
    or "median", see the module docstring; 0 where nothing was hit), alpha [H, W]; all
    float32."""
    if depth not in DEPTH_MODES:
        raise ValueError(f"unknown depth {depth!r}; expected one of {', '.join(DEPTH_MODES)}")
    rgb = np.empty((height, width, 3), np.float32)
    depth_map = np.empty((height, width), np.float32)
    alpha = np.empty((height, width), np.float32)
    with numba.parallel_chunksize(1):
        _blend_kernel(
            bins.records,
            bins.offsets,
            bins.entries,
            bins.tiles_x,
            width,
            height,
            np.ascontiguousarray(background, np.float32),
            depth == "median",
            rgb,
            depth_map,
            alpha,
        )
    return rgb, depth_map, alpha
