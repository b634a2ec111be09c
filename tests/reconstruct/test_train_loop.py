"""The gsplat trainer on a tiny scene: its loop on the CPU rasterizer everywhere, and with
gsplat's CUDA rasterizer where CUDA exists."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from reconstruct.errors import ReconstructError
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu_rasterization import rasterization_cpu
from reconstruct.train.gsplat_trainer import train_gsplat, train_with_strategy
from reconstruct.train.init import InitConfig, gaussians_from_points
from reconstruct.train.metrics import psnr
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat
from sim_env.splats import (
    GaussianSet,
    MeshSampling,
    gaussians_from_mesh,
    gsplat_cuda_available,
    rasterize,
)

K = np.array([[80.0, 0.0, 48.0], [0.0, 80.0, 36.0], [0.0, 0.0, 1.0]])
SIZE = (96, 72)


def test_without_cuda_the_gsplat_trainer_says_what_to_use() -> None:
    if gsplat_cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ReconstructError, match="--trainer cpu"):
        train_gsplat(None, [], TrainConfig(), 1.0, lambda f, note: None)


@dataclass(frozen=True)
class TinyScene:
    """A checkered table seen from 16 views: the first held out, a sparse 500-point start."""

    views: list[View]
    init: GaussianSet

    def held_out_psnr(self, gs: GaussianSet) -> float:
        view = self.views[0]
        image = rasterize(
            gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, K, *SIZE,
            backend="cpu",
        )[0]  # fmt: skip
        return psnr(np.clip(image, 0, 1), view.image)


def _tiny_scene() -> TinyScene:
    import trimesh

    table = trimesh.creation.box((0.6, 0.6, 0.01))
    truth = gaussians_from_mesh(table, MeshSampling(count=3000, seed=0))
    colors = np.clip(0.5 + 0.4 * np.sign(np.sin(truth.means[:, :2] * 40)).prod(1)[:, None], 0, 1)
    truth = type(truth).from_colors(
        truth.means, truth.quats, truth.scales, truth.opacities, np.repeat(colors, 3, 1)
    )
    views = []
    for i, angle in enumerate(np.linspace(0, 2 * np.pi, 16, endpoint=False)):
        eye = np.array([0.6 * np.cos(angle), 0.6 * np.sin(angle), 0.45])
        rot = quat_to_mat(look_at(eye, np.zeros(3))).T
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot, -rot @ eye
        image = rasterize(
            truth.means, truth.quats, truth.scales, truth.opacities, truth.sh, view, K, *SIZE,
            backend="cpu",
        )[0]  # fmt: skip
        views.append(View(str(i), np.clip(image, 0, 1).astype(np.float32), K, view))
    rng = np.random.default_rng(0)
    points = truth.means[rng.choice(len(truth), 500, replace=False)]
    return TinyScene(views, gaussians_from_points(points, np.full((500, 3), 0.5), InitConfig()))


CONFIG = TrainConfig(
    iterations=300, sh_degree_step=150, densify=DensifyConfig(start=50, stop=250, every=50)
)


def test_gsplats_recipe_learns_on_the_cpu_rasterizer() -> None:
    """The gsplat trainer's loop (gsplat's DefaultStrategy, optimisers, SH schedule, loss)
    with the CPU rasterizer in gsplat.rasterization's place: all but gsplat's kernels."""
    scene = _tiny_scene()
    notes: list[str] = []
    result = train_with_strategy(
        scene.init,
        scene.views[1:],
        CONFIG,
        1.0,
        lambda fraction, note: notes.append(note),
        rasterization_cpu,
        torch.device("cpu"),
    )
    assert scene.held_out_psnr(result.gaussians) > scene.held_out_psnr(scene.init) + 4
    assert len(result.gaussians) != len(scene.init)  # the strategy grew or pruned
    assert len(result.losses) == CONFIG.iterations and notes[-1].startswith("step 300")


def test_cpu_rasterization_rejects_settings_it_does_not_have() -> None:
    scene = _tiny_scene()
    gs = scene.init
    args = [torch.as_tensor(a) for a in (gs.means, gs.quats, gs.scales, gs.opacities, gs.sh)]
    view = scene.views[0]
    cameras = (torch.as_tensor(view.viewmat)[None].float(), torch.as_tensor(K)[None].float())
    render, alphas, info = rasterization_cpu(*args, *cameras, *SIZE, sh_degree=0, packed=False)
    assert render.shape == (1, SIZE[1], SIZE[0], 3) and alphas.shape == (1, SIZE[1], SIZE[0], 1)
    assert info["means2d"].shape == (1, len(gs), 2) and (info["radii"] > 0).any()
    with pytest.raises(ValueError, match="antialiased"):
        rasterization_cpu(*args, *cameras, *SIZE, sh_degree=0, rasterize_mode="antialiased")


@pytest.mark.cuda
@pytest.mark.skipif(not gsplat_cuda_available(), reason="needs CUDA and gsplat's extension")
def test_gsplat_training_learns() -> None:
    scene = _tiny_scene()
    result = train_gsplat(scene.init, scene.views[1:], CONFIG, 1.0, lambda f, note: None)
    assert scene.held_out_psnr(result.gaussians) > scene.held_out_psnr(scene.init) + 4
