"""SH rotation: the closed form for degree 1, invariances for every band."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sim_env.splats import GaussianSet, rotate_sh, sh_band_rotation, transform
from sim_env.splats.sh import sh_bases

ROT = Rotation.from_euler("zyx", [40, -25, 70], degrees=True).as_matrix()


def _coeffs(degree, n=20, seed=0):
    return np.random.default_rng(seed).normal(size=(n, (degree + 1) ** 2, 3)).astype(np.float32)


def test_degree_one_matches_closed_form():
    """Band 1 is d -> C1 v.d with v = (-c3, -c1, c2); rotating the Gaussian turns v into R v."""
    sh = _coeffs(1)
    v = np.stack([-sh[:, 3], -sh[:, 1], sh[:, 2]], axis=1)
    v_rot = np.einsum("ij,njc->nic", ROT, v)
    expected = np.stack([-v_rot[:, 1], v_rot[:, 2], -v_rot[:, 0]], axis=1)
    np.testing.assert_allclose(rotate_sh(sh, ROT)[:, 1:4], expected, atol=1e-6)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_rotated_colour_along_rotated_direction_is_unchanged(degree):
    sh = _coeffs(degree, seed=degree)
    dirs = np.random.default_rng(9).normal(size=(50, 3))
    before = np.einsum("dk,nkc->ndc", sh_bases(degree, dirs), sh)
    after = np.einsum("dk,nkc->ndc", sh_bases(degree, dirs @ ROT.T), rotate_sh(sh, ROT))
    np.testing.assert_allclose(after, before, atol=2e-5)


@pytest.mark.parametrize("band", [1, 2, 3])
def test_band_rotations_are_orthogonal_and_compose(band):
    other = Rotation.from_rotvec([0.3, -1.1, 0.4]).as_matrix()
    d = sh_band_rotation(ROT, band)
    np.testing.assert_allclose(d @ d.T, np.eye(2 * band + 1), atol=1e-6)
    np.testing.assert_allclose(
        sh_band_rotation(ROT @ other, band), d @ sh_band_rotation(other, band), atol=1e-6
    )


def test_dc_term_is_untouched_and_identity_is_identity():
    sh = _coeffs(3)
    np.testing.assert_array_equal(rotate_sh(sh, ROT)[:, 0], sh[:, 0])
    np.testing.assert_allclose(rotate_sh(sh, np.eye(3)), sh, atol=1e-6)


def test_transform_moves_means_and_orientations():
    gs = GaussianSet.from_colors(
        np.float32([[1, 0, 0]]), np.float32([[1, 0, 0, 0]]), np.float32([[0.1, 0.02, 0.03]]),
        np.float32([0.5]), np.float32([[1, 0, 0]]),
    )  # fmt: skip
    moved = transform(gs, ROT, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(moved.means[0], ROT @ [1, 0, 0] + [0.1, 0.2, 0.3], atol=1e-6)
    q = moved.quats[0]
    np.testing.assert_allclose(Rotation.from_quat(q, scalar_first=True).as_matrix(), ROT, atol=1e-6)
    np.testing.assert_array_equal(moved.scales, gs.scales)


def test_rejects_non_rotations():
    gs = GaussianSet.from_colors(
        np.zeros((1, 3)), [[1, 0, 0, 0]], np.ones((1, 3)), [0.5], [[1, 1, 1]]
    )
    with pytest.raises(ValueError, match="proper rotation"):
        transform(gs, np.diag([1.0, 1.0, -1.0]), np.zeros(3))
    with pytest.raises(ValueError, match="proper rotation"):
        transform(gs, 2 * np.eye(3), np.zeros(3))
