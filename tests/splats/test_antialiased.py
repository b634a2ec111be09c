"""gsplat's ``rasterize_mode="antialiased"`` (mip-splatting's 2D filter) in the CPU rasterizer:
the opacity compensation against gsplat's own PyTorch reference, whole renders against the
float64 reference, and the property it exists for: a sub-pixel Gaussian covers the same
area of the image whatever the resolution it is rendered at."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from gsplat import rasterization
from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

from sim_env.splats import rasterize
from sim_env.splats.constants import EPS2D, FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import GSPLAT_SETTINGS, gsplat_settings
from sim_env.splats.project import REC_OPACITY, project

MIN_PSNR = 45.0


def _project(scene: dict, antialiased: bool):
    return project(
        scene["means"], scene["quats"], scene["scales"], scene["opacities"],
        np.ascontiguousarray(scene["colors"], np.float32), 0,
        np.asarray(scene["viewmat"], np.float32), np.asarray(scene["K"], np.float32),
        scene["width"], scene["height"], NEAR_PLANE, FAR_PLANE, EPS2D, antialiased,
    )  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
def test_compensation_is_gsplats(seed, camera_factory, scene_factory):
    """Our blended opacity / the stored one = gsplat's ``compensations`` (its torch reference
    of the CUDA kernel's ``add_blur``), for every Gaussian both keep."""
    camera = camera_factory(width=96, height=64, eye=(0.4, -1.3, 0.5), target=(0.1, 0.0, 0.0))
    scene = scene_factory(seed, 600, camera, 0)
    p = _project(scene, antialiased=True)

    def t(name: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(scene[name], np.float64))

    covars, _ = _quat_scale_to_covar_preci(t("quats"), t("scales"), True, False, triu=False)
    radii, *_, compensations = _fully_fused_projection(
        t("means"), covars, t("viewmat")[None], t("K")[None], scene["width"], scene["height"],
        eps2d=EPS2D, near_plane=NEAR_PLANE, far_plane=FAR_PLANE, calc_compensations=True,
    )  # fmt: skip
    compensations = compensations[0].numpy()
    kept = (p.rects[:, 0] <= p.rects[:, 1]) & (radii[0].numpy() > 0).all(axis=1)
    assert kept.sum() > 150
    ours = p.records[kept, REC_OPACITY] / scene["opacities"][kept]
    np.testing.assert_allclose(ours, compensations[kept], rtol=2e-4, atol=1e-6)
    assert compensations[kept].min() < 0.5  # the scene has sub-pixel Gaussians to compensate


def test_compensation_culls_what_it_fades(camera_factory, scene_factory):
    """A Gaussian whose compensated opacity is below 1/255 is culled, as gsplat's kernel does."""
    camera = camera_factory(width=64, height=48)
    scene = scene_factory(3, 300, camera, 0)
    classic = _project(scene, antialiased=False)
    anti = _project(scene, antialiased=True)
    visible = lambda p: p.rects[:, 0] <= p.rects[:, 1]  # noqa: E731
    assert not (visible(anti) & ~visible(classic)).any()
    assert (visible(classic) & ~visible(anti)).sum() > 0  # the 1e-5 m Gaussians fade out


@pytest.mark.parametrize("sh_degree", [None, 1])
@pytest.mark.parametrize("seed", [0, 2])
def test_antialiased_render_matches_reference(
    sh_degree, seed, reference, psnr_fn, camera_factory, scene_factory
):
    scene = scene_factory(seed, 400, camera_factory(), sh_degree)
    scene["scales"] = scene["scales"] * np.float32(0.1)  # many near or below a pixel
    background = np.array([0.2, 0.4, 0.6])
    rgb, depth, alpha = rasterize(**scene, background=background, backend="cpu", antialiased=True)
    ref_rgb, ref_depth, ref_alpha = reference(**scene, background=background, antialiased=True)
    assert psnr_fn(rgb, ref_rgb) >= MIN_PSNR
    assert psnr_fn(alpha, ref_alpha) >= MIN_PSNR
    covered = ref_alpha > 0.05
    np.testing.assert_allclose(depth[covered], ref_depth[covered], rtol=1e-3, atol=1e-4)
    classic = rasterize(**scene, background=background, backend="cpu")[0]
    assert psnr_fn(rgb, classic) < 35  # the mode changes the picture


def _tiny_dots(n: int = 64) -> dict:
    """An 8x8 grid of small opaque Gaussians (8 mm) on a plane 1 m in front of the camera."""
    g = (np.arange(8) - 3.5) * 0.08
    xs, ys = np.meshgrid(g, g)
    means = np.stack([xs.ravel(), ys.ravel(), np.ones(n)], axis=1)
    return dict(
        means=means.astype(np.float32),
        quats=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
        scales=np.full((n, 3), 0.008, np.float32),
        opacities=np.full(n, 0.9, np.float32),
        colors=np.ones((n, 3), np.float32),
        viewmat=np.eye(4, dtype=np.float32),
    )


def _coverage(width: int, antialiased: bool) -> float:
    """Alpha summed over the image, in pixels of a 256 px wide image (resolution-free)."""
    f = 0.5 * width  # 90 degree field of view whatever the width
    k = np.array([[f, 0, width / 2], [0, f, width / 2], [0, 0, 1]], np.float32)
    _, _, alpha = rasterize(
        **_tiny_dots(), K=k, width=width, height=width, backend="cpu", antialiased=antialiased
    )
    return float(alpha.sum()) * (256 / width) ** 2


def test_sub_pixel_gaussians_keep_their_coverage_at_low_resolution():
    """A dot 1 px wide (sigma) at 256 px is 0.26 px at 64 px. Rendering it there, classic
    mode's 0.3 px^2 low-pass blows it up to ~4x the area it covers at 256 px (what makes a
    low-resolution twin look blotchy and bright); the antialiased mode keeps its area."""
    classic = _coverage(64, False) / _coverage(256, False)
    anti = _coverage(64, True) / _coverage(256, True)
    assert classic > 3.0
    assert abs(anti - 1.0) < 0.1


def test_gsplat_settings_name_the_mode():
    """The CUDA path asks gsplat for the same mode, with every other setting the classic one's."""
    assert gsplat_settings(False) == dict(GSPLAT_SETTINGS)
    anti = gsplat_settings(True)
    assert anti["rasterize_mode"] == "antialiased"
    assert {k: v for k, v in anti.items() if k != "rasterize_mode"} == {
        k: v for k, v in GSPLAT_SETTINGS.items() if k != "rasterize_mode"
    }
    modes = inspect.signature(rasterization).parameters["rasterize_mode"].annotation
    assert "antialiased" in str(modes)
