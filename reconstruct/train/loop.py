"""The splat training loop, one for every rasterizer: Adam on raw splat parameters with
``TrainConfig``'s learning rates (the means' decayed to 1%), L1 + D-SSIM plus the depth,
opacity-entropy, distortion and flatness terms, densification (``densify.refine``, capped at
``max_gaussians``) and the SH degree raised part way.

The rasterizer is a function with ``gsplat.rasterization``'s contract: gsplat's own on CUDA
(``gsplat_trainer.train_gsplat``) or ``cpu_rasterization.rasterization_cpu``
(``cpu.train_cpu``). The loop reads only what that contract returns (the render with its
expected-depth channel, the alphas, ``info["means2d"]``'s gradient and ``info["radii"]``), so
no setting depends on which rasterizer runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from reconstruct.train import losses
from reconstruct.train.appearance import Appearance, fold_mean
from reconstruct.train.config import TrainConfig
from reconstruct.train.densify import DensifyState, refine
from reconstruct.train.losses import DepthTargets, Rasterization
from reconstruct.train.params import FIELDS, SplatParams
from reconstruct.train.smoothing import smoothed, training_filter
from reconstruct.views import View
from sim_env.splats import GaussianSet
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import gsplat_settings
from sim_env.splats.smoothing import SamplingCamera, smooth_3d

Progress = Callable[[float, str], None]
FILTER_EVERY = 100  # steps between measurements of the 3D filter (mip-splatting's interval)


@dataclass(frozen=True, eq=False)
class TrainResult:
    gaussians: GaussianSet
    losses: list[float]  # per step
    refinements: list[dict[str, int]]  # per refinement: step, cloned, split, pruned, gaussians
    seconds: float
    appearance: np.ndarray | None = None  # [V, 3, 4] per-view colour maps, when learned


@dataclass(frozen=True, eq=False)
class _Camera:
    """One training view on the training device."""

    image: torch.Tensor  # [H, W, 3]
    viewmat: torch.Tensor  # [4, 4]
    K: torch.Tensor  # [3, 3]
    depths: DepthTargets
    width: int
    height: int

    @classmethod
    def of(cls, view: View, device: torch.device) -> _Camera:
        return cls(
            torch.as_tensor(view.image, dtype=torch.float32, device=device),
            torch.tensor(view.viewmat, dtype=torch.float32, device=device),
            torch.tensor(view.K, dtype=torch.float32, device=device),
            DepthTargets.of(view, device),
            *view.size,
        )


# SplatParams fields whose gsplat parameter name (learning_rates' key) differs.
_GSPLAT_NAME = {"log_scales": "scales", "logit_opacities": "opacities", "sh_rest": "shN"}


def _optimizer(params: SplatParams, config: TrainConfig, scene_scale: float) -> torch.optim.Adam:
    rates = config.learning_rates(scene_scale)
    groups = [
        {"params": [getattr(params, name)], "lr": rates[_GSPLAT_NAME.get(name, name)], "name": name}
        for name in FIELDS
    ]
    return torch.optim.Adam(groups, eps=1e-15)


def _carry_moments(old: torch.optim.Adam, new: torch.optim.Adam, source: torch.Tensor) -> None:
    """Give each new parameter row the Adam moments of its source row (zeros where -1)."""
    kept = source >= 0
    for old_group, new_group in zip(old.param_groups, new.param_groups, strict=True):
        new_group["lr"] = old_group["lr"]
        state = old.state.get(old_group["params"][0])
        if not state:
            continue
        param = new_group["params"][0]
        moved = {"step": state["step"].clone()}
        for key in ("exp_avg", "exp_avg_sq"):
            values = torch.zeros_like(param)
            values[kept] = state[key][source[kept]]
            moved[key] = values
        new.state[param] = moved


def _loss(
    config: TrainConfig,
    step: int,
    rasterization: Rasterization,
    params: SplatParams,
    camera: _Camera,
    scene_scale: float,
    look: tuple[Appearance, int] | None = None,
    filter_std: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """The step's loss and the rasterizer's ``info`` (``means2d`` keeps its gradient);
    ``look``: the per-view colour maps and this view's index, applied before the loss;
    ``filter_std``: the 3D filter's width per Gaussian, rendered through when given."""
    degree = config.sh_degree if step >= config.sh_degree_step else 0
    means, quats, scales, opacities, sh = params.activated()
    drawn_scales, drawn_opacities = scales, opacities
    if filter_std is not None:
        drawn_scales, drawn_opacities = smoothed(scales, opacities, filter_std)
    render, alphas, info = rasterization(
        means=means,
        quats=quats,
        scales=drawn_scales,
        opacities=drawn_opacities,
        colors=sh,
        viewmats=camera.viewmat[None],
        Ks=camera.K[None],
        width=camera.width,
        height=camera.height,
        sh_degree=degree,
        render_mode="RGB+ED",
        near_plane=NEAR_PLANE,
        far_plane=FAR_PLANE,
        **gsplat_settings(config.antialiased),
    )
    if info["means2d"].requires_grad:
        info["means2d"].retain_grad()
    rgb, depth, alpha = render[0, ..., :3], render[0, ..., 3], alphas[0, ..., 0]
    if look is not None:
        rgb = look[0](rgb, look[1])
    loss = losses.photometric(rgb, camera.image, config.ssim_weight)
    if look is not None:
        loss = loss + look[0].penalty()
    if config.depth_weight > 0:
        error = losses.depth_error(depth, alpha, camera.depths)
        if error is not None:
            loss = loss + config.depth_weight * error
    if config.entropy_weight > 0 and step >= config.sh_degree_step:
        loss = loss + config.entropy_weight * losses.opacity_entropy(opacities)
    if config.distortion_weight > 0:
        distortion = losses.depth_distortion(
            rasterization, means, quats, drawn_scales, drawn_opacities, camera.viewmat, camera.K,
            camera.width, camera.height, scene_scale,
        )  # fmt: skip
        loss = loss + config.distortion_weight * distortion.mean()
    if config.flat_weight > 0:
        loss = loss + config.flat_weight * losses.flatness(scales, scene_scale)
    return loss, info


