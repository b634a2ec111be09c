"""The training loop on both rasterizers with ``gsplat.rasterization``'s contract: the CPU one
everywhere, gsplat's CUDA one where CUDA exists. Every ``TrainConfig`` field must change what
the loop does on each, so a setting that one path ignored would fail here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch

from reconstruct.errors import ReconstructError
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu import train_cpu
from reconstruct.train.cpu_rasterization import rasterization_cpu
from reconstruct.train.gsplat_trainer import train_gsplat
from reconstruct.train.init import InitConfig, gaussians_from_points
from reconstruct.train.loop import TrainResult
from reconstruct.train.losses import depth_distortion
from reconstruct.train.metrics import psnr
from reconstruct.train.raster import SH_C0, render_torch
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
Trainer = Callable[..., TrainResult]
TRAINERS = [
    pytest.param(train_cpu, id="cpu"),
    pytest.param(
        train_gsplat,
        id="gsplat",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not gsplat_cuda_available(), reason="needs CUDA and gsplat"),
        ],
    ),
]


def test_without_cuda_the_gsplat_trainer_says_what_to_use() -> None:
    if gsplat_cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ReconstructError, match="--trainer cpu"):
        train_gsplat(None, [], TrainConfig(), 1.0, lambda f, note: None)


@dataclasses.dataclass(frozen=True)
class TinyScene:
    """A checkered table seen from 16 views (the first held out) and a sparse start on SfM-like
    points, which every view sees (for the depth term)."""

    views: list[View]
    init: GaussianSet

    def held_out_psnr(self, gs: GaussianSet) -> float:
        view = self.views[0]
        image = rasterize(
            gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, K, *SIZE,
            backend="cpu",
        )[0]  # fmt: skip
        return psnr(np.clip(image, 0, 1), view.image)


@cache
def tiny_scene(points: int = 500) -> TinyScene:
    import trimesh

    table = trimesh.creation.box((0.6, 0.6, 0.01))
    truth = gaussians_from_mesh(table, MeshSampling(count=3000, seed=0))
    colors = np.clip(0.5 + 0.4 * np.sign(np.sin(truth.means[:, :2] * 40)).prod(1)[:, None], 0, 1)
    truth = type(truth).from_colors(
        truth.means, truth.quats, truth.scales, truth.opacities, np.repeat(colors, 3, 1)
    )
    rng = np.random.default_rng(0)
    sfm = truth.means[rng.choice(len(truth), points, replace=False)]
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
        views.append(View(str(i), np.clip(image, 0, 1).astype(np.float32), K, view, sfm))
    return TinyScene(views, gaussians_from_points(sfm, np.full((points, 3), 0.5), InitConfig()))


CONFIG = TrainConfig(
    iterations=300, sh_degree_step=150, densify=DensifyConfig(start=50, stop=250, every=50)
)


@pytest.mark.parametrize("trainer", TRAINERS)
def test_training_learns(trainer: Trainer) -> None:
    scene = tiny_scene()
    notes: list[str] = []
    result = trainer(scene.init, scene.views[1:], CONFIG, 1.0, lambda f, note: notes.append(note))
    assert scene.held_out_psnr(result.gaussians) > scene.held_out_psnr(scene.init) + 4
    assert len(result.refinements) == 4 and len(result.gaussians) != len(scene.init)
    assert len(result.losses) == CONFIG.iterations and notes[-1].startswith("step 300/300")


# A short run that refines twice (steps 4 and 7) and raises the SH degree at step 4; each
# change below must alter its result. Sizes (m) of the start: 10% / 50% / 90% at 1.5 / 2.1 /
# 3.2 cm, so grow_scale 3 cm splits some and clones the rest.
SHORT = TrainConfig(
    iterations=12,
    sh_degree_step=4,
    densify=DensifyConfig(start=4, stop=10, every=3, grow_scale=0.03, max_size=0.045),
)
CHANGES: dict[str, object] = {
    "iterations": 11,
    "sh_degree": 0,
    "sh_degree_step": 8,
    "ssim_weight": 0.5,
    "depth_weight": 0.0,
    "flat_weight": 10.0,
    "entropy_weight": 1.0,
    "distortion_weight": 1.0,
    "lr_means": 8e-3,
    "lr_scales": 5e-2,
    "lr_quats": 1e-2,
    "lr_opacities": 0.5,
    "lr_sh0": 2.5e-2,
    "lr_sh_rest": 2.5e-2,
    "seed": 1,
    "densify.start": 7,
    "densify.stop": 7,
    "densify.every": 2,
    "densify.grad_threshold": 1.0,
    "densify.grow_scale": 1.0,
    "densify.max_size": 0.001,
    "densify.prune_opacity": 0.1,
    "densify.prune_scale": 0.02,
    "densify.max_gaussians": 300,
    "appearance_lr": 1e-2,
    "antialiased": True,
    "smoothing_3d": True,
}


def changed(config: TrainConfig, name: str, value: object) -> TrainConfig:
    if name.startswith("densify."):
        densify = dataclasses.replace(config.densify, **{name.removeprefix("densify."): value})
        return dataclasses.replace(config, densify=densify)
    return dataclasses.replace(config, **{name: value})


def difference(a: GaussianSet, b: GaussianSet) -> float:
    """Largest absolute difference of two sets' parameters (inf if their shapes differ)."""
    fields = ("means", "quats", "scales", "opacities", "sh")
    pairs = [(getattr(a, name), getattr(b, name)) for name in fields]
    if any(x.shape != y.shape for x, y in pairs):
        return float("inf")
    return max(float(np.abs(x - y).max()) for x, y in pairs)


