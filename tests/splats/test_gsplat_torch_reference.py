"""The CPU rasterizer's stages against gsplat's own PyTorch reference code, on CPU.

gsplat ships pure-PyTorch versions of its CUDA kernels (``gsplat.cuda._torch_impl``), which
its own tests check the kernels against. Projection, spherical harmonics and tile
intersection run there without a GPU, so on every machine these tests tie our conventions
(quaternion order, view matrix, intrinsics, the clamped Jacobian, the 0.3 px low-pass, SH
basis order and signs, the +0.5 colour offset, depth-ordered tile lists) to gsplat's code,
not to our reading of it. Two documented differences: the reference projection caps radii
at 3.33 sigma where gsplat's CUDA kernel (and ours) use the opacity-aware radius, and our
tile lists use each footprint's exact rectangle, so ours are subsets of gsplat's.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np
import pytest
import torch
from gsplat.cuda._torch_impl import (
    _eval_sh_bases_fast,
    _fully_fused_projection,
    _isect_offset_encode,
    _isect_tiles,
    _quat_scale_to_covar_preci,
    _spherical_harmonics,
)

from reconstruct.train.raster import project as train_project
from sim_env.splats.binning import bin_tiles
from sim_env.splats.constants import ALPHA_MIN, EPS2D, FAR_PLANE, NEAR_PLANE, TILE_SIZE
from sim_env.splats.gpu import GSPLAT_SETTINGS
from sim_env.splats.project import (
    REC_A,
    REC_B,
    REC_BLUE,
    REC_C,
    REC_DEPTH,
    REC_R,
    REC_RECT,
    REC_X,
    REC_Y,
    camera_center,
    project,
)
from sim_env.splats.sh import sh_bases


def _numba_projection(scene: dict, sh_degree: int):
    return project(
        scene["means"],
        scene["quats"],
        scene["scales"],
        scene["opacities"],
        np.ascontiguousarray(scene["colors"], np.float32),
        sh_degree,
        np.asarray(scene["viewmat"], np.float32),
        np.asarray(scene["K"], np.float32),
        scene["width"],
        scene["height"],
        NEAR_PLANE,
        FAR_PLANE,
        EPS2D,
    )


class Projected(NamedTuple):
    visible: np.ndarray  # [N] bool
    means2d: np.ndarray  # [N, 2] px
    conics: np.ndarray  # [N, 3]
    depths: np.ndarray  # [N] metres
    colors: np.ndarray  # [N, 3]


def _renderer_projection(scene: dict, sh_degree: int) -> Projected:
    """The simulator's numba projection (sim_env.splats)."""
    records = (p := _numba_projection(scene, sh_degree)).records
    return Projected(
        p.rects[:, 0] <= p.rects[:, 1],
        records[:, [REC_X, REC_Y]],
        records[:, [REC_A, REC_B, REC_C]],
        records[:, REC_DEPTH],
        records[:, REC_R : REC_BLUE + 1],
    )


def _trainer_projection(scene: dict, sh_degree: int) -> Projected:
    """The CPU trainer's differentiable torch projection (reconstruct.train.raster)."""

    def t(name: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(scene[name], np.float32))

    p = train_project(
        *(t(name) for name in ("means", "quats", "scales", "opacities", "colors")),
        sh_degree,
        t("viewmat"),
        t("K"),
        scene["width"],
        scene["height"],
    )
    rects = p.rects.numpy()
    return Projected(
        rects[:, 0] <= rects[:, 1],
        *(x.detach().numpy() for x in (p.means2d, p.conics, p.depths, p.colors)),
    )


PROJECTIONS = {"renderer": _renderer_projection, "trainer": _trainer_projection}


def _gsplat_projection(scene: dict):
    """gsplat's reference projection in float64: radii [N, 2], means2d [N, 2], depths [N],
    conics [N, 3]."""

    def t(name: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(scene[name], np.float64))

    covars, _ = _quat_scale_to_covar_preci(t("quats"), t("scales"), True, False, triu=False)
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        t("means"),
        covars,
        t("viewmat")[None],
        t("K")[None],
        scene["width"],
        scene["height"],
        eps2d=EPS2D,
        near_plane=NEAR_PLANE,
        far_plane=FAR_PLANE,
    )
    return radii[0].numpy(), means2d[0].numpy(), depths[0].numpy(), conics[0].numpy()


def _peak_alpha(scene: dict, means2d: np.ndarray, conics: np.ndarray, ids: np.ndarray):
    """[M] the largest alpha each splat reaches at any pixel centre of the image."""
    ys, xs = np.mgrid[0 : scene["height"], 0 : scene["width"]] + 0.5
    dx = means2d[:, 0, None, None] - xs
    dy = means2d[:, 1, None, None] - ys
    a, b, c = (conics[:, k, None, None] for k in range(3))
    sigma = np.maximum(0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy, 0.0)
    opacity = np.asarray(scene["opacities"], np.float64)[ids, None, None]
    return np.append((opacity * np.exp(-sigma)).max(axis=(1, 2)), 0.0)


