"""Adaptive density control for the training loop, after 3DGS / gsplat's ``DefaultStrategy``:
Gaussians whose projected centres keep getting large gradients are cloned (small ones) or
split in two (large ones); nearly transparent or huge ones are pruned. The optimizer's moments
follow the Gaussians they belong to; new Gaussians start with zero moments. Unlike
``DefaultStrategy`` it caps the count (``max_gaussians``) and splits oversized Gaussians
(``max_size``) whatever their gradient."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reconstruct.train.config import DensifyConfig
from reconstruct.train.params import FIELDS, SplatParams
from reconstruct.train.raster import quat_to_rotation

SPLIT_SHRINK = 1.6  # a split Gaussian's children are this much smaller (3DGS)


@dataclass(eq=False)
class DensifyState:
    """Running screen-space gradient statistics per Gaussian."""

    grad_sum: torch.Tensor  # [N]
    count: torch.Tensor  # [N]

    @classmethod
    def zeros(cls, n: int, device: torch.device | str = "cpu") -> DensifyState:
        return cls(torch.zeros(n, device=device), torch.zeros(n, device=device))

    def accumulate(
        self, means2d_grad: torch.Tensor, visible: torch.Tensor, width: int, height: int
    ) -> None:
        """Add one view's [N, 2] pixel gradients of the projected centres ([N] visible)."""
        scaled = means2d_grad * means2d_grad.new_tensor([width / 2.0, height / 2.0])
        self.grad_sum += torch.where(visible, scaled.norm(dim=-1), 0.0)
        self.count += visible.float()


def refine(
    params: SplatParams,
    state: DensifyState,
    config: DensifyConfig,
    scene_scale: float,
    generator: torch.Generator,
) -> tuple[SplatParams, torch.Tensor, dict[str, int]]:
    """Clone, split and prune once (``generator``, on the CPU, draws the split offsets).

    Returns:
        The new parameters, ``[N']`` the index of the old Gaussian each new one keeps the
        optimizer moments of (-1 for new ones), and counts of what happened.
    """
    with torch.no_grad():
        n = len(params)
        mean_grad = state.grad_sum / state.count.clamp_min(1)
        scales = torch.exp(params.log_scales)
        largest = scales.max(dim=-1).values
        room = max(0, config.max_gaussians - n)
        opacity = torch.sigmoid(params.logit_opacities)
        prune = (opacity < config.prune_opacity) | (largest > config.prune_scale * scene_scale)
        oversized = largest > config.max_size * scene_scale
        priority = torch.where(oversized, torch.full_like(mean_grad, float("inf")), mean_grad)
        grow = ((mean_grad > config.grad_threshold) | oversized) & ~prune
        grow = grow.nonzero().squeeze(1)
        if len(grow) > room:
            grow = grow[torch.argsort(priority[grow], descending=True)[:room]]
        big = largest[grow] > min(config.grow_scale, config.max_size) * scene_scale
        clone, split = grow[~big], grow[big]
        prune[split] = True  # replaced by their children
        tensors = params.tensors()
        kept = (~prune).nonzero().squeeze(1)
        parts = {name: [value[kept]] for name, value in tensors.items()}
        fresh = len(clone) + 2 * len(split)
        source = [kept, torch.full((fresh,), -1, dtype=torch.long, device=kept.device)]
        for name, value in tensors.items():
            parts[name].append(value[clone])
        if len(split):
            rotation = quat_to_rotation(params.quats[split])
            for _ in range(2):
                noise = torch.randn(len(split), 3, generator=generator).to(scales.device)
                noise = noise * scales[split]
                offset = rotation @ noise[..., None]
                for name, value in tensors.items():
                    child = value[split]
                    if name == "means":
                        child = child + offset[..., 0]
                    elif name == "log_scales":
                        child = child - math.log(SPLIT_SHRINK)
                    parts[name].append(child)
        new = SplatParams.from_tensors({name: torch.cat(parts[name]) for name in FIELDS})
        counts = {
            "cloned": len(clone),
            "split": len(split),
            "pruned": int(prune.sum()) - len(split),
        }
        return new, torch.cat(source), counts
