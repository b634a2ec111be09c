"""Rigid motion of Gaussians: move the subset of a scene that belongs to an object.

A pose (R, t) maps means to R mean + t and body orientations q to q_R * q. View-dependent
colour must turn with the object: a Gaussian seen along world direction R d afterwards must
look as it did along d before. Every SH band l is a (2l+1)-dimensional space closed under
rotation, so this is exact band by band: coefficients c_l become D_l c_l with D_l the band's
rotation matrix.

Degree 1 in closed form (gsplat's order, k = 1, 2, 3 -> -C1 y, C1 z, -C1 x): the band is the
linear function d -> C1 v.d with v = (-c3, -c1, c2); rotating the object turns v into R v.
For every band we obtain D_l by least squares on the basis sampled at 2(2l+1)^2 fixed
directions (exact for a rotation-closed space; error ~1e-7 from the basis's float32
constants), which reproduces the closed form for l = 1 and is the Wigner-D matrix in the real
basis for l = 2, 3.
"""

from __future__ import annotations

import numpy as np

from sim_env.splats.gaussians import GaussianSet, normalize_quats, sh_degree_for_bases
from sim_env.splats.rotations import matrix_to_quat, quat_multiply
from sim_env.splats.sh import sh_bases

__all__ = ["rotate_sh", "sh_band_rotation", "transform", "transform_subset"]

_ROTATION_TOL = 1e-5


def _sample_directions(count: int) -> np.ndarray:
    """[count, 3] unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(count) + 0.5
    z = 1 - 2 * i / count
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _check_rotation(rotation: np.ndarray) -> np.ndarray:
    rot = np.asarray(rotation, np.float64)
    if rot.shape != (3, 3):
        raise ValueError(f"rotation has shape {rot.shape}; expected (3, 3)")
    if not (
        np.allclose(rot @ rot.T, np.eye(3), atol=_ROTATION_TOL)
        and abs(np.linalg.det(rot) - 1) < _ROTATION_TOL
    ):
        raise ValueError("rotation is not a proper rotation matrix (R R^T = I, det R = 1)")
    return rot


def sh_band_rotation(rotation: np.ndarray, band: int) -> np.ndarray:
    """[2l+1, 2l+1] matrix D with new = D @ old for band ``band``'s coefficients (per channel)
    when the Gaussian is rotated by ``rotation`` [3, 3]."""
    rot = _check_rotation(rotation)
    dirs = _sample_directions(2 * (2 * band + 1) ** 2)
    lo, hi = band * band, (band + 1) ** 2
    before = sh_bases(band, dirs)[:, lo:hi]
    after = sh_bases(band, dirs @ rot.T)[:, lo:hi]
    # sum_k new_k Y_k(R d) = sum_k old_k Y_k(d); with Y(R d) = Y(d) A this gives new = A^T old
    a, *_ = np.linalg.lstsq(before, after, rcond=None)
    return a.T


def rotate_sh(sh: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """[N, K, 3] SH coefficients of Gaussians rotated by ``rotation`` [3, 3] -> [N, K, 3]."""
    sh = np.asarray(sh, np.float32)
    out = sh.copy()
    degree = sh_degree_for_bases(sh.shape[1])
    for band in range(1, degree + 1):
        d = sh_band_rotation(rotation, band)
        lo, hi = band * band, (band + 1) ** 2
        out[:, lo:hi] = np.einsum("ij,njc->nic", d, sh[:, lo:hi].astype(np.float64))
    return out


def transform(gs: GaussianSet, rotation: np.ndarray, translation: np.ndarray) -> GaussianSet:
    """``gs`` moved by the rigid pose x -> rotation @ x + translation ([3, 3], [3] metres)."""
    rot = _check_rotation(rotation)
    trans = np.asarray(translation, np.float64).reshape(3)
    q_rot = matrix_to_quat(rot[None])[0]
    return GaussianSet(
        gs.means.astype(np.float64) @ rot.T + trans,
        normalize_quats(quat_multiply(q_rot, gs.quats)),
        gs.scales,
        gs.opacities,
        rotate_sh(gs.sh, rot),
    )


def transform_subset(
    gs: GaussianSet,
    index: np.ndarray,  # [N] bool mask or integer indices of the Gaussians to move
    rotation: np.ndarray,  # [3, 3]
    translation: np.ndarray,  # [3] metres
) -> GaussianSet:
    """``gs`` with only the selected Gaussians moved; order and the rest are unchanged."""
    moved = transform(gs.subset(index), rotation, translation)
    fields = {}
    for name in ("means", "quats", "scales", "opacities", "sh"):
        array = getattr(gs, name).copy()
        array[index] = getattr(moved, name)
        fields[name] = array
    return GaussianSet(**fields)
