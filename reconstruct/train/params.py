"""The trainable parameters of a splat scene (raw, as optimisers and files hold them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sim_env.splats import GaussianSet

FIELDS = ("means", "quats", "log_scales", "logit_opacities", "sh0", "sh_rest")


@dataclass(eq=False)
class SplatParams:
    """Leaf tensors with gradients; activation matches ``GaussianSet.from_raw``."""

    means: torch.Tensor  # [N, 3] world, metres
    quats: torch.Tensor  # [N, 4] w x y z, unnormalised
    log_scales: torch.Tensor  # [N, 3]
    logit_opacities: torch.Tensor  # [N]
    sh0: torch.Tensor  # [N, 1, 3]
    sh_rest: torch.Tensor  # [N, K - 1, 3]

    def __len__(self) -> int:
        return self.means.shape[0]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def sh(self) -> torch.Tensor:
        return torch.cat([self.sh0, self.sh_rest], dim=1)

    def activated(self) -> tuple[torch.Tensor, ...]:
        """(means, unit quats, scales, opacities, sh) for the rasterizers."""
        quats = self.quats / self.quats.norm(dim=-1, keepdim=True)
        return (
            self.means,
            quats,
            torch.exp(self.log_scales),
            torch.sigmoid(self.logit_opacities),
            self.sh,
        )

    @classmethod
    def from_gaussians(
        cls, gs: GaussianSet, sh_degree: int, device: torch.device | str = "cpu"
    ) -> SplatParams:
        raw = gs.with_sh_degree(sh_degree).to_raw()

        def leaf(array: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.asarray(array, np.float32), device=device).requires_grad_(True)

        return cls(
            leaf(raw.means),
            leaf(raw.quats),
            leaf(raw.log_scales),
            leaf(raw.logit_opacities),
            leaf(raw.sh[:, :1]),
            leaf(raw.sh[:, 1:]),
        )

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> SplatParams:
        return cls(**{name: tensors[name].detach().clone().requires_grad_(True) for name in FIELDS})

    def to_gaussians(self) -> GaussianSet:
        """The activated, file-exact GaussianSet of these parameters."""
        with torch.no_grad():
            return GaussianSet.from_raw(
                *(
                    t.cpu().numpy()
                    for t in (
                        self.means,
                        self.quats,
                        self.log_scales,
                        self.logit_opacities,
                        self.sh,
                    )
                )
            )
