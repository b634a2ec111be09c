"""Front-to-back splat blending with a hand-written backward pass, in numba, for CPU training.

Padded ``[tiles, pixels, M]`` torch ops (``blend_reference``) are exact but at training
resolutions a tile of a real scene holds hundreds of Gaussians, which makes every op huge.
These kernels walk each pixel's own list instead (gsplat's ``rasterize_to_pixels`` forward
and backward, one numba thread per tile): the forward records each pixel's final
transmittance and last contributing entry; the backward walks the same entries back to front
and writes one gradient row per tile entry (no two threads write the same row), which torch
then sums per Gaussian. The per-pixel arithmetic is ``sim_env.splats.blend``'s.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from sim_env.splats.constants import ALPHA_MAX, ALPHA_MIN, T_MIN

_ALPHA_MIN = np.float32(ALPHA_MIN)
_ALPHA_MAX = np.float32(ALPHA_MAX)
_T_MIN = np.float32(T_MIN)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
GRAD_COLUMNS = 10  # mean x, mean y, conic a, b, c, opacity, r, g, b, depth


@numba.njit(parallel=True, cache=True)
def _forward(
    means2d,  # [N, 2] f32 px
    conics,  # [N, 3] f32
    opacities,  # [N] f32
    colors,  # [N, 3] f32
    depths,  # [N] f32
    sigma_max,  # [N] f32
    offsets,  # [T + 1] i64
    entries,  # [E] i64 Gaussian ids, each tile's run front to back
    tiles_x,
    tile_size,
    width,
    height,
    rgb,  # out [H, W, 3] f32 (without background)
    depth_sum,  # out [H, W] f32
    trans_final,  # out [H, W] f32
    last,  # out [H, W] i64 entry index of the last contributor, -1 if none
):
    n_tiles = offsets.shape[0] - 1
    for tile in numba.prange(n_tiles):
        x_start = (tile % tiles_x) * tile_size
        y_start = (tile // tiles_x) * tile_size
        for py in range(y_start, min(y_start + tile_size, height)):
            for px in range(x_start, min(x_start + tile_size, width)):
                fx = np.float32(px) + _HALF
                fy = np.float32(py) + _HALF
                t = _ONE
                cr = cg = cb = cz = _ZERO
                stop = np.int64(-1)
                for e in range(offsets[tile], offsets[tile + 1]):
                    g = entries[e]
                    dx = fx - means2d[g, 0]
                    dy = fy - means2d[g, 1]
                    sigma = (_HALF * conics[g, 0] * dx + conics[g, 1] * dy) * dx + (
                        _HALF * conics[g, 2] * dy * dy
                    )
                    if sigma < _ZERO or sigma > sigma_max[g]:
                        continue
                    a = min(_ALPHA_MAX, opacities[g] * np.exp(-sigma))
                    if a < _ALPHA_MIN:
                        continue
                    next_t = t * (_ONE - a)
                    if next_t <= _T_MIN:
                        break
                    w = a * t
                    cr += w * colors[g, 0]
                    cg += w * colors[g, 1]
                    cb += w * colors[g, 2]
                    cz += w * depths[g]
                    t = next_t
                    stop = e
                rgb[py, px, 0] = cr
                rgb[py, px, 1] = cg
                rgb[py, px, 2] = cb
                depth_sum[py, px] = cz
                trans_final[py, px] = t
                last[py, px] = stop


@numba.njit(parallel=True, cache=True)
def _backward(
    means2d,
    conics,
    opacities,
    colors,
    depths,
    sigma_max,
    offsets,
    entries,
    tiles_x,
    tile_size,
    width,
    height,
    background,  # [3] f32
    trans_final,  # [H, W] f32 from the forward
    last,  # [H, W] i64 from the forward
    grad_rgb,  # [H, W, 3] f32 dL/d(rgb with background)
    grad_depth_sum,  # [H, W] f32
    grad_alpha,  # [H, W] f32
    grads,  # out [E, GRAD_COLUMNS] f32, zeroed
):
    n_tiles = offsets.shape[0] - 1
    for tile in numba.prange(n_tiles):
        x_start = (tile % tiles_x) * tile_size
        y_start = (tile // tiles_x) * tile_size
        for py in range(y_start, min(y_start + tile_size, height)):
            for px in range(x_start, min(x_start + tile_size, width)):
                stop = last[py, px]
                if stop < 0:
                    continue
                fx = np.float32(px) + _HALF
                fy = np.float32(py) + _HALF
                t_final = trans_final[py, px]
                gr, gg, gb = grad_rgb[py, px, 0], grad_rgb[py, px, 1], grad_rgb[py, px, 2]
                gz, ga = grad_depth_sum[py, px], grad_alpha[py, px]
                # d(rgb)/d(T_final) and d(alpha)/d(T_final), folded into the suffix sums
                bg_term = gr * background[0] + gg * background[1] + gb * background[2] - ga
                t = t_final
                suffix = _ZERO  # sum over later entries of w_j * (g . c_j + gz z_j)
                for e in range(stop, offsets[tile] - 1, -1):
                    g = entries[e]
                    dx = fx - means2d[g, 0]
                    dy = fy - means2d[g, 1]
                    ca, cb_, cc = conics[g, 0], conics[g, 1], conics[g, 2]
                    sigma = (_HALF * ca * dx + cb_ * dy) * dx + _HALF * cc * dy * dy
                    if sigma < _ZERO or sigma > sigma_max[g]:
                        continue
                    gauss = np.exp(-sigma)
                    raw = opacities[g] * gauss
                    a = min(_ALPHA_MAX, raw)
                    if a < _ALPHA_MIN:
                        continue
                    one_minus = _ONE - a
                    t = t / one_minus  # transmittance before this entry
                    w = a * t
                    own = gr * colors[g, 0] + gg * colors[g, 1] + gb * colors[g, 2] + gz * depths[g]
                    grad_a = t * own - (suffix + t_final * bg_term) / one_minus
                    suffix += w * own
                    row = grads[e]
                    row[6] += w * gr
                    row[7] += w * gg
                    row[8] += w * gb
                    row[9] += w * gz
                    if raw >= _ALPHA_MAX:
                        continue  # clamped: no gradient to opacity or shape
                    row[5] += grad_a * gauss
                    grad_sigma = -grad_a * a
                    row[0] += -grad_sigma * (ca * dx + cb_ * dy)
                    row[1] += -grad_sigma * (cb_ * dx + cc * dy)
                    row[2] += grad_sigma * _HALF * dx * dx
                    row[3] += grad_sigma * dx * dy
                    row[4] += grad_sigma * _HALF * dy * dy


class BlendFunction(torch.autograd.Function):
    """(means2d, conics, opacities, colors, depths) -> images: rgb + T bg, depth_sum = sum w z
    and alpha."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, sigma_max, layout, background):
        offsets, entries, tiles_x, tile_size, width, height = layout
        arrays = [
            np.ascontiguousarray(x.detach().numpy(), np.float32)
            for x in (means2d, conics, opacities, colors, depths, sigma_max)
        ]
        rgb = np.empty((height, width, 3), np.float32)
        depth_sum = np.empty((height, width), np.float32)
        trans = np.empty((height, width), np.float32)
        last = np.empty((height, width), np.int64)
        off, ent = offsets.numpy(), entries.numpy()
        _forward(
            *arrays, off, ent, tiles_x, tile_size, width, height, rgb, depth_sum, trans, last
        )  # fmt: skip
        bg = np.ascontiguousarray(background.numpy(), np.float32)
        ctx.saved = (arrays, off, ent, layout, bg, trans, last)
        out_rgb = torch.from_numpy(rgb + trans[..., None] * bg)
        return (
            out_rgb,
            torch.from_numpy(depth_sum),
            torch.from_numpy(1.0 - trans),
        )

    @staticmethod
    def backward(ctx, grad_rgb, grad_depth_sum, grad_alpha):
        arrays, off, ent, layout, bg, trans, last = ctx.saved
        _, _, tiles_x, tile_size, width, height = layout
        grads = np.zeros((len(ent), GRAD_COLUMNS), np.float32)

        def plain(grad, shape):
            if grad is None:
                return np.zeros(shape, np.float32)
            return np.ascontiguousarray(grad.numpy(), np.float32)

        _backward(
            *arrays, off, ent, tiles_x, tile_size, width, height, bg, trans, last,
            plain(grad_rgb, (height, width, 3)),
            plain(grad_depth_sum, (height, width)),
            plain(grad_alpha, (height, width)),
            grads,
        )  # fmt: skip
        n = arrays[0].shape[0]
        per_gaussian = torch.zeros((n, GRAD_COLUMNS))
        per_gaussian.index_add_(0, torch.from_numpy(ent), torch.from_numpy(grads))
        return (
            per_gaussian[:, 0:2],
            per_gaussian[:, 2:5],
            per_gaussian[:, 5],
            per_gaussian[:, 6:9],
            per_gaussian[:, 9],
            None,
            None,
            None,
        )
