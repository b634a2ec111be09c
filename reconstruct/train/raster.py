"""A differentiable Gaussian splat rasterizer in plain torch ops, for training on a CPU.

It follows ``sim_env.splats.rasterize`` (gsplat's classic mode) step for step, so a scene
trained here renders the same in the simulator: EWA projection with the 0.3 px low-pass and
the clamped field-of-view Jacobian, the opacity-aware footprint, pixel centres at integer +
0.5, alpha = min(0.999, opacity * exp(-sigma)) skipped below 1/255, front-to-back blending
that stops a pixel once its transmittance would fall to 1e-4, SH colours (degree <= 1) + 0.5
clamped at 0 (or, with ``sh_degree=None``, colours as given, as gsplat takes features),
expected depth sum(w z) / alpha.

Instead of gsplat's per-pixel loop it works on padded tiles: every tile gets the indices of
the (at most ``max_per_tile``) front-most Gaussians whose footprint touches it, and the
whole image is then a handful of ``[tiles, pixels, M]`` tensor ops that autograd
differentiates. That is fast enough for images ~160 px wide and tens of thousands of
Gaussians; a tile holding more than ``max_per_tile`` Gaussians drops the farthest ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch

from reconstruct.train.blend_numba import BlendFunction
from sim_env.splats.constants import (
    ALPHA_MAX,
    ALPHA_MIN,
    DEPTH_ALPHA_EPS,
    EPS2D,
    EXTEND_MAX,
    FOV_MARGIN,
    NEAR_PLANE,
    RECT_EPS,
    T_MIN,
)

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
MAX_TORCH_SH_DEGREE = 1


@dataclass(frozen=True, eq=False)
class RasterOutput:
    """One rendered view; ``means2d`` keeps its gradient for densification."""

    rgb: torch.Tensor  # [H, W, 3]
    depth: torch.Tensor  # [H, W] expected camera z, metres (0 where nothing)
    alpha: torch.Tensor  # [H, W]
    means2d: torch.Tensor  # [1, N, 2] projected centres, pixels (gsplat's [C, N, 2] layout)
    rects: torch.Tensor  # [N, 4] int64 footprint pixel rectangles x0, x1, y0, y1
    truncated: int  # tile entries dropped by the max_per_tile cap

    @property
    def visible(self) -> torch.Tensor:
        """[N] bool: the Gaussian touched at least one pixel's tile."""
        return self.rects[:, 0] <= self.rects[:, 1]


@dataclass(frozen=True, eq=False)
class Projected:
    means2d: torch.Tensor  # [N, 2] px
    conics: torch.Tensor  # [N, 3] A, B, C of the inverse 2D covariance
    depths: torch.Tensor  # [N] camera z
    colors: torch.Tensor  # [N, 3]
    rects: torch.Tensor  # [N, 4] int64 x0, x1, y0, y1 (x0 > x1 when culled)
    sigma_max: torch.Tensor  # [N] 0.5 extend^2
    opacities: torch.Tensor  # [N] as blended (antialiased: scaled by the low-pass's compensation)


