"""Per-image appearance compensation: a learned affine colour map per training view.

A phone's video drifts in exposure and white balance from frame to frame. Fitted as they are,
the splats average those looks into their colours (and into view-dependent SH terms, as if the
surfaces changed colour with the viewing angle). Here every training view ``v`` gets its own
map ``c' = M_v c + b_v`` applied to the render before the loss, learned with the splats, so
each frame's exposure goes into its map and the splats keep one look. At render time no map is
applied: the splats' own colours are the neutral appearance (as splatfacto's appearance
embeddings or gsplat's bilateral grids, in their simplest, per-image affine form).

The maps and the splat colours can trade a common gain between them; a pull of the maps'
mean toward the identity narrows that freedom, and a weaker pull on each map keeps a view seen
by few Gaussians from drifting. The pull is loose under Adam (each map's step is scaled by its
own view's photometric gradients): the synthetic tabletop's maps ended brighter on average, and
its splats rendered its held-out frames 5-16 grey levels darker than filmed. ``fold_mean``
therefore moves the maps' mean into the splats' colours after training, so the splats hold the
views' average look exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from sim_env.splats.gaussians import SH_C0

__all__ = ["MEAN_WEIGHT", "VIEW_WEIGHT", "Appearance", "fold_mean"]

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


def fold_mean(
    sh: np.ndarray,  # [N, K, 3] SH coefficients (colour = 0.5 + sum_k sh[k] Y_k)
    maps: np.ndarray,  # [V, 3, 4] the views' learned maps (M | b)
) -> tuple[np.ndarray, np.ndarray]:
    """``sh`` with the maps' mean map (M | b) applied to every colour it gives (exact before
    the renderer's clamp at 0: the DC term takes M and b, the others M), and the maps
    re-expressed against those colours (their mean is then the identity)."""
    mean = maps.mean(axis=0)
    gain, offset = mean[:, :3], mean[:, 3]
    out = np.einsum("ij,nkj->nki", gain, sh.astype(np.float64))
    dc = gain @ (0.5 + SH_C0 * sh[:, 0].astype(np.float64).T) + offset[:, None]  # [3, N]
    out[:, 0] = ((dc - 0.5) / SH_C0).T
    inverse = np.linalg.inv(gain)
    m = maps[:, :, :3] @ inverse
    b = maps[:, :, 3] - np.einsum("vij,j->vi", m, offset)
    return out.astype(sh.dtype), np.concatenate([m, b[:, :, None]], axis=2)
