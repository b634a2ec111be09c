"""Real spherical harmonics up to degree 3 in gsplat's basis order and sign convention.

Basis index k = l^2 + l + m (m = -l..l). With a unit direction (x, y, z):
    k=0: C0;   k=1: -C1 y;   k=2: C1 z;   k=3: -C1 x;   k=4..8: degree 2;   k=9..15: degree 3.
This is the ordering of gsplat's ``spherical_harmonics`` (Sloan's "Efficient SH evaluation"),
the INRIA 3DGS code and its PLY files. A colour is ``max(0, 0.5 + sum_k sh[k] * Y_k(d))``
with ``d`` the unit vector from the camera centre to the Gaussian centre.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sh_bases", "sh_basis"]

_C0 = np.float32(0.2820947917738781)
_C1 = np.float32(0.48860251190292)
_C2_0 = np.float32(1.092548430592079)
_C2_1 = np.float32(0.9461746957575601)
_C2_2 = np.float32(0.3153915652525201)
_C2_3 = np.float32(0.5462742152960395)
_C3_0 = np.float32(2.285228997322329)
_C3_1 = np.float32(0.4570457994644658)
_C3_2 = np.float32(1.445305721320277)
_C3_3 = np.float32(1.865881662950577)
_C3_4 = np.float32(1.119528997770346)
_C3_5 = np.float32(0.5900435899266435)


@numba.njit(cache=True, inline="always")
def sh_basis(degree, x, y, z):
    """The 16 real SH basis values at the unit direction (x, y, z); entries above ``degree``
    are 0. Returned as a tuple so that callers in parallel loops allocate nothing."""
    zero = x - x
    b1 = b2 = b3 = zero
    b4 = b5 = b6 = b7 = b8 = zero
    b9 = b10 = b11 = b12 = b13 = b14 = b15 = zero
    if degree >= 1:
        b1 = -_C1 * y
        b2 = _C1 * z
        b3 = -_C1 * x
    if degree >= 2:
        z2 = z * z
        tmp_b = -_C2_0 * z
        c1 = x * x - y * y
        s1 = (x + x) * y
        b6 = _C2_1 * z2 - _C2_2
        b7 = tmp_b * x
        b5 = tmp_b * y
        b8 = _C2_3 * c1
        b4 = _C2_3 * s1
        if degree >= 3:
            tmp_c = -_C3_0 * z2 + _C3_1
            tmp_b3 = _C3_2 * z
            c2 = x * c1 - y * s1
            s2 = x * s1 + y * c1
            b12 = z * (_C3_3 * z2 - _C3_4)
            b13 = tmp_c * x
            b11 = tmp_c * y
            b14 = tmp_b3 * c1
            b10 = tmp_b3 * s1
            b15 = -_C3_5 * c2
            b9 = -_C3_5 * s2
    return (
        zero + _C0,
        b1,
        b2,
        b3,
        b4,
        b5,
        b6,
        b7,
        b8,
        b9,
        b10,
        b11,
        b12,
        b13,
        b14,
        b15,
    )


@numba.njit(cache=True)
def _sh_bases_kernel(degree, dirs, out):
    for i in range(dirs.shape[0]):
        x, y, z = dirs[i, 0], dirs[i, 1], dirs[i, 2]
        norm = np.sqrt(x * x + y * y + z * z)
        basis = sh_basis(degree, x / norm, y / norm, z / norm)
        for k in range(out.shape[1]):
            out[i, k] = basis[k]


def sh_bases(degree: int, dirs: np.ndarray) -> np.ndarray:
    """[N, 3] directions (any length > 0) -> [N, (degree+1)^2] basis values, float64."""
    dirs = np.ascontiguousarray(dirs, dtype=np.float64)
    out = np.empty((dirs.shape[0], (degree + 1) ** 2), np.float64)
    _sh_bases_kernel(degree, dirs, out)
    return out