def sh_colors(sh: torch.Tensor, degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """[N, K, 3] SH coefficients at [N, 3] unit directions -> [N, 3] colours (+0.5, >= 0)."""
    color = 0.5 + SH_C0 * sh[:, 0]
    if degree >= 1:
        x, y, z = dirs[:, 0:1], dirs[:, 1:2], dirs[:, 2:3]
        color = color + SH_C1 * (-y * sh[:, 1] + z * sh[:, 2] - x * sh[:, 3])
    return torch.clamp_min(color, 0.0)


def quat_to_rotation(quats: torch.Tensor) -> torch.Tensor:
    """[N, 4] quaternions w x y z (any length) -> [N, 3, 3] rotation matrices."""
    w, x, y, z = (quats / quats.norm(dim=-1, keepdim=True)).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip


def quat_scale_to_covariance(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """[N, 4] quaternions w x y z (any length) and [N, 3] scales -> [N, 3, 3] covariances."""
    m = quat_to_rotation(quats) * scales[:, None, :]
    return m @ m.transpose(1, 2)


def project(
    means: torch.Tensor,  # [N, 3] world, metres
    quats: torch.Tensor,  # [N, 4] w x y z
    scales: torch.Tensor,  # [N, 3] metres, activated
    opacities: torch.Tensor,  # [N] activated
    sh: torch.Tensor,  # [N, K, 3] SH coefficients, or [N, 3] colours if sh_degree is None
    sh_degree: int | None,
    viewmat: torch.Tensor,  # [4, 4] world -> camera, OpenCV axes
    K: torch.Tensor,  # [3, 3] pixels, centres at integer + 0.5
    width: int,
    height: int,
    antialiased: bool = False,  # gsplat's "antialiased" mode: opacity-compensated low-pass
) -> Projected:
    """EWA projection as ``sim_env.splats.project`` does it, differentiable."""
    rot, trans = viewmat[:3, :3], viewmat[:3, 3]
    cam = means @ rot.T + trans
    x, y, z = cam.unbind(-1)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    z_safe = torch.where(z > NEAR_PLANE, z, torch.ones_like(z))
    lim_x_pos = (width - cx) / fx + FOV_MARGIN * 0.5 * width / fx
    lim_x_neg = cx / fx + FOV_MARGIN * 0.5 * width / fx
    lim_y_pos = (height - cy) / fy + FOV_MARGIN * 0.5 * height / fy
    lim_y_neg = cy / fy + FOV_MARGIN * 0.5 * height / fy
    tx = z_safe * torch.clamp(x / z_safe, -lim_x_neg, lim_x_pos)
    ty = z_safe * torch.clamp(y / z_safe, -lim_y_neg, lim_y_pos)
    zeros = torch.zeros_like(z)
    jac = torch.stack(
        [fx / z_safe, zeros, -fx * tx / z_safe**2, zeros, fy / z_safe, -fy * ty / z_safe**2],
        dim=-1,
    ).reshape(-1, 2, 3)
    t = jac @ rot
    cov2d = t @ quat_scale_to_covariance(quats, scales) @ t.transpose(1, 2)
    cxx, cxy, cyy = cov2d[:, 0, 0] + EPS2D, cov2d[:, 0, 1], cov2d[:, 1, 1] + EPS2D
    det = cxx * cyy - cxy * cxy
    det_safe = torch.where(det > 0, det, torch.ones_like(det))
    conics = torch.stack([cyy / det_safe, -cxy / det_safe, cxx / det_safe], dim=-1)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)
    if sh_degree is None:
        colors = sh
    else:
        campos = -rot.T @ trans
        dirs = means - campos
        colors = sh_colors(sh, sh_degree, dirs / dirs.norm(dim=-1, keepdim=True))
    if antialiased:
        raw_det = cov2d[:, 0, 0] * cov2d[:, 1, 1] - cxy * cxy
        opacities = opacities * torch.sqrt((raw_det / det_safe).clamp_min(1e-12))
    with torch.no_grad():
        op = opacities.clamp_min(ALPHA_MIN)
        extend = torch.clamp(torch.sqrt(2.0 * torch.log(op / ALPHA_MIN)), max=EXTEND_MAX)
        ok = (z >= NEAR_PLANE) & (opacities >= ALPHA_MIN) & (det > 0)
        ex = extend * torch.sqrt(cxx.clamp_min(0)) + RECT_EPS
        ey = extend * torch.sqrt(cyy.clamp_min(0)) + RECT_EPS
        mx, my = means2d[:, 0], means2d[:, 1]
        x0 = torch.clamp(torch.ceil(mx - ex - 0.5), min=0)
        x1 = torch.clamp(torch.floor(mx + ex - 0.5), max=width - 1)
        y0 = torch.clamp(torch.ceil(my - ey - 0.5), min=0)
        y1 = torch.clamp(torch.floor(my + ey - 0.5), max=height - 1)
        ok &= (x0 <= x1) & (y0 <= y1) & torch.isfinite(mx) & torch.isfinite(my)
        rects = torch.stack([x0, x1, y0, y1], dim=-1).nan_to_num(0).long()
        rects[~ok, 0], rects[~ok, 1] = 0, -1
    return Projected(means2d, conics, z, colors, rects, 0.5 * extend**2, opacities)


@dataclass(frozen=True, eq=False)
class TileLists:
    """Every tile's Gaussians front to back (stable in depth): tile ``t`` owns
    ``entries[offsets[t]:offsets[t + 1]]``."""

    offsets: torch.Tensor  # [T + 1] int64
    entries: torch.Tensor  # [E] int64 Gaussian indices
    tiles_x: int
    tiles_y: int
    tile_size: int

    def padded(self, n: int, max_per_tile: int) -> tuple[torch.Tensor, int]:
        """``[T, M]`` indices padded with ``n`` (a transparent dummy), at most
        ``max_per_tile`` per tile; and the number of entries the cap dropped."""
        counts = self.offsets[1:] - self.offsets[:-1]
        width = max(1, min(int(counts.max()) if len(counts) else 1, max_per_tile))
        tile = torch.repeat_interleave(torch.arange(len(counts)), counts)
        position = torch.arange(len(self.entries)) - self.offsets[:-1][tile]
        keep = position < width
        index = torch.full((len(counts), width), n, dtype=torch.long)
        index[tile[keep], position[keep]] = self.entries[keep]
        return index, int((~keep).sum())


def bin_tiles(
    rects: torch.Tensor,  # [N, 4] int64 pixel rectangles, x0 > x1 when culled
    depths: torch.Tensor,  # [N]
    width: int,
    height: int,
    tile_size: int,
) -> TileLists:
    """List every visible Gaussian in each tile its rectangle touches, front to back."""
    n = rects.shape[0]
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    visible = torch.nonzero(rects[:, 0] <= rects[:, 1]).squeeze(1)
    tx0, tx1 = rects[visible, 0] // tile_size, rects[visible, 1] // tile_size
    ty0, ty1 = rects[visible, 2] // tile_size, rects[visible, 3] // tile_size
    span_x = tx1 - tx0 + 1
    counts = span_x * (ty1 - ty0 + 1)
    total = int(counts.sum())
    owner = torch.repeat_interleave(torch.arange(len(visible)), counts)
    local = torch.arange(total) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    tile = (ty0[owner] + local // span_x[owner]) * tiles_x + tx0[owner] + local % span_x[owner]
    gid = visible[owner]
    rank = torch.empty(n, dtype=torch.long)
    rank[torch.sort(depths.detach(), stable=True).indices] = torch.arange(n)
    order = torch.argsort(tile * n + rank[gid])
    per_tile = torch.bincount(tile, minlength=tiles_x * tiles_y)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(per_tile, 0)])
    return TileLists(offsets, gid[order].contiguous(), tiles_x, tiles_y, tile_size)


