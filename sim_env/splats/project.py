"""Stage 1 of the CPU rasterizer: EWA projection of 3D Gaussians to screen-space splats.

Follows gsplat's ``fully_fused_projection`` (pinhole, ``eps2d`` low-pass, ``radius_clip`` 0)
and its opacity-aware radius: a Gaussian is culled when its centre is nearer than ``near`` or
farther than ``far``, when its opacity is below 1/255, when the blurred 2D covariance is
singular, or when its radius box ``ceil(extend * sigma)`` misses the image, with
``extend = min(3.33, sqrt(2 ln(255 opacity)))``.

``antialiased`` is gsplat's ``rasterize_mode="antialiased"`` (mip-splatting's 2D filter): the
low-pass still widens every splat to at least a pixel, but its opacity is scaled by
``sqrt(max(0, det(cov2d) / det(cov2d + eps2d I)))`` so a sub-pixel Gaussian keeps its
integrated coverage instead of growing into a brighter, larger blot at low resolution. As in
gsplat's kernel, the compensated opacity is the one culled at 1/255, the one the radius is
derived from and the one blended.

Each surviving Gaussian also gets the exact pixel rectangle of the ellipse where its alpha
reaches 1/255 (pixel centres at ``j + 0.5``). Pixels outside it can never receive a fragment,
so binning to this rectangle instead of gsplat's rounded-up box changes no pixel value.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from sim_env.splats.constants import ALPHA_MIN, EXTEND_MAX, FOV_MARGIN, RECT_EPS
from sim_env.splats.sh import sh_basis

__all__ = [
    "REC_A",
    "REC_B",
    "REC_BLUE",
    "REC_C",
    "REC_DEPTH",
    "REC_G",
    "REC_OPACITY",
    "REC_R",
    "REC_RECT",
    "REC_SIGMA_MAX",
    "REC_WIDTH",
    "REC_X",
    "REC_Y",
    "Projection",
    "camera_center",
    "project",
]


# Columns of a splat record (one float32 row of ``Projection.records``), padded to 48 bytes.
REC_X, REC_Y = 0, 1  # centre, pixels
REC_A, REC_B, REC_C = 2, 3, 4  # conic: inverse 2D covariance [[A, B], [B, C]], 1/px^2
REC_OPACITY = 5
REC_SIGMA_MAX = 6  # alpha >= 1/255 exactly where 0.5 d^T conic d <= SIGMA_MAX
REC_DEPTH = 7  # camera z, metres
REC_R, REC_G, REC_BLUE = 8, 9, 10  # colour after SH evaluation
REC_RECT = 12  # 4 int32 (bit patterns in the float32 row): pixel rectangle x0, x1, y0, y1
REC_WIDTH = 16  # 64 bytes, one cache line


class Projection(NamedTuple):
    """Projected Gaussians: one record per input Gaussian, culled ones with x0 > x1."""

    records: np.ndarray  # [N, REC_WIDTH] float32, see REC_*

    @property
    def rects(self) -> np.ndarray:
        """[N, 4] int32 inclusive pixel rectangles x0, x1, y0, y1 (a view)."""
        return self.records.view(np.int32)[:, REC_RECT : REC_RECT + 4]


_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_INV_ALPHA_MIN = np.float32(1.0 / ALPHA_MIN)
_ALPHA_MIN = np.float32(ALPHA_MIN)
_EXTEND_MAX = np.float32(EXTEND_MAX)
_FOV_MARGIN = np.float32(FOV_MARGIN)
_RECT_EPS = np.float32(RECT_EPS)


@numba.njit(parallel=True, cache=True, fastmath=True)
def _project_kernel(
    means,  # [N, 3] f32 world, metres
    quats,  # [N, 4] f32 w x y z
    scales,  # [N, 3] f32 metres
    opacities,  # [N] f32
    sh,  # [N, K, 3] f32; K = 1 and sh_degree = -1 for plain colours
    sh_degree,  # int, -1 = colours given directly
    view,  # [4, 4] f32 world -> camera (OpenCV)
    campos,  # [3] f32 camera centre, world
    intr,  # [4] f32 fx, fy, cx, cy (pixels)
    width,
    height,
    near,  # f32 metres
    far,  # f32 metres
    eps2d,  # f32 px^2
    antialiased,  # bool: scale opacities by the low-pass's compensation
    records,  # out [N, REC_WIDTH] f32
    irecords,  # the same memory viewed as int32, for the rectangle columns
):
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    w_f = np.float32(width)
    h_f = np.float32(height)
    lim_x_pos = (w_f - cx) / fx + _FOV_MARGIN * _HALF * w_f / fx
    lim_x_neg = cx / fx + _FOV_MARGIN * _HALF * w_f / fx
    lim_y_pos = (h_f - cy) / fy + _FOV_MARGIN * _HALF * h_f / fy
    lim_y_neg = cy / fy + _FOV_MARGIN * _HALF * h_f / fy
    r00, r01, r02, t0 = view[0, 0], view[0, 1], view[0, 2], view[0, 3]
    r10, r11, r12, t1 = view[1, 0], view[1, 1], view[1, 2], view[1, 3]
    r20, r21, r22, t2 = view[2, 0], view[2, 1], view[2, 2], view[2, 3]
    n_bases = sh.shape[1] if sh_degree < 0 else (sh_degree + 1) * (sh_degree + 1)
    for i in numba.prange(means.shape[0]):
        irecords[i, REC_RECT] = 0
        irecords[i, REC_RECT + 1] = -1
        px, py, pz = means[i, 0], means[i, 1], means[i, 2]
        x = r00 * px + r01 * py + r02 * pz + t0
        y = r10 * px + r11 * py + r12 * pz + t1
        z = r20 * px + r21 * py + r22 * pz + t2
        op = opacities[i]
        if z < near or z > far or op < _ALPHA_MIN:
            continue
        # 3D covariance  M M^T with M = R(q) diag(s)
        qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        qn = _ONE / np.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        qw, qx, qy, qz = qw * qn, qx * qn, qy * qn, qz * qn
        sx, sy, sz = scales[i, 0], scales[i, 1], scales[i, 2]
        m00 = (_ONE - _TWO * (qy * qy + qz * qz)) * sx
        m01 = _TWO * (qx * qy - qw * qz) * sy
        m02 = _TWO * (qx * qz + qw * qy) * sz
        m10 = _TWO * (qx * qy + qw * qz) * sx
        m11 = (_ONE - _TWO * (qx * qx + qz * qz)) * sy
        m12 = _TWO * (qy * qz - qw * qx) * sz
        m20 = _TWO * (qx * qz - qw * qy) * sx
        m21 = _TWO * (qy * qz + qw * qx) * sy
        m22 = (_ONE - _TWO * (qx * qx + qy * qy)) * sz
        # T = J W (2x3): the Jacobian of the pinhole projection at the clamped centre, times
        # the camera rotation, so the 2D covariance is (T M)(T M)^T.
        rz = _ONE / z
        tx = z * min(lim_x_pos, max(-lim_x_neg, x * rz))
        ty = z * min(lim_y_pos, max(-lim_y_neg, y * rz))
        j00 = fx * rz
        j02 = -fx * tx * rz * rz
        j11 = fy * rz
        j12 = -fy * ty * rz * rz
        a0, a1, a2 = j00 * r00 + j02 * r20, j00 * r01 + j02 * r21, j00 * r02 + j02 * r22
        b0, b1, b2 = j11 * r10 + j12 * r20, j11 * r11 + j12 * r21, j11 * r12 + j12 * r22
        u0 = a0 * m00 + a1 * m10 + a2 * m20
        u1 = a0 * m01 + a1 * m11 + a2 * m21
        u2 = a0 * m02 + a1 * m12 + a2 * m22
        v0 = b0 * m00 + b1 * m10 + b2 * m20
        v1 = b0 * m01 + b1 * m11 + b2 * m21
        v2 = b0 * m02 + b1 * m12 + b2 * m22
        cxx = u0 * u0 + u1 * u1 + u2 * u2 + eps2d
        cxy = u0 * v0 + u1 * v1 + u2 * v2
        cyy = v0 * v0 + v1 * v1 + v2 * v2 + eps2d
        det = cxx * cyy - cxy * cxy
        if det <= 0:
            continue
        if antialiased:  # the classic path's arithmetic stays as it was, bit for bit
            sxx = u0 * u0 + u1 * u1 + u2 * u2
            syy = v0 * v0 + v1 * v1 + v2 * v2
            op = op * np.sqrt(max((sxx * syy - cxy * cxy) / det, np.float32(0.0)))
            if op < _ALPHA_MIN:
                continue
        extend = min(_EXTEND_MAX, np.sqrt(_TWO * np.log(op * _INV_ALPHA_MIN)))
        mx = fx * x * rz + cx
        my = fy * y * rz + cy
        sdx = np.sqrt(cxx)
        sdy = np.sqrt(cyy)
        rad_x = np.ceil(extend * sdx)
        rad_y = np.ceil(extend * sdy)
        if rad_x <= 0 and rad_y <= 0:
            continue
        if mx + rad_x <= 0 or mx - rad_x >= w_f or my + rad_y <= 0 or my - rad_y >= h_f:
            continue
        ex = extend * sdx + _RECT_EPS
        ey = extend * sdy + _RECT_EPS
        x0 = max(np.ceil(mx - ex - _HALF), np.float32(0.0))
        x1 = min(np.floor(mx + ex - _HALF), w_f - _ONE)
        y0 = max(np.ceil(my - ey - _HALF), np.float32(0.0))
        y1 = min(np.floor(my + ey - _HALF), h_f - _ONE)
        if x0 > x1 or y0 > y1:
            continue
        irecords[i, REC_RECT] = np.int32(x0)
        irecords[i, REC_RECT + 1] = np.int32(x1)
        irecords[i, REC_RECT + 2] = np.int32(y0)
        irecords[i, REC_RECT + 3] = np.int32(y1)
        inv_det = _ONE / det
        rec = records[i]
        rec[REC_X] = mx
        rec[REC_Y] = my
        rec[REC_A] = cyy * inv_det
        rec[REC_B] = -cxy * inv_det
        rec[REC_C] = cxx * inv_det
        rec[REC_OPACITY] = op
        rec[REC_SIGMA_MAX] = _HALF * extend * extend
        rec[REC_DEPTH] = z
        if sh_degree < 0:
            rec[REC_R], rec[REC_G], rec[REC_BLUE] = sh[i, 0, 0], sh[i, 0, 1], sh[i, 0, 2]
        else:
            dx, dy, dz = px - campos[0], py - campos[1], pz - campos[2]
            dn = _ONE / np.sqrt(dx * dx + dy * dy + dz * dz)
            basis = sh_basis(sh_degree, dx * dn, dy * dn, dz * dn)
            cr = _HALF
            cg = _HALF
            cb = _HALF
            for k in range(n_bases):
                bk = basis[k]
                cr += bk * sh[i, k, 0]
                cg += bk * sh[i, k, 1]
                cb += bk * sh[i, k, 2]
            rec[REC_R] = max(cr, np.float32(0.0))
            rec[REC_G] = max(cg, np.float32(0.0))
            rec[REC_BLUE] = max(cb, np.float32(0.0))
        rec[REC_RECT - 1] = np.float32(0.0)


def camera_center(viewmat: np.ndarray) -> np.ndarray:
    """[4, 4] world-to-camera -> [3] camera centre in world, metres (float64)."""
    viewmat = np.asarray(viewmat, np.float64)
    return -viewmat[:3, :3].T @ viewmat[:3, 3]


def project(
    means: np.ndarray,  # [N, 3] f32 world, metres
    quats: np.ndarray,  # [N, 4] f32 w x y z
    scales: np.ndarray,  # [N, 3] f32 metres, activated
    opacities: np.ndarray,  # [N] f32 in [0, 1], activated
    sh: np.ndarray,  # [N, K, 3] f32 SH coefficients, or [N, 1, 3] colours with sh_degree -1
    sh_degree: int,  # 0..3, or -1 when ``sh`` holds plain colours
    viewmat: np.ndarray,  # [4, 4] world -> camera, OpenCV axes
    K: np.ndarray,  # [3, 3] pinhole intrinsics, pixels
    width: int,
    height: int,
    near: float,  # metres
    far: float,  # metres
    eps2d: float,  # px^2 low-pass added to the 2D covariance
    antialiased: bool = False,  # gsplat's "antialiased" mode: opacity-compensated low-pass
) -> Projection:
    """Project N Gaussians; arrays must already be float32 and C-contiguous."""
    n = means.shape[0]
    records = np.empty((n, REC_WIDTH), np.float32)
    intr = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], np.float32)
    _project_kernel(
        means,
        quats,
        scales,
        opacities,
        sh,
        sh_degree,
        np.ascontiguousarray(viewmat, np.float32),
        camera_center(viewmat).astype(np.float32),
        intr,
        width,
        height,
        np.float32(near),
        np.float32(far),
        np.float32(eps2d),
        antialiased,
        records,
        records.view(np.int32),
    )
    return Projection(records)
