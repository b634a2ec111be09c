"""Per-image appearance compensation: a learned affine colour map per training view.

A phone's video drifts in exposure and white balance from frame to frame. Fitted as they are,
the splats average those looks into their colours (and into view-dependent SH terms, as if the
surfaces changed colour with the viewing angle). Here every training view ``v`` gets its own
map ``c' = M_v c + b_v`` applied to the render before the loss, learned with the splats, so
each frame's exposure goes into its map and the splats keep one look. At render time no map is
applied: the splats' own colours are the neutral appearance (as splatfacto's appearance
embeddings or gsplat's bilateral grids, in their simplest, per-image affine form).

The maps and the splat colours can trade a common gain between them; a pull of the maps'
mean toward the identity removes that freedom (the splats hold the views' average look), and
a weaker pull on each map keeps a view seen by few Gaussians from drifting.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["MEAN_WEIGHT", "VIEW_WEIGHT", "Appearance"]

MEAN_WEIGHT = 1.0  # weight of |mean_v (M_v | b_v) - (I | 0)|^2 in the loss
VIEW_WEIGHT = 0.01  # weight of mean_v |(M_v | b_v) - (I | 0)|^2


class Appearance(torch.nn.Module):
    """``views`` affine colour maps, all starting at the identity."""

    def __init__(self, views: int, device: torch.device):
        super().__init__()
        identity = torch.eye(3, 4, device=device)
        self.maps = torch.nn.Parameter(identity.repeat(views, 1, 1))  # [V, 3, 4]
        self.register_buffer("identity", identity)

    def forward(self, rgb: torch.Tensor, view: int) -> torch.Tensor:
        """[H, W, 3] render -> the same seen with view ``view``'s exposure and white balance."""
        m = self.maps[view]
        return rgb @ m[:, :3].T + m[:, 3]

    def penalty(self) -> torch.Tensor:
        """The loss term that ties the maps to the identity (on average, and loosely each)."""
        offsets = self.maps - self.identity
        return (
            MEAN_WEIGHT * offsets.mean(dim=0).square().sum()
            + VIEW_WEIGHT * offsets.square().sum(dim=(1, 2)).mean()
        )

    def optimizer(self, learning_rate: float) -> torch.optim.Adam:
        return torch.optim.Adam([self.maps], lr=learning_rate)

    def numpy(self) -> np.ndarray:
        """[V, 3, 4] the learned maps (M | b), float64."""
        return self.maps.detach().cpu().double().numpy()
