"""How much of a camera's view is void: neither the splats, the robot nor a background covers it.

A pixel is *void* when its splats are less than half opaque, MuJoCo drew nothing there and
the package has no background (it renders as the flat background colour, black by default);
with a background dome it is *unseen* when, in addition, the dome's texel there was filled
rather than seen by the capture.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.envmap import background_image
from sim_env.render.base import fit_size
from sim_env.render.hybrid import HybridRenderer
from sim_env.splats import rasterize

COVERED_ALPHA = 0.5


@dataclass(frozen=True)
class VoidFractions:
    """Fractions of a view's pixels: ``open`` (alpha < 0.5, no robot), ``void`` (open and no
    background), ``unseen`` (open and the background there was never seen by the capture)."""

    open: float
    void: float
    unseen: float


def void_fractions(
    renderer: HybridRenderer, data: mujoco.MjData, camera: str, size: tuple[int, int]
) -> VoidFractions:
    """What ``camera`` sees in state ``data`` at the fitted ``size`` (width, height)."""
    native = renderer.intrinsics[camera]
    w, h = fit_size((native.width, native.height), size)
    view = renderer.view_matrix(data, camera)
    k = native.scaled(w, h).matrix()
    g = renderer.world_gaussians(data, camera, view, k)
    _, _, alpha = rasterize(g.means, g.quats, g.scales, g.opacities, g.sh, view, k, w, h)
    drawn = np.isfinite(renderer.mesh.render_layers(data, camera, (w, h), depth=True).depth)
    open_ = (alpha < COVERED_ALPHA) & ~drawn
    dome = renderer.background.dome
    if dome is None:
        return VoidFractions(float(open_.mean()), float(open_.mean()), float(open_.mean()))
    seen = background_image(dome, view, k, w, h)[..., 3] >= 0.5
    return VoidFractions(float(open_.mean()), 0.0, float((open_ & ~seen).mean()))
