"""The pure geometry against known transforms and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from reconstruct.geometry import (
    Similarity,
    angle_between_deg,
    camera_centres,
    fit_plane,
    frame_from_axes,
    ransac_plane,
    triangulate,
    umeyama,
)


def random_similarity(seed: int) -> Similarity:
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed).as_matrix()
    return Similarity(float(rng.uniform(0.1, 10)), rotation, rng.normal(size=3) * 5)


@pytest.mark.parametrize("seed", range(5))
def test_umeyama_recovers_a_known_similarity(seed: int) -> None:
    truth = random_similarity(seed)
    src = np.random.default_rng(seed + 100).normal(size=(20, 3))
    fit = umeyama(src, truth.apply(src))
    assert fit.scale == pytest.approx(truth.scale, rel=1e-10)
    np.testing.assert_allclose(fit.rotation, truth.rotation, atol=1e-10)
    np.testing.assert_allclose(fit.translation, truth.translation, atol=1e-9)


def test_umeyama_with_noise_and_rigid_mode() -> None:
    truth = random_similarity(7)
    rng = np.random.default_rng(1)
    src = rng.normal(size=(500, 3))
    dst = truth.apply(src) + rng.normal(scale=1e-3, size=(500, 3))
    assert umeyama(src, dst).scale == pytest.approx(truth.scale, rel=1e-3)
    rigid = Similarity(1.0, truth.rotation, truth.translation)
    fit = umeyama(src, rigid.apply(src), with_scale=False)
    assert fit.scale == 1.0
    np.testing.assert_allclose(fit.rotation, truth.rotation, atol=1e-9)


def test_umeyama_refuses_collinear_points() -> None:
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="collinear"):
        umeyama(line, line)


def test_similarity_inverse_and_matrix_agree() -> None:
    sim = random_similarity(3)
    pts = np.random.default_rng(0).normal(size=(10, 3))
    np.testing.assert_allclose(sim.inverse().apply(sim.apply(pts)), pts, atol=1e-10)
    homog = np.c_[pts, np.ones(len(pts))] @ sim.matrix().T
    np.testing.assert_allclose(homog[:, :3], sim.apply(pts), atol=1e-10)


def test_camera_centres_map_to_the_camera_origin() -> None:
    rotations = Rotation.random(4, random_state=2).as_matrix()
    translations = np.random.default_rng(2).normal(size=(4, 3))
    poses = np.concatenate([rotations, translations[:, :, None]], axis=2)
    centres = camera_centres(poses)
    in_camera = np.einsum("nij,nj->ni", rotations, centres) + translations
    np.testing.assert_allclose(in_camera, 0.0, atol=1e-12)


def test_ransac_plane_finds_a_tilted_plane_among_outliers() -> None:
    rng = np.random.default_rng(5)
    normal = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    basis = frame_from_axes(normal, [1.0, 0.0, 0.0])
    on_plane = rng.uniform(-1, 1, size=(800, 2)) @ basis[:2] + 0.5 * normal
    on_plane += rng.normal(scale=1e-3, size=on_plane.shape)
    outliers = rng.uniform(-1, 1, size=(400, 3))
    plane, inliers = ransac_plane(np.r_[on_plane, outliers], threshold=5e-3)
    assert (
        angle_between_deg(plane.normal, normal) < 0.1
        or angle_between_deg(-plane.normal, normal) < 0.1
    )
    assert inliers[:800].mean() > 0.95
    assert inliers[800:].mean() < 0.05
    exact = fit_plane(on_plane)
    assert abs(exact.distance(on_plane)).max() < 5e-3


def test_frame_from_axes_is_a_rotation_with_the_given_z() -> None:
    rot = frame_from_axes([0.0, 1.0, 1.0], [1.0, 0.0, 0.3])
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    np.testing.assert_allclose(rot[2], np.array([0.0, 1.0, 1.0]) / np.sqrt(2), atol=1e-12)
    assert rot[0, 0] > 0.9  # x keeps the hint's direction


def test_triangulate_recovers_a_point_seen_from_several_views() -> None:
    point = np.array([0.2, -0.1, 3.0])
    rotations = Rotation.from_euler("y", [[-20], [0], [25]], degrees=True).as_matrix()
    centres = np.array([[-1.0, 0.0, 0.0], [0.0, 0.2, 0.0], [1.0, 0.0, 0.1]])
    poses = np.array([np.c_[r, -r @ c] for r, c in zip(rotations, centres, strict=True)])
    in_cam = np.einsum("nij,j->ni", poses[:, :, :3], point) + poses[:, :, 3]
    normalized = in_cam[:, :2] / in_cam[:, 2:]
    np.testing.assert_allclose(triangulate(poses, normalized), point, atol=1e-9)
