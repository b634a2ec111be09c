"""MuJoCo's own offscreen renderer (EGL or OSMesa), shadows off for speed."""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.render.base import CameraLayers, Renderer, fit_size, pad_to


class MujocoRenderer(Renderer):
    """Renders the model's meshes; keeps one GL context per image size."""

    def __init__(self, model: mujoco.MjModel):
        self.model = model
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.scene_option = mujoco.MjvOption()
        self.scene_option.sitegroup[:] = 0  # sites are markers, not things a camera sees
        self.scene_option.flags[mujoco.mjtVisFlag.mjVIS_LIGHT] = False

    def native_size(self, camera: str) -> tuple[int, int]:
        w, h = self.model.cam_resolution[self.model.camera(camera).id]
        return int(w), int(h)

    def _renderer(self, size: tuple[int, int]) -> mujoco.Renderer:
        if size not in self._renderers:
            self._renderers[size] = mujoco.Renderer(self.model, height=size[1], width=size[0])
        return self._renderers[size]

    def render_layers(
        self,
        data: mujoco.MjData,
        camera: str,
        size: tuple[int, int] | None = None,
        *,
        depth: bool = False,
        segmentation: bool = False,
    ) -> CameraLayers:
        """Colour, and optionally depth and geom segmentation, unpadded at the fitted size."""
        fitted = fit_size(self.native_size(camera), size) if size else self.native_size(camera)
        renderer = self._renderer(fitted)
        renderer.update_scene(data, camera=camera, scene_option=self.scene_option)
        rgb = renderer.render().copy()
        depth_image = seg_image = None
        if depth:
            renderer.enable_depth_rendering()
            depth_image = renderer.render().astype(np.float32)
            renderer.disable_depth_rendering()
        if segmentation:
            renderer.enable_segmentation_rendering()
            seg = renderer.render()
            renderer.disable_segmentation_rendering()
            seg_image = np.where(seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM, seg[..., 0], -1).astype(
                np.int32
            )
        return CameraLayers(rgb=rgb, depth=depth_image, segmentation=seg_image)

    def render(
        self, data: mujoco.MjData, camera: str, size: tuple[int, int] | None = None
    ) -> np.ndarray:
        rgb = self.render_layers(data, camera, size).rgb
        return pad_to(rgb, size) if size else rgb

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