def blend_padded(
    proj: Projected,
    index: torch.Tensor,  # [T, M] from TileLists.padded
    tiles_x: int,
    tile_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The reference blend in plain torch ops (autograd differentiates it): colour [T, P, 3],
    sum of w z [T, P] and alpha [T, P] per tile pixel. Memory grows with T x P x M."""

    def gather(values: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([values, values.new_zeros((1, *values.shape[1:]))])
        return padded[index]

    mean = gather(proj.means2d)  # [T, M, 2]
    conic = gather(proj.conics)
    opacity = gather(proj.opacities)
    color = gather(proj.colors)
    depth = gather(proj.depths)
    sigma_max = gather(proj.sigma_max)
    n_tiles = index.shape[0]
    pixel = torch.arange(tile_size * tile_size)
    tile = torch.arange(n_tiles)
    px = ((tile % tiles_x) * tile_size)[:, None] + (pixel % tile_size)[None] + 0.5  # [T, P]
    py = ((tile // tiles_x) * tile_size)[:, None] + (pixel // tile_size)[None] + 0.5
    dx = px[:, :, None] - mean[:, None, :, 0]  # [T, P, M]
    dy = py[:, :, None] - mean[:, None, :, 1]
    a, b, c = (conic[:, None, :, k] for k in range(3))
    sigma = (0.5 * a * dx + b * dy) * dx + 0.5 * c * dy * dy
    alpha = torch.clamp(opacity[:, None, :] * torch.exp(-sigma), max=ALPHA_MAX)
    with torch.no_grad():
        keep = (sigma >= 0) & (sigma <= sigma_max[:, None, :]) & (alpha >= ALPHA_MIN)
    alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
    trans = torch.cumprod(1.0 - alpha, dim=-1)
    with torch.no_grad():
        contributes = trans > T_MIN
    before = torch.cat([torch.ones_like(trans[..., :1]), trans[..., :-1]], dim=-1)
    weight = torch.where(contributes, alpha * before, torch.zeros_like(alpha))
    rgb = torch.einsum("tpm,tmc->tpc", weight, color)
    depth_sum = (weight * depth[:, None, :]).sum(-1)
    return rgb, depth_sum, weight.sum(-1)


def _tiles_to_image(values: torch.Tensor, lists: TileLists, width: int, height: int):
    """[T, P, ...] per-tile pixels -> [H, W, ...] image."""
    ts, rest = lists.tile_size, values.shape[2:]
    shaped = values.reshape(lists.tiles_y, lists.tiles_x, ts, ts, *rest)
    image = shaped.transpose(1, 2).reshape(lists.tiles_y * ts, lists.tiles_x * ts, *rest)
    return image[:height, :width]


def render_torch(
    means: torch.Tensor,  # [N, 3] world, metres
    quats: torch.Tensor,  # [N, 4] w x y z
    scales: torch.Tensor,  # [N, 3] metres, activated
    opacities: torch.Tensor,  # [N] in (0, 1), activated
    sh: torch.Tensor,  # [N, K, 3] SH coefficients, K >= (sh_degree + 1)^2; [N, 3] colours
    sh_degree: int | None,  # 0 or 1; None: ``sh`` holds the colours
    viewmat: torch.Tensor,  # [4, 4] world -> camera, OpenCV axes
    K: torch.Tensor,  # [3, 3] intrinsics, pixels
    width: int,
    height: int,
    background: torch.Tensor | None = None,  # [3]
    *,
    blend: Literal["numba", "torch"] = "numba",
    tile_size: int = 16,
    max_per_tile: int = 1024,
    antialiased: bool = False,
) -> RasterOutput:
    """Render one view with gradients to every input tensor.

    ``blend="numba"`` (training) walks each pixel's list with a hand-written backward;
    ``blend="torch"`` is the padded autograd reference (exact while no tile holds more than
    ``max_per_tile`` Gaussians) that the numba gradients are tested against.
    ``antialiased``: gsplat's "antialiased" mode (``sim_env.splats.rasterize``'s flag).
    """
    if sh_degree is not None and not 0 <= sh_degree <= MAX_TORCH_SH_DEGREE:
        raise ValueError(f"the torch rasterizer supports SH degree 0 or 1, got {sh_degree}")
    if sh_degree is None and sh.shape[1:] != (3,):
        raise ValueError(f"without SH the torch rasterizer takes [N, 3] colours, got {sh.shape}")
    proj = project(
        means, quats, scales, opacities, sh, sh_degree, viewmat, K, width, height, antialiased
    )
    screen = proj.means2d[None]  # the tensor whose gradient densification reads
    if screen.requires_grad:
        screen.retain_grad()
    proj = replace(proj, means2d=screen[0])
    bg = torch.zeros(3) if background is None else background.detach().float()
    with torch.no_grad():
        lists = bin_tiles(proj.rects, proj.depths, width, height, tile_size)
    if blend == "numba":
        layout = (lists.offsets, lists.entries, lists.tiles_x, tile_size, width, height)
        rgb, depth_sum, alpha = BlendFunction.apply(
            proj.means2d, proj.conics, proj.opacities, proj.colors, proj.depths, proj.sigma_max,
            layout, bg,
        )  # fmt: skip
        depth = depth_sum / alpha.clamp_min(DEPTH_ALPHA_EPS)
        return RasterOutput(rgb, depth, alpha, screen, proj.rects, 0)
    index, dropped = lists.padded(len(means), max_per_tile)
    rgb_t, depth_t, alpha_t = blend_padded(proj, index, lists.tiles_x, tile_size)
    alpha = _tiles_to_image(alpha_t, lists, width, height)
    rgb = _tiles_to_image(rgb_t, lists, width, height) + (1.0 - alpha)[..., None] * bg
    depth = _tiles_to_image(depth_t, lists, width, height) / alpha.clamp_min(DEPTH_ALPHA_EPS)
    return RasterOutput(rgb, depth, alpha, screen, proj.rects, dropped)
