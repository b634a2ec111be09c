"""Paint the scene's background dome (``sim_env.envmap``) from the training frames.

Every texel of the panorama is a point on the dome; it is projected into each frame that
sees it and the frames' colours are averaged, each weighted down near its image border
(seams fade) and where the package's splats are opaque (that pixel shows the scene in front
of the dome, not what lies behind it). Texels no frame saw are filled from their neighbours (push-pull: averaged
down a pyramid, then blended back up), so nothing is left black; ``seen`` records which is
which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct.views import View, load_views
from sim_env.envmap import EnvironmentMap, bilinear, texel_directions, write_envmap
from sim_env.splats import GaussianSet, rasterize

BORDER = 0.08  # of the shorter image side: a frame's weight ramps up from 0 over this margin
MIN_TRUST = 0.05  # a pixel behind opaque splats still paints what no other frame saw


@dataclass(frozen=True)
class DomeConfig:
    """Attributes:
    height: the panorama's height, px (its width is twice it).
    radius_factor: the dome's radius, as a multiple of the farthest frame's distance from
        its centre (every capture and robot camera must stand inside it).
    image_width: the frames are painted from at this width, px.
    """

    height: int = 512
    radius_factor: float = 2.0
    image_width: int = 480


def dome_around(centre: np.ndarray, camera_centres: np.ndarray, config: DomeConfig) -> float:
    """The dome's radius: ``radius_factor`` x the farthest camera's distance from ``centre``."""
    reach = np.linalg.norm(np.asarray(camera_centres) - centre, axis=1).max(initial=0.0)
    return float(config.radius_factor * max(reach, 1e-6))


def view_weight(x: np.ndarray, y: np.ndarray, width: int, height: int) -> np.ndarray:
    margin = BORDER * min(width, height)
    inset = np.minimum(np.minimum(x, width - x), np.minimum(y, height - y))
    return np.clip(inset / margin, 0.0, 1.0)


def project(points: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates x, y of ``[..., 3]`` world points in ``view`` (``bilinear``'s
    convention) and whether each lands in front of the camera inside its image."""
    cam = points @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
    z = cam[..., 2]
    safe = np.where(z > 1e-9, z, 1.0)
    x = view.K[0, 0] * cam[..., 0] / safe + view.K[0, 2]
    y = view.K[1, 1] * cam[..., 1] / safe + view.K[1, 2]
    w, h = view.size
    return x, y, (z > 1e-9) & (x >= 0) & (x < w) & (y >= 0) & (y < h)


def paint(
    views: Sequence[View],
    centre: np.ndarray,
    radius: float,
    height: int,
    trust: Sequence[np.ndarray] | None = None,
) -> EnvironmentMap:
    """The dome (``centre`` [3], ``radius``, world units) painted from ``views``; each view's
    camera must stand inside it. ``trust``: one [H, W] map per view in (0, 1], how much each
    pixel shows the background (the splats' transparency there), so foreground seen by one
    frame does not smear over background another frame saw; 1 everywhere if None."""
    points = np.asarray(centre, np.float64) + radius * texel_directions(height)
    total = np.zeros((*points.shape[:2], 3), np.float64)
    weight = np.zeros(points.shape[:2], np.float64)
    if trust is not None and len(trust) != len(views):
        raise ValueError(f"{len(trust)} trust maps for {len(views)} views")
    for i, view in enumerate(views):
        x, y, inside = project(points, view)
        w, h = view.size
        if not inside.any():
            continue
        wv = np.where(inside, view_weight(x, y, w, h), 0.0)
        if trust is not None:
            pixel_trust = bilinear(trust[i][..., None], x[inside], y[inside], wrap_x=False)
            wv[inside] *= pixel_trust[:, 0]
        colour = bilinear(view.image, x[inside], y[inside], wrap_x=False)
        total[inside] += wv[inside, None] * colour
        weight += wv
    seen = weight > 1e-6
    rgb = np.where(seen[..., None], total / np.maximum(weight, 1e-12)[..., None], 0.0)
    filled = push_pull(rgb.astype(np.float32), seen.astype(np.float32))
    return EnvironmentMap(filled, seen.astype(np.float32), np.asarray(centre, float), radius)


