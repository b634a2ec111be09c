"""Per-view appearance compensation in the training loop: views filmed at different exposures
train splats with one neutral look, and each view's map learns its exposure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import trimesh

from reconstruct.train.appearance import Appearance, fold_mean
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu import train_cpu
from reconstruct.train.metrics import psnr
from sim_env.splats import MeshSampling, gaussians_from_mesh, rasterize
from sim_env.splats.sh import sh_bases
from tests.reconstruct.test_train_loop import SIZE, K, tiny_scene


def test_maps_start_neutral_and_a_common_gain_is_penalised():
    look = Appearance(4, torch.device("cpu"))
    rgb = torch.rand(5, 6, 3)
    assert torch.equal(look(rgb, 2), rgb)
    assert look.penalty().item() == 0.0
    with torch.no_grad():
        look.maps[:, :, :3] *= 1.2  # every view brighter: the splats should hold that
    common = look.penalty().item()
    with torch.no_grad():
        look.maps[:2, :, :3] /= 1.2 * 1.2  # half brighter, half darker: views differ
    assert 0 < look.penalty().item() < common


def _grey_table():
    """The tiny scene's table geometry, every Gaussian grey: only colours are left to learn."""
    table = trimesh.creation.box((0.6, 0.6, 0.01))
    truth = gaussians_from_mesh(table, MeshSampling(count=3000, seed=0))
    grey = np.full((len(truth), 3), 0.5)
    return type(truth).from_colors(truth.means, truth.quats, truth.scales, truth.opacities, grey)


# colours only, SH degree 1 from the start: the view-dependent terms can soak up exposure
COLOURS_ONLY = TrainConfig(
    iterations=100, sh_degree=1, sh_degree_step=0, lr_means=0.0, lr_scales=0.0, lr_quats=0.0,
    lr_opacities=0.0, lr_sh0=0.02, lr_sh_rest=0.004, depth_weight=0.0, flat_weight=0.0,
    entropy_weight=0.0, densify=DensifyConfig(start=10**6, stop=10**6),
)  # fmt: skip


def _neutral_psnr(scene, gs) -> float:
    """PSNR on the held-out view as filmed at the views' average exposure (gain 1)."""
    view = scene.views[0]
    image = rasterize(
        gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, K, *SIZE, backend="cpu"
    )[0]
    return psnr(np.clip(image, 0, 1), view.image)


@pytest.mark.slow
def test_exposure_goes_into_the_maps_and_the_splats_keep_one_look():
    """Views filmed with per-channel gains in [0.7, 1.3] (mean 1 per channel). Without maps,
    the SH terms fit the gains as view-dependent colour and the held-out view (gain 1) comes
    out mottled (28 dB); with them, each view's gains go into its map (correlation ~0.9) and
    the splats render the neutral look (31.5 dB)."""
    scene = tiny_scene()
    gains = np.random.default_rng(3).uniform(0.7, 1.3, (15, 3))
    gains /= gains.mean(axis=0)
    views = [
        dataclasses.replace(v, image=np.clip(v.image * g, 0, 1).astype(np.float32))
        for v, g in zip(scene.views[1:], gains, strict=True)
    ]
    plain = train_cpu(_grey_table(), views, COLOURS_ONLY, 1.0, lambda f, note: None)
    config = dataclasses.replace(COLOURS_ONLY, appearance_lr=0.01)
    compensated = train_cpu(_grey_table(), views, config, 1.0, lambda f, note: None)
    assert plain.appearance is None and compensated.appearance.shape == (15, 3, 4)
    learned = compensated.appearance[:, [0, 1, 2], [0, 1, 2]]
    assert np.corrcoef(learned.ravel(), gains.ravel())[0, 1] > 0.8
    assert _neutral_psnr(scene, compensated.gaussians) > _neutral_psnr(scene, plain.gaussians) + 2


def test_the_maps_mean_look_is_folded_into_the_splats_colours():
    """After folding, every colour the splats give (any direction) is the maps' mean map of
    the colour they gave, and the re-expressed maps give each view the look it had."""
    rng = np.random.default_rng(0)
    sh = rng.normal(0, 0.3, (50, 4, 3)).astype(np.float32)
    maps = np.tile(np.eye(3, 4), (6, 1, 1)) + rng.normal(0, 0.05, (6, 3, 4))
    maps[:, :, :3] *= 1.1  # the maps ended brighter on average: the splats darker
    folded, remapped = fold_mean(sh, maps)
    bases = sh_bases(1, rng.normal(size=(50, 3)))  # [N, 4] a direction per Gaussian

    def colours(coefficients):
        return 0.5 + np.einsum("nk,nkc->nc", bases, coefficients.astype(np.float64))

    mean = maps.mean(axis=0)
    expected = colours(sh) @ mean[:, :3].T + mean[:, 3]
    np.testing.assert_allclose(colours(folded), expected, atol=1e-5)
    np.testing.assert_allclose(remapped.mean(axis=0), np.eye(3, 4), atol=1e-9)
    for view in (0, 5):  # each view still sees what it saw
        seen = colours(sh) @ maps[view, :, :3].T + maps[view, :, 3]
        again = colours(folded) @ remapped[view, :, :3].T + remapped[view, :, 3]
        np.testing.assert_allclose(again, seen, atol=1e-5)


def test_training_with_maps_leaves_the_splats_at_the_views_average_look():
    """Views filmed brighter on average than the splats start: whatever share of that the
    maps take, the trained splats render the views' average look and the maps' mean is the
    identity."""
    scene = tiny_scene()
    gains = np.random.default_rng(4).uniform(1.1, 1.5, (10, 1))
    views = [
        dataclasses.replace(v, image=np.clip(v.image * g, 0, 1).astype(np.float32))
        for v, g in zip(scene.views[1:11], gains, strict=True)
    ]
    config = dataclasses.replace(COLOURS_ONLY, iterations=40, appearance_lr=0.05)
    result = train_cpu(_grey_table(), views, config, 1.0, lambda f, note: None)
    gs, rendered, filmed = result.gaussians, [], []
    for view in views:
        image = rasterize(gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, K,
                          *SIZE, backend="cpu")[0]  # fmt: skip
        rendered.append(np.clip(image, 0, 1).mean())  # the neutral look
        filmed.append(view.image.mean())
    assert abs(np.mean(rendered) / np.mean(filmed) - 1) < 0.05  # 0.975 (0.837 unfolded)
    np.testing.assert_allclose(result.appearance.mean(axis=0), np.eye(3, 4), atol=1e-6)
