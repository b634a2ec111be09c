"""PolaRiS's hybrid view: the scanned scene and objects from Gaussian splats, the robot (and any
object without splats) from MuJoCo, composited per pixel by depth.

Each movable object's Gaussians are stored in its body frame and follow the body's simulated
pose every frame; the static scene's are in the world frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.package import EnvPackage
from sim_env.render.base import CameraLayers, Renderer, fit_size
from sim_env.render.composite import composite
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.scene import MESH_VISUAL_GROUP, ROBOT_VISUAL_GROUP, SceneModel
from sim_env.splats import GaussianSet, concat, rasterize
from sim_env.splats.ply import read_ply
from sim_env.splats.transform import transform


@dataclass(frozen=True)
class HybridConfig:
    """Rendering settings of the hybrid view."""

    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # RGB in [0, 1] where nothing is
    mesh_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)  # robot colour matched to the scan
    backend: str = "auto"  # rasterizer: "auto", "cpu" or "gsplat"


class HybridRenderer(Renderer):
    """Splats for the package's scene and objects, MuJoCo for the robot, depth-composited."""

    def __init__(
        self, package: EnvPackage, scene: SceneModel, config: HybridConfig = HybridConfig()
    ):
        self.config = config
        self.scene = scene
        self.mesh = MujocoRenderer(scene.model, groups=(MESH_VISUAL_GROUP, ROBOT_VISUAL_GROUP))
        spec = package.spec
        self.intrinsics = {c.name: Intrinsics.of(c) for c in spec.cameras}
        self._static = read_ply(package.path(spec.scene.splats)) if spec.scene.splats else None
        bodies = {o.name: o.body_id for o in scene.objects}
        self._objects = [
            (bodies[o.name], read_ply(package.path(o.splats))) for o in spec.objects if o.splats
        ]
        parts = ([self._static] if self._static is not None else []) + [g for _, g in self._objects]
        if not parts:
            raise ValueError("the hybrid renderer needs a package with splats")
        self._world = concat(parts)  # buffers refreshed in place every frame
        self._slices = []
        start = len(self._static) if self._static is not None else 0
        for _, local in self._objects:
            self._slices.append(slice(start, start + len(local)))
            start += len(local)

    def world_gaussians(self, data: mujoco.MjData) -> GaussianSet:
        """The scene's Gaussians with every object's moved to its current pose."""
        for (body, local), part in zip(self._objects, self._slices, strict=True):
            moved = transform(local, data.xmat[body].reshape(3, 3), data.xpos[body])
            self._world.means[part] = moved.means
            self._world.quats[part] = moved.quats
            self._world.sh[part] = moved.sh
        return self._world

    def render_layers(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> CameraLayers:
        """Composited colour and the nearer surface's depth, unpadded at the fitted size."""
        native = self.intrinsics[camera]
        w, h = (
            fit_size((native.width, native.height), size) if size else (native.width, native.height)
        )
        gs = self.world_gaussians(data)
        view = world_to_camera(data, self.scene.cameras[camera])
        k = native.scaled(w, h).matrix()
        rgb, depth, alpha = rasterize(
            gs.means,
            gs.quats,
            gs.scales,
            gs.opacities,
            gs.sh,
            view,
            k,
            w,
            h,
            backend=self.config.backend,
        )
        mesh = self.mesh.render_layers(data, camera, (w, h), depth=True)
        out = composite(
            rgb,
            depth,
            alpha,
            mesh.rgb,
            mesh.depth,
            np.array(self.config.background),
            np.array(self.config.mesh_gain),
        )
        splat_depth = np.where(alpha > 0, depth, np.inf)
        return CameraLayers(rgb=out, depth=np.minimum(splat_depth, mesh.depth))

    def close(self) -> None:
        self.mesh.close()
