"""What a camera sees behind the splats: the package's background dome along each pixel's ray
(format version 2, ``scene.background``), else one flat colour (version 1: as before).

The compositor (``composite``) blends it in after rasterization, whichever rasterizer ran
(numba on the CPU, gsplat on CUDA): ``splat_rgb + (1 - alpha) * background``.
"""

from __future__ import annotations

import numpy as np

from sim_env.envmap import EnvironmentMap, background_image, read_envmap
from sim_env.package import EnvPackage

CacheKey = tuple[str, int, int]  # (camera, width, height) of a camera fixed in the world


class Background:
    """The background of one package's cameras; world-fixed cameras' images are cached."""

    def __init__(self, package: EnvPackage, colour: tuple[float, float, float]):
        spec = package.spec.scene.background
        self.colour = np.asarray(colour, np.float32)
        self.dome: EnvironmentMap | None = (
            None
            if spec is None
            else read_envmap(package.path(spec.image), np.asarray(spec.centre), spec.radius)
        )
        self._fixed: dict[CacheKey, np.ndarray] = {}

    def behind(
        self,
        viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
        K: np.ndarray,  # [3, 3] the rasterizer's intrinsics
        width: int,
        height: int,
        fixed: CacheKey | None = None,  # set for a camera fixed in the world
    ) -> np.ndarray:
        """[3] or [H, W, 3] float32 RGB in [0, 1] behind the splats."""
        if self.dome is None:
            return self.colour
        if fixed is not None and fixed in self._fixed:
            return self._fixed[fixed]
        image = background_image(self.dome, viewmat, K, width, height, seen=False)
        if fixed is not None:
            self._fixed[fixed] = image
        return image