@pytest.mark.parametrize("which", PROJECTIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_matches_gsplats_reference(which, seed, camera_factory, scene_factory):
    camera = camera_factory(width=96, height=64, eye=(0.4, -1.3, 0.5), target=(0.1, 0.0, 0.0))
    scene = scene_factory(seed, 600, camera, 0)
    ours = PROJECTIONS[which](scene, 0)
    radii, means2d, depths, conics = _gsplat_projection(scene)
    gsplat_visible = (radii > 0).all(axis=1)

    # Everything we keep, gsplat keeps; what it keeps and we drop gives no pixel a fragment.
    assert ours.visible.sum() > 200
    assert not (ours.visible & ~gsplat_visible).any()
    dropped = np.flatnonzero(gsplat_visible & ~ours.visible)
    assert _peak_alpha(scene, means2d[dropped], conics[dropped], dropped).max() < ALPHA_MIN

    kept = ours.visible
    np.testing.assert_allclose(ours.depths[kept], depths[kept], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.means2d[kept], means2d[kept], rtol=1e-5, atol=2e-3)
    scale = np.abs(conics[kept]).max(axis=1, keepdims=True)
    np.testing.assert_allclose(ours.conics[kept] / scale, conics[kept] / scale, atol=1e-4)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_basis_matches_gsplats_reference(degree):
    dirs = np.random.default_rng(degree).normal(size=(500, 3))
    ours = sh_bases(degree, dirs)
    unit = torch.nn.functional.normalize(torch.as_tensor(dirs), dim=-1)
    theirs = _eval_sh_bases_fast((degree + 1) ** 2, unit).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-7)  # float32 constants, as in CUDA


@pytest.mark.parametrize(
    ("which", "degree"), [("renderer", 1), ("renderer", 3), ("trainer", 0), ("trainer", 1)]
)
def test_view_dependent_colours_match_gsplats_reference(
    which, degree, camera_factory, scene_factory
):
    """Colours are gsplat's ``spherical_harmonics`` of the direction from the camera centre,
    plus 0.5, clamped at 0 (as ``rasterization`` does). The trainer stops at degree 1."""
    scene = scene_factory(7, 400, camera_factory(), degree)
    ours = PROJECTIONS[which](scene, degree)
    means = torch.as_tensor(np.asarray(scene["means"], np.float64))
    dirs = means - torch.as_tensor(camera_center(scene["viewmat"]))
    coeffs = torch.as_tensor(np.asarray(scene["colors"], np.float64))
    theirs = torch.clamp_min(_spherical_harmonics(degree, dirs, coeffs) + 0.5, 0.0).numpy()
    np.testing.assert_allclose(ours.colors[ours.visible], theirs[ours.visible], atol=2e-5)


def test_tile_lists_are_gsplats_in_gsplats_depth_order(camera_factory, scene_factory):
    """Per tile, our list is gsplat's sorted intersection list with the Gaussians whose
    exact footprint misses the tile left out; the order of the rest is unchanged."""
    camera = camera_factory(width=64, height=48)
    scene = scene_factory(4, 250, camera, 0)
    bins = bin_tiles(_numba_projection(scene, 0), camera.width, camera.height)
    radii, means2d, depths, _ = _gsplat_projection(scene)
    # The reference projection's 3.33-sigma radii, narrowed to the Gaussians gsplat's CUDA
    # kernel keeps too (those with opacity >= 1/255).
    radii = np.where((np.asarray(scene["opacities"]) >= ALPHA_MIN)[:, None], radii, 0)
    _, isect_ids, flatten_ids = _isect_tiles(
        torch.as_tensor(means2d, dtype=torch.float32)[None],
        torch.as_tensor(radii, dtype=torch.int32)[None],
        torch.as_tensor(depths, dtype=torch.float32)[None],
        TILE_SIZE,
        bins.tiles_x,
        bins.tiles_y,
    )
    offsets = _isect_offset_encode(isect_ids, 1, bins.tiles_x, bins.tiles_y).flatten().numpy()
    ends = np.append(offsets[1:], len(flatten_ids))
    flatten_ids = flatten_ids.numpy()
    rects = bins.records.view(np.int32)[:, REC_RECT : REC_RECT + 4]
    n_tiles = bins.tiles_x * bins.tiles_y
    assert len(bins.offsets) == n_tiles + 1
    compared = 0
    for tile in range(n_tiles):
        ours = list(bins.entries[bins.offsets[tile] : bins.offsets[tile + 1]])
        tx, ty = tile % bins.tiles_x, tile // bins.tiles_x
        x0, y0 = tx * TILE_SIZE, ty * TILE_SIZE
        theirs = [
            g
            for g in flatten_ids[offsets[tile] : ends[tile]]
            if rects[g, 0] <= min(rects[g, 1], x0 + TILE_SIZE - 1)
            and max(rects[g, 0], x0) <= rects[g, 1]
            and rects[g, 2] <= min(rects[g, 3], y0 + TILE_SIZE - 1)
            and max(rects[g, 2], y0) <= rects[g, 3]
        ]
        assert ours == theirs, f"tile {tile}"
        compared += len(ours)
    assert compared > 500


def test_settings_are_gsplat_rasterization_arguments_with_its_defaults():
    """What the renderer and the gsplat trainer pass binds to gsplat's ``rasterization``, and
    the constants they share with it are its defaults (so the CPU path means the same)."""
    from gsplat import rasterization

    signature = inspect.signature(rasterization)
    tensors = {name: None for name in ("means", "quats", "scales", "opacities", "colors")}
    signature.bind(**tensors, viewmats=None, Ks=None, width=1, height=1, **GSPLAT_SETTINGS)
    defaults = {name: p.default for name, p in signature.parameters.items()}
    assert defaults["near_plane"] == NEAR_PLANE and defaults["far_plane"] == FAR_PLANE
    assert defaults["eps2d"] == GSPLAT_SETTINGS["eps2d"] == EPS2D
    assert defaults["tile_size"] == GSPLAT_SETTINGS["tile_size"] == TILE_SIZE
    assert GSPLAT_SETTINGS["rasterize_mode"] == "classic"
