"""The CPU trainer: Adam on raw splat parameters through the differentiable torch rasterizer,
L1 + D-SSIM loss, 3DGS's learning rates, densification, SH degree raised part way."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from reconstruct.train.config import TrainConfig
from reconstruct.train.densify import DensifyState, refine
from reconstruct.train.metrics import ssim_map
from reconstruct.train.params import FIELDS, SplatParams
from reconstruct.train.raster import render_torch
from reconstruct.views import View
from sim_env.splats import GaussianSet

Progress = Callable[[float, str], None]


@dataclass(frozen=True, eq=False)
class TrainResult:
    gaussians: GaussianSet
    losses: list[float]  # per step
    refinements: list[dict[str, int]]
    seconds: float


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


def train_cpu(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
) -> TrainResult:
    """Optimise ``init`` on ``views`` (all used for training); returns the trained set.

    torch runs single-threaded meanwhile: its OpenMP workers spin between ops and starve the
    numba blending threads (10x slower on two cores otherwise).
    """
    if config.sh_degree not in (0, 1):
        raise ValueError(f"the CPU trainer supports SH degree 0 or 1, got {config.sh_degree}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(init, views, config, scene_scale, report)
    finally:
        torch.set_num_threads(threads)


def depth_targets(view: View) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel rows, columns ``[P]`` and camera depths ``[P]`` (m) of the SfM points ``view``
    sees, inside its image."""
    cam = view.points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
    z = cam[:, 2]
    front = z > 1e-3
    uv = cam[front, :2] / z[front, None] * np.diag(view.K)[:2] + view.K[:2, 2]
    cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    w, h = view.size
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    return (
        torch.from_numpy(rows[inside]),
        torch.from_numpy(cols[inside]),
        torch.from_numpy(z[front][inside].astype(np.float32)),
    )


def _train(
    init: GaussianSet, views: list[View], config: TrainConfig, scene_scale: float, report: Progress
) -> TrainResult:
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    params = SplatParams.from_gaussians(init, config.sh_degree)
    optimizer = _optimizer(params, config, scene_scale)
    decay = 0.01 ** (1.0 / max(config.iterations, 1))
    state = DensifyState.zeros(len(params))
    targets = [torch.from_numpy(v.image) for v in views]
    depths = [depth_targets(v) for v in views]
    cameras = [
        (torch.tensor(v.viewmat, dtype=torch.float32), torch.tensor(v.K, dtype=torch.float32))
        for v in views
    ]
    losses: list[float] = []
    refinements: list[dict[str, int]] = []
    order: list[int] = []
    started = time.monotonic()
    dz = config.densify
    for step in range(config.iterations):
        if not order:
            order = list(rng.permutation(len(views)))
        i = order.pop()
        width, height = views[i].size
        degree = config.sh_degree if step >= config.sh_degree_step else 0
        means, quats, scales, opacities, sh = params.activated()
        out = render_torch(
            means, quats, scales, opacities, sh, degree, cameras[i][0], cameras[i][1], width, height
        )
        l1 = torch.abs(out.rgb - targets[i]).mean()
        d_ssim = 1.0 - ssim_map(out.rgb, targets[i]).mean()
        loss = (1.0 - config.ssim_weight) * l1 + config.ssim_weight * d_ssim
        rows, cols, z = depths[i]
        if config.depth_weight > 0 and len(z):
            covered = out.alpha[rows, cols].detach() > 0.5
            if covered.any():
                error = torch.abs(out.depth[rows, cols] - z) / z
                loss = loss + config.depth_weight * error[covered].mean()
        if config.entropy_weight > 0 and step >= config.sh_degree_step:
            o = opacities.clamp(1e-6, 1 - 1e-6)
            entropy = -(o * torch.log(o) + (1 - o) * torch.log(1 - o)).mean()
            loss = loss + config.entropy_weight * entropy
        if config.distortion_weight > 0:
            loss = loss + config.distortion_weight * out.distortion.mean() / scene_scale
        if config.flat_weight > 0:
            loss = loss + config.flat_weight * scales.min(dim=-1).values.mean() / scene_scale
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        optimizer.param_groups[0]["lr"] *= decay  # means
        losses.append(loss.item())
        if step < dz.stop and out.means2d.grad is not None:
            state.accumulate(out.means2d.grad[0], out.visible, width, height)
        if dz.start <= step < dz.stop and (step - dz.start) % dz.every == 0 and step > 0:
            params, source, counts = refine(params, state, dz, scene_scale, generator)
            fresh = _optimizer(params, config, scene_scale)
            _carry_moments(optimizer, fresh, source)
            optimizer = fresh
            state = DensifyState.zeros(len(params))
            refinements.append({"step": step, **counts, "gaussians": len(params)})
        if step % 10 == 0 or step == config.iterations - 1:
            report(
                (step + 1) / config.iterations,
                f"step {step + 1}/{config.iterations}, loss {math.fsum(losses[-10:]) / len(losses[-10:]):.4f}, "
                f"{len(params)} Gaussians",
            )
    return TrainResult(params.to_gaussians(), losses, refinements, time.monotonic() - started)
