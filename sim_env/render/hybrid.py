"""PolaRiS's hybrid view: the scanned scene and objects from Gaussian splats, the robot (and any
object without splats) from MuJoCo, composited per pixel by depth.

Each movable object's Gaussians are stored in its body frame and follow the body's simulated
pose every frame; the static scene's are in the world frame.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.package import EnvPackage
from sim_env.render.background import Background
from sim_env.render.base import CameraLayers, Renderer, fit_size
from sim_env.render.colour import apply_colour
from sim_env.render.composite import composite
from sim_env.render.config import HybridConfig
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.render.smoothing import smooth_package
from sim_env.render.supersample import box_average_layers
from sim_env.render.table_texture import TableTexture, over_table
from sim_env.scene import MESH_VISUAL_GROUP, ROBOT_VISUAL_GROUP, SceneModel
from sim_env.splats import GaussianSet, concat, rasterize
from sim_env.splats.lod import LodConfig, merge_for_camera
from sim_env.splats.ply import read_ply
from sim_env.splats.transform import transform
from sim_env.table_picture import read_picture

BufferKey = tuple[str, int, int] | None  # (camera, width, height) for a level of detail


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
        self._fixed = {c.name for c in spec.cameras if c.parent == "world"}
        self._static = read_ply(package.path(spec.scene.splats)) if spec.scene.splats else None
        bodies = {o.name: o.body_id for o in scene.objects}
        self._objects = [
            (bodies[o.name], read_ply(package.path(o.splats))) for o in spec.objects if o.splats
        ]
        if self._static is None and not self._objects:
            raise ValueError("the hybrid renderer needs a package with splats")
        self._buffers: dict[BufferKey, tuple[GaussianSet, list[slice]]] = {}
        look = spec.render  # the package's opt-in splat look; the config may override it
        if look is not None and look.smoothing_3d:
            self._static, self._objects = smooth_package(
                package, scene, self._static, self._objects
            )
        packaged = bool(look and look.antialiased)
        self._antialiased = packaged if config.antialiased is None else config.antialiased
        packaged_factor = look.supersample if look is not None else 1
        self._supersample = packaged_factor if config.supersample is None else config.supersample
        keep = look is not None and config.colour_match
        self._colour = {c: np.array(m) for c, m in look.colour.items()} if keep else {}
        self.background = Background(package, config.background)
        table = spec.scene.table_texture
        self.table = (
            None
            if table is None
            else TableTexture(
                read_picture(package.path(table.image), table.extent), table.extent, table.height
            )
        )
        if self.table is not None and self._static is not None:  # under the table: unseen
            seen = ~self.table.hides(self._static.means)
            self._static = self._static.subset(seen) if seen.any() else None

    def _buffer(
        self, key: BufferKey, static: GaussianSet | None
    ) -> tuple[GaussianSet, list[slice]]:
        """Concatenated Gaussians, static first, then each object's slice (overwritten in place
        every frame)."""
        if key not in self._buffers:
            parts = ([static] if static is not None else []) + [g for _, g in self._objects]
            start, slices = (len(static) if static is not None else 0), []
            for _, local in self._objects:
                slices.append(slice(start, start + len(local)))
                start += len(local)
            self._buffers[key] = (concat(parts), slices)
        return self._buffers[key]

    def world_gaussians(
        self, data: mujoco.MjData, camera: str | None = None, view=None, k=None
    ) -> GaussianSet:
        """The scene's Gaussians, at ``camera``'s level of detail when it has one, with every
        object moved to its current pose. ``view`` [4, 4] and ``k`` [3, 3] are the camera's."""
        # the merge conserves coverage as the classic mode draws it; the antialiased mode
        # thins merged sub-pixel Gaussians differently (7 levels darker at 160x90), so it
        # draws every Gaussian
        lod = None if self._antialiased else self.config.lod_pixels
        if lod is not None and camera in self._fixed and self._static is not None:
            key = (camera, round(2 * k[0, 2]), round(2 * k[1, 2]))
            if key not in self._buffers:
                config = LodConfig(cell_pixels=2 * lod, max_scale_pixels=lod)
                self._buffer(key, merge_for_camera(self._static, view, k, config))
        else:
            key = None
        world, slices = self._buffer(key, self._static)
        for (body, local), part in zip(self._objects, slices, strict=True):
            moved = transform(local, data.xmat[body].reshape(3, 3), data.xpos[body])
            world.means[part] = moved.means
            world.quats[part] = moved.quats
            world.sh[part] = moved.sh
        return world

    def view_matrix(self, data: mujoco.MjData, camera: str) -> np.ndarray:
        """[4, 4] world -> ``camera`` (OpenCV axes) in the state ``data``."""
        return world_to_camera(data, self.scene.cameras[camera])

    def splat_layers(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the scan draws at the fitted size, as :meth:`render_layers` composites it: the
        splats (over the table picture, if the package has one), premultiplied colour [H, W, 3]
        in [0, 1] (the package's colour map applied), expected depth [H, W] metres and alpha
        [H, W]."""
        native = self.intrinsics[camera]
        w, h = (
            fit_size((native.width, native.height), size) if size else (native.width, native.height)
        )
        view = self.view_matrix(data, camera)
        f = self._supersample
        k = native.scaled(w * f, h * f).matrix()  # pixel centres at +0.5, as the rasterizer's
        gs = self.world_gaussians(data, camera, view, k)
        rgb, depth, alpha = rasterize(
            gs.means,
            gs.quats,
            gs.scales,
            gs.opacities,
            gs.sh,
            view,
            k,
            w * f,
            h * f,
            backend=self.config.backend,
            antialiased=self._antialiased,
        )
        if f > 1:
            rgb, depth, alpha = box_average_layers(rgb, depth, alpha, f)
        if self.table is not None:
            fixed = (camera, w, h) if camera in self._fixed else None
            picture = self.table.draw(view, native.scaled(w, h).matrix(), w, h, fixed)
            rgb, depth, alpha = over_table(rgb, depth, alpha, picture)
        if camera in self._colour:
            rgb = apply_colour(rgb, alpha, self._colour[camera])
        return rgb, depth, alpha

    def render_layers(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> CameraLayers:
        """Composited colour and the nearer surface's depth, unpadded at the fitted size."""
        rgb, depth, alpha = self.splat_layers(data, camera, size)
        h, w = alpha.shape
        view = self.view_matrix(data, camera)
        k = self.intrinsics[camera].scaled(w, h).matrix()
        mesh = self.mesh.render_layers(data, camera, (w, h), depth=True)
        fixed = (camera, w, h) if camera in self._fixed else None
        background = self.background.behind(view, k, w, h, fixed)
        gain = np.array(self.config.mesh_gain)
        out = composite(rgb, depth, alpha, mesh.rgb, mesh.depth, background, gain)
        splat_depth = np.where(alpha > 0, depth, np.inf)
        return CameraLayers(rgb=out, depth=np.minimum(splat_depth, mesh.depth))

    def close(self) -> None:
        self.mesh.close()
