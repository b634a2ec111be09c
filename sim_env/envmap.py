"""The scene's background: an equirectangular panorama on a dome around the scene.

A scan only sees part of the world; splats are transparent where it looked at nothing, and a
camera that looks there would see black void. The background is what the capture saw
around the scene, painted onto a sphere (the *dome*, ``centre`` and ``radius`` in world
units) and stored as a panorama: a pixel whose splats are not opaque shows the dome where
its ray leaves it (``render = splat_rgb + (1 - alpha) * dome``), so the fill moves with
parallax as the camera moves (exact for a world that is a sphere, close for far walls).

Panorama layout (``FORMAT.md``): width = 2 x height; column ``i`` covers longitudes
[-pi + 2 pi i / W, -pi + 2 pi (i + 1) / W) about world z (longitude 0 = +x, pi / 2 = +y);
row ``j`` covers latitudes from pi / 2 - pi j / H downwards (row 0 looks straight up).
The PNG is RGBA: A is 255 where the capture saw the texel, 0 where the painting filled it
from its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_HEIGHT, MAX_HEIGHT = 16, 4096  # px, the panorama's height (width is twice it)


@dataclass(frozen=True)
class EnvironmentMap:
    """A painted dome: ``rgb`` [H, 2H, 3] float32 in [0, 1]; ``seen`` [H, 2H] float32 in [0, 1]
    (1 where the capture saw the texel); ``centre`` [3] and ``radius`` in world units."""

    rgb: np.ndarray
    seen: np.ndarray
    centre: np.ndarray
    radius: float


def texel_directions(height: int) -> np.ndarray:
    """[H, 2H, 3] unit world direction through each texel's centre."""
    width = 2 * height
    lon = -np.pi + 2.0 * np.pi * (np.arange(width) + 0.5) / width
    lat = np.pi / 2 - np.pi * (np.arange(height) + 0.5) / height
    lon, lat = np.meshgrid(lon, lat)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def texel_coordinates(dirs: np.ndarray, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous panorama coordinates (x, y) of unit directions ``dirs`` [..., 3]: texel
    (i, j) covers [i, i + 1) x [j, j + 1)."""
    lon = np.arctan2(dirs[..., 1], dirs[..., 0])
    lat = np.arcsin(np.clip(dirs[..., 2], -1.0, 1.0))
    return (lon + np.pi) / (2 * np.pi) * (2 * height), (np.pi / 2 - lat) / np.pi * height


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray, wrap_x: bool) -> np.ndarray:
    """``image`` [H, W, C] sampled at continuous pixel coordinates (x, y) (pixel (i, j) covers
    [i, i + 1) x [j, j + 1)); rows clamp at the edges, columns wrap when ``wrap_x``."""
    h, w = image.shape[:2]
    flat = image.reshape(h * w, -1)
    fx, fy = np.asarray(x, np.float32) - 0.5, np.clip(np.asarray(y, np.float32) - 0.5, 0, h - 1)
    x0, y0 = np.floor(fx), np.floor(fy)
    ax, ay = (fx - x0)[..., None], (fy - y0)[..., None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    y1 = np.minimum(y0 + 1, h - 1)
    if wrap_x:
        x0, x1 = x0 % w, (x0 + 1) % w
    else:
        x1 = np.clip(x0 + 1, 0, w - 1)
        x0 = np.clip(x0, 0, w - 1)
    row0, row1 = y0 * w, y1 * w
    top = flat[row0 + x0] * (1 - ax) + flat[row0 + x1] * ax
    bottom = flat[row1 + x0] * (1 - ax) + flat[row1 + x1] * ax
    out = top * (1 - ay) + bottom * ay
    return out.reshape(*np.shape(x), image.shape[2]).astype(np.float32, copy=False)


def dome_directions(
    origins: np.ndarray,  # [..., 3] ray origins, world units
    dirs: np.ndarray,  # [..., 3] unit ray directions
    centre: np.ndarray,  # [3] the dome's centre
    radius: float,  # the dome's radius, world units
) -> np.ndarray:
    """[..., 3] unit direction from the dome's centre to where each ray leaves the dome (the
    ray's own direction when it starts outside and misses)."""
    o = np.asarray(origins, np.float64) - np.asarray(centre, np.float64)
    d = np.asarray(dirs, np.float64)
    b = np.einsum("...i,...i->...", o, d)
    disc = b * b - (np.einsum("...i,...i->...", o, o) - radius * radius)
    t = -b + np.sqrt(np.maximum(disc, 0.0))
    hit = o + t[..., None] * d
    norm = np.sqrt(np.einsum("...i,...i->...", hit, hit))[..., None]
    miss = ((disc < 0) | (t <= 0))[..., None] | (norm <= 1e-12)
    if not miss.any():
        return hit / norm
    return np.where(miss, d, hit / np.maximum(norm, 1e-12))


def camera_rays(
    viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
    K: np.ndarray,  # [3, 3] intrinsics, pixel centres at +0.5 (the rasterizer's convention)
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(origin [3], unit directions [H, W, 3]) in the world of every pixel centre's ray."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    local = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rot = np.asarray(viewmat, np.float64)[:3, :3]
    world = local @ rot  # R^T applied to each row vector
    world /= np.linalg.norm(world, axis=-1, keepdims=True)
    return -rot.T @ np.asarray(viewmat, np.float64)[:3, 3], world


def lookup(
    env: EnvironmentMap, origins: np.ndarray, dirs: np.ndarray, seen: bool = True
) -> np.ndarray:
    """[..., 4] float32: the dome's RGB along each ray, and whether the capture saw it
    ([..., 3], RGB only, without ``seen``)."""
    x, y = texel_coordinates(dome_directions(origins, dirs, env.centre, env.radius), len(env.rgb))
    rgb = bilinear(env.rgb, x, y, wrap_x=True)
    if not seen:
        return rgb
    return np.concatenate([rgb, bilinear(env.seen[..., None], x, y, wrap_x=True)], axis=-1)


def background_image(
    env: EnvironmentMap,
    viewmat: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
    seen: bool = True,
) -> np.ndarray:
    """[H, W, 4] float32: the dome behind every pixel of a camera (RGB, seen; [H, W, 3]
    without ``seen``)."""
    origin, dirs = camera_rays(viewmat, K, width, height)
    return lookup(env, np.broadcast_to(origin, dirs.shape), dirs, seen)


def write_envmap(env: EnvironmentMap, path: Path) -> None:
    """The panorama as an 8-bit RGBA PNG (A: seen)."""
    from PIL import Image

    rgba = np.dstack([env.rgb, env.seen])
    Image.fromarray((np.clip(rgba, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGBA").save(path)


class EnvmapFileError(ValueError):
    """A panorama file that cannot be a background (the loader names the file and field)."""


def read_envmap(path: Path, centre: np.ndarray, radius: float) -> EnvironmentMap:
    """Read a panorama PNG (RGB, or RGBA with A = seen); raises ``EnvmapFileError``."""
    from sim_env.images import read_rgba_png

    def refuse(w: int, h: int) -> str | None:
        if w != 2 * h or not MIN_HEIGHT <= h <= MAX_HEIGHT:
            return (
                f"an equirectangular panorama is 2:1 with a height of {MIN_HEIGHT}-"
                f"{MAX_HEIGHT} px, got {w}x{h}"
            )
        return None

    pixels = read_rgba_png(path, EnvmapFileError, refuse)
    return EnvironmentMap(pixels[..., :3], pixels[..., 3], np.asarray(centre, float), radius)