@cache
def short_run(trainer: Trainer, name: str = "", value: object = None) -> TrainResult:
    scene = tiny_scene(points=300)
    config = changed(SHORT, name, value) if name else SHORT
    return trainer(scene.init, scene.views[1:9], config, 1.0, lambda f, note: None)


def test_every_setting_has_a_change() -> None:
    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"densify"}
    names |= {f"densify.{f.name}" for f in dataclasses.fields(DensifyConfig)}
    assert names == set(CHANGES)


def test_the_loop_is_deterministic_on_the_cpu() -> None:
    first = short_run(train_cpu)
    again = short_run.__wrapped__(train_cpu)
    assert difference(first.gaussians, again.gaussians) == 0.0


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("name", list(CHANGES))
def test_every_setting_changes_what_the_loop_does(trainer: Trainer, name: str) -> None:
    base, other = short_run(trainer), short_run(trainer, name, CHANGES[name])
    assert difference(base.gaussians, other.gaussians) > 1e-4, name


@pytest.mark.parametrize("trainer", TRAINERS)
def test_max_gaussians_caps_every_refinement(trainer: Trainer) -> None:
    cap = 350
    free, capped = short_run(trainer), short_run(trainer, "densify.max_gaussians", cap)
    assert max(r["gaussians"] for r in free.refinements) > cap  # the cap binds
    assert [r["gaussians"] <= cap for r in capped.refinements] == [True, True]
    assert len(capped.gaussians) <= cap


def _tensors(gs: GaussianSet) -> list[torch.Tensor]:
    return [torch.as_tensor(a).float() for a in (gs.means, gs.quats, gs.scales, gs.opacities)]


def test_cpu_rasterization_follows_gsplats_contract() -> None:
    scene = tiny_scene()
    gs, view = scene.init, scene.views[0]
    means, quats, scales, opacities = _tensors(gs)
    cameras = (torch.as_tensor(view.viewmat)[None].float(), torch.as_tensor(K)[None].float())
    sh = torch.as_tensor(gs.sh).float()
    render, alphas, info = rasterization_cpu(
        means, quats, scales, opacities, sh, *cameras, *SIZE, sh_degree=0, packed=False,
        render_mode="RGB+ED",
    )  # fmt: skip
    assert render.shape == (1, SIZE[1], SIZE[0], 4) and alphas.shape == (1, SIZE[1], SIZE[0], 1)
    assert info["means2d"].shape == (1, len(gs), 2) and (info["radii"] > 0).any()
    out = render_torch(means, quats, scales, opacities, sh, 0, cameras[0][0], cameras[1][0], *SIZE)
    assert torch.equal(render[0, ..., :3], out.rgb) and torch.equal(render[0, ..., 3], out.depth)
    # Without an SH degree the colours are features, as gsplat takes them.
    colors = (0.5 + SH_C0 * sh[:, 0]).clamp_min(0)
    features, _, _ = rasterization_cpu(means, quats, scales, opacities, colors, *cameras, *SIZE)
    assert torch.allclose(features[0], out.rgb, atol=1e-6)
    smoothed, _, _ = rasterization_cpu(
        means, quats, scales, opacities, sh, *cameras, *SIZE, 0, rasterize_mode="antialiased"
    )
    antialiased = render_torch(
        means, quats, scales, opacities, sh, 0, cameras[0][0], cameras[1][0], *SIZE,
        antialiased=True,
    )  # fmt: skip
    assert torch.equal(smoothed[0], antialiased.rgb) and not torch.equal(smoothed[0], out.rgb)
    for bad in ({"rasterize_mode": "mip"}, {"render_mode": "D"}):
        with pytest.raises(ValueError, match="rasterization_cpu renders"):
            rasterization_cpu(means, quats, scales, opacities, sh, *cameras, *SIZE, 0, **bad)


def test_depth_distortion_of_two_layers_on_a_pixel() -> None:
    """Two Gaussians on the optical axis through a pixel centre, at 1 m and 1.3 m: there the
    weights are w1 = o1 and w2 = (1 - o1) o2, and the distortion 2 w1 w2 (d1 - d2)^2."""
    means = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.3]])
    quats = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 2)
    scales = torch.full((2, 3), 0.05)
    opacities = torch.tensor([0.6, 0.9])
    k = torch.tensor([[80.0, 0.0, 32.5], [0.0, 80.0, 24.5], [0.0, 0.0, 1.0]])
    args = (quats, scales, opacities, torch.eye(4), k, 64, 48, 2.0)
    distortion = depth_distortion(rasterization_cpu, means, *args)
    w1, w2 = 0.6, 0.4 * 0.9
    expected = 2 * w1 * w2 * (0.3 / 2.0) ** 2
    assert distortion[24, 32].item() == pytest.approx(expected, rel=1e-4)
    one = (means[:1], quats[:1], scales[:1], opacities[:1])
    single = depth_distortion(rasterization_cpu, *one, *args[3:])
    assert single.abs().max().item() < 1e-6  # one depth everywhere
