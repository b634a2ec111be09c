"""Which pixels move a locator: integrated gradients of its located xy along a direction, over
the path from one image to another (the source world's frame to the twin's).

Integrated gradients (Sundararajan et al., 2017) split ``f(target) - f(base)`` over the pixels:
each pixel gets its change times the output's gradient averaged along the straight path
between the two images, and the pixels' shares add up to the whole change (completeness), up to
the midpoint rule's error in ``steps``. Summed over a region (the table where an object stood
during the scan, say), they say how much of a twin's lean that region holds.
"""

from __future__ import annotations

import numpy as np
import torch

from studies.locator.net import POSE_DIM, LocatorNet, Standardisation, unit_images


def located_along(
    net: LocatorNet,
    standardisation: Standardisation,
    images: torch.Tensor,  # [N, 3, H, W] in [0, 1]
    obj: int,
    direction: np.ndarray,  # [2] unit xy
) -> torch.Tensor:
    """[N] metres: where the locator puts object ``obj``, along ``direction`` (less the target
    mean's share, a constant)."""
    scale = torch.as_tensor(standardisation.target_std, dtype=torch.float32)
    poses = net(standardisation.standardise(images)) * scale
    xy = poses[:, obj * POSE_DIM : obj * POSE_DIM + 2]
    return xy @ torch.as_tensor(direction, dtype=torch.float32)


def integrated_gradients(
    net: LocatorNet,
    standardisation: Standardisation,
    base: np.ndarray,  # [N, H, W, 3] uint8, e.g. the source world's frames
    target: np.ndarray,  # [N, H, W, 3] uint8, the same states in the twin
    obj: int,
    direction: np.ndarray,  # [2] unit xy
    steps: int = 24,
) -> np.ndarray:
    """[N, H, W] metres: each pixel's share of the change in object ``obj``'s located position
    along ``direction`` from ``base`` to ``target`` (summed over the colour channels)."""
    x0, x1 = unit_images(base), unit_images(target)
    delta = x1 - x0
    grad = torch.zeros_like(x0)
    net.eval()
    for alpha in (np.arange(steps) + 0.5) / steps:
        x = (x0 + float(alpha) * delta).requires_grad_(True)
        (g,) = torch.autograd.grad(located_along(net, standardisation, x, obj, direction).sum(), x)
        grad += g / steps
    return (delta * grad).sum(dim=1).detach().numpy()
