"""The rasterizer's fixed numbers, as in gsplat 1.5 (``rasterization``, classic mode)."""

from __future__ import annotations

TILE_SIZE = 16  # pixels per tile side
EPS2D = 0.3  # px^2 low-pass added to every projected 2D covariance
NEAR_PLANE = 0.01  # metres; Gaussians whose centre is nearer are culled
FAR_PLANE = 1e10  # metres; Gaussians whose centre is farther are culled
ALPHA_MIN = 1.0 / 255.0  # fragments with a smaller alpha are skipped
ALPHA_MAX = 0.999  # alpha clamp (gsplat's CUDA kernel; the INRIA code uses 0.99)
T_MIN = 1e-4  # a pixel stops once its transmittance would drop to this or below
EXTEND_MAX = 3.33  # radius cap in standard deviations
FOV_MARGIN = 0.3  # the Jacobian is evaluated with centres clamped to 1.3x the field of view
RECT_EPS = 1e-3  # px slack on exact footprint rectangles (the alpha test stays authoritative)
DEPTH_ALPHA_EPS = 1e-10  # expected depth = sum(w z) / max(alpha, this)
