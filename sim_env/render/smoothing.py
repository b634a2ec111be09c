"""A package's opt-in 3D smoothing (``render.smoothing_3d``): its splats filtered for the
package's own cameras at their own resolution, posed as in the first initial condition (the
wrist camera where the arm starts), so no Gaussian is finer than those cameras can resolve
(``sim_env.splats.smoothing``). Objects are filtered where they start, in their body frame.

Mip-splatting trains with the filter on. Applied after training to flat, surface-hugging
Gaussians (what ``reconstruct`` trains), it turns each disc into a fainter slab: on
``tabletop_twin`` half of the exterior camera's scene pixels lose their cover
(``benchmarks.fidelity.gap --looks as-built smoothing``). It is here for twins trained with it."""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.package import EnvPackage
from sim_env.scene import SceneModel, apply_initial_condition
from sim_env.splats import GaussianSet
from sim_env.splats.smoothing import SamplingCamera, filter_std, smooth_3d

__all__ = ["smooth_package"]


def smooth_package(
    package: EnvPackage,
    scene: SceneModel,
    static: GaussianSet | None,
    objects: list[tuple[int, GaussianSet]],  # (body id, Gaussians in the body frame)
) -> tuple[GaussianSet | None, list[tuple[int, GaussianSet]]]:
    """The static and object Gaussians, each convolved with its 3D filter."""
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, package.spec.initial_conditions[0])
    cameras = [
        SamplingCamera(
            world_to_camera(data, scene.cameras[c.name]),
            Intrinsics.of(c).matrix(),
            c.width,
            c.height,
        )
        for c in package.spec.cameras
    ]
    if static is not None:
        static = smooth_3d(static, filter_std(static.means, cameras))
    moved = []
    for body, local in objects:
        rot = data.xmat[body].reshape(3, 3)
        world = local.means.astype(np.float64) @ rot.T + data.xpos[body]
        moved.append((body, smooth_3d(local, filter_std(world, cameras))))
    return static, moved