def push_pull(rgb: np.ndarray, known: np.ndarray, wrap_x: bool = True) -> np.ndarray:
    """``rgb`` [H, W, 3] with the texels where ``known`` [H, W] is 0 filled smoothly from the
    known ones (mid-grey when nothing is known); columns wrap around when ``wrap_x``, as a
    panorama's do."""
    if known.max() <= 0:
        return np.full_like(rgb, 0.5)
    if known.min() >= 1:
        return rgb
    if min(known.shape) <= 1:  # the pyramid's top: the unknown take the known's mean
        mean = (rgb * known[..., None]).sum(axis=(0, 1)) / known.sum()
        return (known[..., None] * rgb + (1.0 - known[..., None]) * mean).astype(np.float32)
    h, w = known.shape
    hp, wp = h + h % 2, w + w % 2
    pad = ((0, hp - h), (0, wp - w))
    k = np.pad(known, pad, mode="edge")
    c = np.pad(rgb * known[..., None], (*pad, (0, 0)), mode="edge")
    coarse_k = k.reshape(hp // 2, 2, wp // 2, 2).sum(axis=(1, 3))
    coarse_c = c.reshape(hp // 2, 2, wp // 2, 2, 3).sum(axis=(1, 3))
    coarse_known = np.minimum(coarse_k, 1.0)
    coarse_rgb = coarse_c / np.maximum(coarse_k, 1e-12)[..., None]
    coarse = push_pull(coarse_rgb.astype(np.float32), coarse_known.astype(np.float32), wrap_x)
    x, y = np.meshgrid((np.arange(w) + 0.5) / 2, (np.arange(h) + 0.5) / 2)
    up = bilinear(coarse, x, y, wrap_x=wrap_x)  # a panorama wraps around in longitude
    return (known[..., None] * rgb + (1.0 - known[..., None]) * up).astype(np.float32)


def transparency(views: Sequence[View], gaussians: GaussianSet) -> list[np.ndarray]:
    """[H, W] per view: how transparent the splats are there (at least ``MIN_TRUST``)."""
    out = []
    for view in views:
        g = gaussians
        _, _, alpha = rasterize(
            g.means, g.quats, g.scales, g.opacities, g.sh, view.viewmat, view.K, *view.size
        )
        out.append(np.maximum(1.0 - alpha, MIN_TRUST).astype(np.float32))
    return out


def dome_for_package(
    model_dir: Path,  # the align stage's model (world frame)
    images: Path,  # the frames stage's images
    centre: np.ndarray,  # [3] the dome's centre (the workspace), world units
    cameras: np.ndarray,  # [K, 3] the package's world-fixed cameras, which must stand inside
    gaussians: GaussianSet | None,  # the package's splats in the world
    config: DomeConfig,
    out: Path,  # the panorama PNG to write
) -> dict[str, Any]:
    """Paint the dome from every registered frame (each pixel trusted as far as the splats
    are transparent there) and write it; the package's ``scene.background`` record and a
    summary (``seen``: fraction of the panorama the capture saw)."""
    views = load_views(model_dir, images, width=config.image_width)
    reach = np.concatenate([[v.centre for v in views], np.reshape(cameras, (-1, 3))])
    radius = dome_around(centre, reach, config)
    trust = None if gaussians is None else transparency(views, gaussians)
    dome = paint(views, centre, radius, config.height, trust)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_envmap(dome, out)
    spec = {"centre": [float(x) for x in centre], "radius": radius}
    return spec | {"views": len(views), "seen": round(float(dome.seen.mean()), 4)}
