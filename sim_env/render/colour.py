"""Per-camera colour matching of splat renders: an affine map of the splats' colours that makes
the twin's camera see the scan the way the real camera (its exposure, white balance, lighting)
does.

A scan's splats hold the phone's colours; the robot's cameras see the same surfaces with
their own exposure and white balance under the robot's lighting. ``fit_colour`` finds, from
one real image per camera of a state the twin can reproduce, the 3x4 affine map
``c' = M c + b`` (colours in [0, 1]) from the twin's splat colours to the real ones;
``apply_colour`` applies it to a premultiplied splat render, where it is exact for blended
colours (sum w_i (M c_i + b) = M sum w_i c_i + b alpha), so the robot's MuJoCo pixels and the
background are left alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IDENTITY", "apply_colour", "fit_colour"]

IDENTITY = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0))
RIDGE = 1e-4  # pull toward the identity (per pixel), so a few or flat pixels stay sane


def fit_colour(
    twin: np.ndarray,  # [N, 3] the twin's splat colours in [0, 1] at some pixels
    real: np.ndarray,  # [N, 3] the real camera's colours in [0, 1] at the same pixels
) -> np.ndarray:
    """[3, 4] least-squares affine map (M | b) from ``twin`` to ``real``, ridge-regularised
    toward the identity."""
    twin = np.asarray(twin, np.float64).reshape(-1, 3)
    real = np.asarray(real, np.float64).reshape(-1, 3)
    if len(twin) != len(real) or len(twin) < 4:
        raise ValueError(f"need >= 4 matching pixels, got {len(twin)} and {len(real)}")
    x = np.concatenate([twin, np.ones((len(twin), 1))], axis=1)  # [N, 4]
    reg = RIDGE * len(twin) * np.eye(4)
    identity = np.asarray(IDENTITY).T  # [4, 3]
    solution = np.linalg.solve(x.T @ x + reg, x.T @ real + reg @ identity)  # [4, 3]
    return solution.T


def apply_colour(
    rgb: np.ndarray,  # [H, W, 3] float, premultiplied by alpha (a splat render on black)
    alpha: np.ndarray,  # [H, W] float in [0, 1]
    matrix: np.ndarray,  # [3, 4] (M | b)
) -> np.ndarray:
    """[H, W, 3] float32 premultiplied colours after ``c' = M c + b`` per blended Gaussian."""
    matrix = np.asarray(matrix, np.float32)
    out = rgb.astype(np.float32) @ matrix[:, :3].T + alpha[..., None] * matrix[:, 3]
    return np.clip(out, 0.0, alpha[..., None])
