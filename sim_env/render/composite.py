"""Per-pixel depth compositing of splat renders with MuJoCo renders (PolaRiS's hybrid view)."""

from __future__ import annotations

import numpy as np

MIN_SPLAT_ALPHA = 1.0 / 255.0  # below this, a pixel has no splat surface to be in front of


def composite(
    splat_rgb: np.ndarray,  # [H, W, 3] float in [0, 1], premultiplied by alpha (black background)
    splat_depth: np.ndarray,  # [H, W] metres, expected depth of the splat surface
    splat_alpha: np.ndarray,  # [H, W] accumulated opacity in [0, 1]
    mesh_rgb: np.ndarray,  # [H, W, 3] uint8, MuJoCo's render of the robot and unsplatted objects
    mesh_depth: np.ndarray,  # [H, W] metres along the optical axis, inf where nothing was drawn
    background: np.ndarray,  # [3] or [H, W, 3] float in [0, 1], seen where neither covers
    mesh_gain: np.ndarray | None = None,  # [3] colour gain matching MuJoCo's colours to the scan's
) -> np.ndarray:
    """[H, W, 3] uint8: the nearer of the two surfaces per pixel.

    Where the mesh is nearer than the splat surface (or the splats are transparent there) the
    mesh colour wins; elsewhere the splats are blended over whatever lies behind them (the
    mesh if it was drawn, else the background).
    """
    mesh = mesh_rgb.astype(np.float32) * np.float32(1.0 / 255.0)
    if mesh_gain is not None:
        mesh = np.clip(mesh * np.asarray(mesh_gain, np.float32), 0.0, 1.0)
    drawn = np.isfinite(mesh_depth)
    behind = np.where(drawn[..., None], mesh, np.asarray(background, np.float32))
    blended = splat_rgb + (1.0 - splat_alpha)[..., None] * behind
    mesh_wins = drawn & ((mesh_depth < splat_depth) | (splat_alpha < MIN_SPLAT_ALPHA))
    out = np.where(mesh_wins[..., None], mesh, blended)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
