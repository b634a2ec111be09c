"""Per-view appearance compensation in the training loop: views filmed at different exposures
train splats with one neutral look, and each view's map learns its exposure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import trimesh

from reconstruct.train.appearance import Appearance
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu import train_cpu
from reconstruct.train.metrics import psnr
from sim_env.splats import MeshSampling, gaussians_from_mesh, rasterize
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
