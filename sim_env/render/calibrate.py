"""Match a twin's splat colours to a real camera: one photo from that camera, taken with the
scene as an initial condition places it and the arm where that condition puts it, gives the
camera's affine colour map (its exposure and white balance against the scan's), which the
splat renderer then applies for that camera (``env.yaml`` ``render.colour``).

Only pixels the splats fully cover, away from anything MuJoCo draws (the robot), enter the
fit: there the photo and the twin show the same surfaces, so what differs is the camera.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import mujoco
import numpy as np
from PIL import Image, UnidentifiedImageError

from sim_env.errors import EnvPackageError
from sim_env.package import EnvPackage
from sim_env.render.base import fit_size
from sim_env.render.colour import fit_colour
from sim_env.render.config import HybridConfig
from sim_env.render.hybrid import HybridRenderer
from sim_env.scene import apply_initial_condition, build_scene

COVERED_ALPHA = 0.99  # splat alpha above which a pixel shows the splats alone
ROBOT_MARGIN_PX = 2  # pixels around what MuJoCo draws left out (edges blend both)
FIT_SIZE = (320, 180)  # the fit's resolution bound: colour statistics need no more
MIN_PIXELS = 500  # covered pixels a fit needs
ASPECT_TOLERANCE = 0.02  # relative difference of the photo's and the camera's aspect


def read_photo(path: Path) -> np.ndarray:
    """[H, W, 3] uint8 of the image file at ``path``; a file that is not one is an error."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise EnvPackageError(f"not a readable image ({exc})", file=path) from exc


def camera_colour_map(
    package: EnvPackage,
    camera: str,
    photo: np.ndarray,  # [H, W, 3] uint8, the real camera's view
    initial_condition: int = 0,
    photo_name: str = "photo",
) -> list[list[float]]:
    """The 3x4 map (M | b) taking the twin's trained splat colours to ``photo``'s.

    Raises:
        EnvPackageError: an unknown camera or initial condition, a photo whose aspect is not
            the camera's, or too few pixels the splats cover.
    """
    spec = package.spec
    if camera not in {c.name for c in spec.cameras}:
        names = ", ".join(c.name for c in spec.cameras)
        raise EnvPackageError(f"unknown camera {camera!r} (package has {names})", file=photo_name)
    if not 0 <= initial_condition < len(spec.initial_conditions):
        raise EnvPackageError(
            f"initial condition {initial_condition} is not one of the package's "
            f"{len(spec.initial_conditions)}",
            file=photo_name,
        )
    if not spec.scene.splats:
        raise EnvPackageError("the package has no splats: nothing to match", file=package.root)
    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, spec.initial_conditions[initial_condition])
    renderer = HybridRenderer(package, scene, HybridConfig(colour_match=False))
    try:
        native = renderer.intrinsics[camera]
        size = fit_size((native.width, native.height), FIT_SIZE)
        _check_aspect(photo, size, photo_name)
        rgb, _, alpha = renderer.splat_layers(data, camera, size)
        drawn = np.isfinite(renderer.mesh.render_layers(data, camera, size, depth=True).depth)
    finally:
        renderer.close()
    kernel = np.ones((2 * ROBOT_MARGIN_PX + 1,) * 2, np.uint8)
    near_robot = cv2.dilate(drawn.astype(np.uint8), kernel) > 0
    mask = (alpha > COVERED_ALPHA) & ~near_robot
    if mask.sum() < MIN_PIXELS:
        raise EnvPackageError(
            f"only {int(mask.sum())} pixels of {camera} show the splats alone (a fit needs "
            f"{MIN_PIXELS}); is this the camera that sees the scan?",
            file=photo_name,
        )
    real = cv2.resize(photo, size, interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
    twin = np.clip(rgb, 0.0, 1.0)  # premultiplied, as the map is applied; alpha ~ 1 here
    return fit_colour(twin[mask], real[mask]).round(5).tolist()


def _check_aspect(photo: np.ndarray, size: tuple[int, int], name: str) -> None:
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise EnvPackageError(f"expected an RGB image, got shape {photo.shape}", file=name)
    h, w = photo.shape[:2]
    aspect, wanted = w / h, size[0] / size[1]
    if abs(aspect / wanted - 1) > ASPECT_TOLERANCE or min(w, h) < min(size) // 4:
        raise EnvPackageError(
            f"{w}x{h} does not look like this camera's view ({size[0]}:{size[1]} aspect, "
            f"at least {size[0] // 4}x{size[1] // 4})",
            file=name,
        )
