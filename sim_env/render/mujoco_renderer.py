"""MuJoCo's own offscreen renderer (EGL or OSMesa), shadows off for speed.

Built on MuJoCo's low-level API rather than ``mujoco.Renderer`` so that one render pass can
return colour and depth together (the hybrid splat compositor needs both for every frame), and
one GL context serves every image size (each size is a viewport of the offscreen buffer).
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.render.base import CameraLayers, Renderer, fit_size

VISUAL_GROUPS = (0, 1, 2)  # package visuals without splats, package visuals with splats, robot


class MujocoRenderer(Renderer):
    """Renders the model's meshes in the geom groups ``groups``."""

    def __init__(self, model: mujoco.MjModel, groups: tuple[int, ...] = VISUAL_GROUPS):
        self.model = model
        self.max_size = (int(model.vis.global_.offwidth), int(model.vis.global_.offheight))
        self._gl = mujoco.GLContext(*self.max_size)
        self._gl.make_current()
        self._context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._scene = mujoco.MjvScene(model, maxgeom=10000)
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self.option = mujoco.MjvOption()
        self.option.sitegroup[:] = 0  # sites are markers, not things a camera sees
        self.option.geomgroup[:] = 0
        self.option.geomgroup[list(groups)] = 1
        extent = model.stat.extent
        self.near, self.far = model.vis.map.znear * extent, model.vis.map.zfar * extent

    def native_size(self, camera: str) -> tuple[int, int]:
        w, h = self.model.cam_resolution[self.model.camera(camera).id]
        return int(w), int(h)

    def _draw(self, data: mujoco.MjData, camera: str, size: tuple[int, int]) -> mujoco.MjrRect:
        if size[0] > self.max_size[0] or size[1] > self.max_size[1]:
            raise ValueError(f"image size {size} exceeds the offscreen buffer {self.max_size}")
        self._gl.make_current()
        self._camera.fixedcamid = self.model.camera(camera).id
        mujoco.mjv_updateScene(
            self.model,
            data,
            self.option,
            None,
            self._camera,
            mujoco.mjtCatBit.mjCAT_ALL,
            self._scene,
        )
        viewport = mujoco.MjrRect(0, 0, size[0], size[1])
        mujoco.mjr_render(viewport, self._scene, self._context)
        return viewport

    def render_layers(
        self,
        data: mujoco.MjData,
        camera: str,
        size: tuple[int, int] | None = None,
        *,
        depth: bool = False,
        segmentation: bool = False,
    ) -> CameraLayers:
        """Colour, and optionally depth and geom segmentation, unpadded at the fitted size.

        Depth is metres along the optical axis, ``inf`` where nothing was drawn.
        """
        fitted = fit_size(self.native_size(camera), size) if size else self.native_size(camera)
        w, h = fitted
        viewport = self._draw(data, camera, fitted)
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        depth_buffer = np.empty((h, w), dtype=np.float32) if depth else None
        mujoco.mjr_readPixels(rgb, depth_buffer, viewport, self._context)
        depth_image = None
        if depth_buffer is not None:
            # OpenGL's nonlinear depth buffer in [0, 1] -> distance along the optical axis.
            depth_image = self.near / (1.0 - depth_buffer * (1.0 - self.near / self.far))
            depth_image[depth_buffer >= 1.0] = np.inf
            depth_image = np.flipud(depth_image)
        seg_image = self._segmentation(data, camera, fitted) if segmentation else None
        return CameraLayers(rgb=np.flipud(rgb), depth=depth_image, segmentation=seg_image)

    def _segmentation(self, data: mujoco.MjData, camera: str, size: tuple[int, int]) -> np.ndarray:
        flags = self._scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = True
        try:
            viewport = self._draw(data, camera, size)
            pixels = np.empty((size[1], size[0], 3), dtype=np.uint8)
            mujoco.mjr_readPixels(pixels, None, viewport, self._context)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = False
        ids = (
            pixels[..., 0].astype(np.int32)
            + (pixels[..., 1].astype(np.int32) << 8)
            + (pixels[..., 2].astype(np.int32) << 16)
        )
        geom = np.full(ids.shape, -1, dtype=np.int32)
        drawn = ids > 0
        objects = [self._scene.geoms[i] for i in range(self._scene.ngeom)]
        lookup = np.array(
            [g.objid if g.objtype == mujoco.mjtObj.mjOBJ_GEOM else -1 for g in objects],
            dtype=np.int32,
        )
        geom[drawn] = lookup[np.minimum(ids[drawn] - 1, len(lookup) - 1)]
        return np.flipud(geom)

    def close(self) -> None:
        if self._context is not None:
            self._gl.make_current()
            self._context.free()
            self._context = None
            self._gl.free()