def train_splats(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
    rasterization: Rasterization,
    device: torch.device,
) -> TrainResult:
    """Optimise ``init`` on ``views`` (all used for training) with ``rasterization`` on
    ``device``; returns the trained set. Deterministic for ``config.seed`` where the
    rasterizer is."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    params = SplatParams.from_gaussians(init, config.sh_degree, device)
    optimizer = _optimizer(params, config, scene_scale)
    decay = 0.01 ** (1.0 / max(config.iterations, 1))
    state = DensifyState.zeros(len(params), device)
    cameras = [_Camera.of(v, device) for v in views]
    appearance = Appearance(len(views), device) if config.appearance_lr > 0 else None
    look_optimizer = appearance.optimizer(config.appearance_lr) if appearance else None
    sampling = [SamplingCamera(v.viewmat, v.K, *v.size) for v in views]
    std = None
    step_losses: list[float] = []
    refinements: list[dict[str, int]] = []
    order: list[int] = []
    started = time.monotonic()
    dz = config.densify
    for step in range(config.iterations):
        if config.smoothing_3d and (std is None or step % FILTER_EVERY == 0):
            std = training_filter(params.means, sampling, NEAR_PLANE)
        if not order:
            order = list(rng.permutation(len(views)))
        index = order.pop()
        camera = cameras[index]
        look = (appearance, index) if appearance else None
        loss, info = _loss(config, step, rasterization, params, camera, scene_scale, look, std)
        optimizer.zero_grad(set_to_none=True)
        if look_optimizer:
            look_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if look_optimizer:
            look_optimizer.step()
        optimizer.param_groups[0]["lr"] *= decay  # means
        step_losses.append(loss.item())
        grad = info["means2d"].grad
        if step < dz.stop and grad is not None:
            visible = info["radii"][0] > 0  # [N, 2] (gsplat >= 1.5) or [N]
            if visible.ndim == 2:
                visible = visible.all(dim=-1)
            state.accumulate(grad[0], visible, camera.width, camera.height)
        if dz.start <= step < dz.stop and (step - dz.start) % dz.every == 0 and step > 0:
            params, source, counts = refine(params, state, dz, scene_scale, generator)
            fresh = _optimizer(params, config, scene_scale)
            _carry_moments(optimizer, fresh, source)
            optimizer = fresh
            state = DensifyState.zeros(len(params), device)
            refinements.append({"step": step, **counts, "gaussians": len(params)})
            std = None  # new Gaussians: the filter is measured again next step
        if step % 10 == 0 or step == config.iterations - 1:
            recent = step_losses[-10:]
            report(
                (step + 1) / config.iterations,
                f"step {step + 1}/{config.iterations}, loss {math.fsum(recent) / len(recent):.4f}, "
                f"{len(params)} Gaussians",
            )
    gaussians, maps = params.to_gaussians(), None
    if config.smoothing_3d:  # baked in: the set renders as trained with no filter of its own
        final = training_filter(params.means, sampling, NEAR_PLANE).cpu().numpy()
        gaussians = smooth_3d(gaussians, final)
    if appearance is not None:  # the maps' mean look goes into the splats (appearance.py)
        sh, maps = fold_mean(gaussians.sh, appearance.numpy())
        gaussians = replace(gaussians, sh=sh)
    return TrainResult(gaussians, step_losses, refinements, time.monotonic() - started, maps)
