"""The CUDA trainer: gsplat's ``rasterization`` and ``DefaultStrategy`` densification, the
recipe of gsplat's ``simple_trainer.py`` (3DGS learning rates, L1 + D-SSIM), with the
rasterizer settings ``sim_env`` renders with (classic mode, 0.3 px low-pass)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.train.config import TrainConfig
from reconstruct.train.cpu import Progress, TrainResult
from reconstruct.views import View
from sim_env.splats import GaussianSet, gsplat_cuda_available
from sim_env.splats.constants import FAR_PLANE, NEAR_PLANE
from sim_env.splats.gpu import GSPLAT_SETTINGS

if TYPE_CHECKING:
    import torch


def train_gsplat(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
) -> TrainResult:
    """Optimise ``init`` on ``views`` with gsplat on the GPU (any SH degree up to 3)."""
    if not gsplat_cuda_available():
        raise ReconstructError(
            "the gsplat trainer needs a CUDA GPU and gsplat's CUDA extension; use --trainer cpu "
            "(slower, smaller images) or train elsewhere and --trainer nerfstudio-import",
            field="splats.trainer",
        )
    import torch
    from gsplat import rasterization

    return train_with_strategy(
        init, views, config, scene_scale, report, rasterization, torch.device("cuda")
    )


def train_with_strategy(
    init: GaussianSet,
    views: list[View],
    config: TrainConfig,
    scene_scale: float,
    report: Progress,
    rasterization: Callable[..., tuple[Any, Any, dict[str, Any]]],
    device: torch.device,
) -> TrainResult:
    """gsplat's recipe around ``rasterization``, a function with ``gsplat.rasterization``'s
    contract (gsplat's own on CUDA; ``cpu_rasterization.rasterization_cpu`` elsewhere)."""
    import torch
    from gsplat.strategy import DefaultStrategy

    from reconstruct.train.metrics import ssim_map

    torch.manual_seed(config.seed)
    raw = init.with_sh_degree(config.sh_degree).to_raw()

    def param(array: np.ndarray) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.tensor(np.asarray(array, np.float32), device=device))

    params = torch.nn.ParameterDict(
        {
            "means": param(raw.means),
            "scales": param(raw.log_scales),
            "quats": param(raw.quats),
            "opacities": param(raw.logit_opacities),
            "sh0": param(raw.sh[:, :1]),
            "shN": param(raw.sh[:, 1:]),
        }
    )
    optimizers = {
        name: torch.optim.Adam([{"params": params[name], "lr": lr, "name": name}], eps=1e-15)
        for name, lr in config.learning_rates(scene_scale).items()
    }
    dz = config.densify
    strategy = DefaultStrategy(
        prune_opa=dz.prune_opacity,
        grow_grad2d=dz.grad_threshold,
        grow_scale3d=dz.grow_scale,
        prune_scale3d=dz.prune_scale,
        refine_start_iter=dz.start,
        refine_stop_iter=dz.stop,
        refine_every=dz.every,
        reset_every=max(3000, config.iterations + 1),
        verbose=False,
    )
    strategy.check_sanity(params, optimizers)
    state = strategy.initialize_state(scene_scale=scene_scale)
    decay = 0.01 ** (1.0 / max(config.iterations, 1))
    images = [torch.tensor(v.image, device=device) for v in views]
    viewmats = [torch.tensor(v.viewmat, dtype=torch.float32, device=device) for v in views]
    intrinsics = [torch.tensor(v.K, dtype=torch.float32, device=device) for v in views]
    rng = np.random.default_rng(config.seed)
    losses: list[float] = []
    started = time.monotonic()
    order: list[int] = []
    for step in range(config.iterations):
        if not order:
            order = list(rng.permutation(len(views)))
        i = order.pop()
        width, height = views[i].size
        degree = config.sh_degree if step >= config.sh_degree_step else 0
        render, _, info = rasterization(
            means=params["means"],
            quats=params["quats"],
            scales=torch.exp(params["scales"]),
            opacities=torch.sigmoid(params["opacities"]),
            colors=torch.cat([params["sh0"], params["shN"]], 1),
            viewmats=viewmats[i][None],
            Ks=intrinsics[i][None],
            width=width,
            height=height,
            sh_degree=degree,
            near_plane=NEAR_PLANE,
            far_plane=FAR_PLANE,
            **GSPLAT_SETTINGS,
        )
        strategy.step_pre_backward(params, optimizers, state, step, info)
        rgb = render[0]
        l1 = torch.abs(rgb - images[i]).mean()
        loss = (1 - config.ssim_weight) * l1 + config.ssim_weight * (
            1 - ssim_map(rgb, images[i]).mean()
        )
        loss.backward()
        for optimizer in optimizers.values():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        optimizers["means"].param_groups[0]["lr"] *= decay
        strategy.step_post_backward(
            params, optimizers, state, step, info, packed=GSPLAT_SETTINGS["packed"]
        )
        losses.append(loss.item())
        if step % 50 == 0 or step == config.iterations - 1:
            report(
                (step + 1) / config.iterations, f"step {step + 1}, {len(params['means'])} Gaussians"
            )
    with torch.no_grad():
        sh = torch.cat([params["sh0"], params["shN"]], 1)
        gaussians = GaussianSet.from_raw(
            *(
                t.cpu().numpy()
                for t in (
                    params["means"],
                    params["quats"],
                    params["scales"],
                    params["opacities"],
                    sh,
                )
            )
        )
    return TrainResult(gaussians, losses, [], time.monotonic() - started)
