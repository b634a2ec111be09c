"""Painting the background dome from frames: a known panorama, filmed by cameras inside its
dome, is painted back; what no frame saw is filled, never left black."""

from __future__ import annotations

import numpy as np

from reconstruct.background import MIN_TRUST, DomeConfig, dome_around, paint, push_pull
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat
from sim_env.envmap import EnvironmentMap, background_image, texel_directions

CENTRE = np.array([0.4, 0.1, 0.05])
RADIUS = 3.0


def known_dome(height: int = 64) -> EnvironmentMap:
    """A panorama with smooth colours and a fine stripe pattern (so blur shows)."""
    d = texel_directions(height)
    lon = np.arctan2(d[..., 1], d[..., 0])
    stripes = 0.5 + 0.5 * np.sin(12 * lon) * np.cos(3 * np.arcsin(d[..., 2]))
    rgb = np.stack([0.5 + 0.4 * d[..., 0], stripes, 0.5 + 0.4 * d[..., 2]], -1)
    return EnvironmentMap(
        rgb.astype(np.float32), np.ones((height, 2 * height), np.float32), CENTRE, RADIUS
    )


def filmed(dome: EnvironmentMap, eye: np.ndarray, target: np.ndarray, size=(96, 64)) -> View:
    """A frame of the dome from ``eye`` looking at ``target`` (the dome is the whole world)."""
    rot = quat_to_mat(look_at(eye, target))  # camera -> world
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = rot.T, -rot.T @ eye
    k = np.array([[60.0, 0, size[0] / 2], [0, 60.0, size[1] / 2], [0, 0, 1]])
    image = background_image(dome, view, k, *size)[..., :3]
    return View("frame", image, k, view)


def test_a_known_panorama_is_painted_back_from_frames_inside_its_dome() -> None:
    dome = known_dome()
    eyes = [CENTRE + [0.5 * np.cos(a), 0.5 * np.sin(a), 0.3] for a in np.linspace(0, 5, 10)]
    views = [filmed(dome, eye, eye + [np.cos(a), np.sin(a), -0.2]) for eye, a in
             zip(eyes, np.linspace(0, 5, 10) + 2.0, strict=True)]  # fmt: skip
    painted = paint(views, CENTRE, RADIUS, 64)
    seen = painted.seen > 0
    assert 0.1 < seen.mean() < 0.9  # the frames saw part of the dome, not all of it
    error = np.abs(painted.rgb - dome.rgb)[seen]
    assert np.median(error) < 0.02 and np.percentile(error, 95) < 0.1
    # What no frame saw is filled from what they did: no black, within the seen colours.
    unseen = painted.rgb[~seen]
    assert unseen.min() >= dome.rgb[seen].min() - 1e-3 and unseen.max() <= 1.0
    assert (unseen.sum(axis=-1) > 0.3).all()


def test_frames_outside_their_view_add_nothing() -> None:
    dome = known_dome(32)
    eye = CENTRE + [0.2, 0.0, 0.2]
    views = [filmed(dome, eye, eye + [1.0, 0.0, 0.0])]
    painted = paint(views, CENTRE, RADIUS, 32)
    d = texel_directions(32)
    behind = d[..., 0] < -0.5  # behind the only camera
    assert not (painted.seen[behind] > 0).any()
    assert (painted.seen[(d[..., 0] > 0.95)] > 0).all()


def test_push_pull_keeps_known_texels_and_fills_the_rest_smoothly() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.uniform(size=(16, 32, 3)).astype(np.float32)
    known = np.zeros((16, 32), np.float32)
    known[:, :8] = 1.0
    filled = push_pull(rgb * known[..., None], known)
    assert np.allclose(filled[:, :8], rgb[:, :8])
    assert filled[:, 8:].min() >= rgb[:, :8].min() and filled[:, 8:].max() <= rgb[:, :8].max()
    flat = push_pull(np.full((8, 16, 3), 0.3, np.float32) * known[:8, :16, None], known[:8, :16])
    assert np.allclose(flat, 0.3, atol=1e-5)
    assert np.allclose(push_pull(rgb, np.zeros((16, 32), np.float32)), 0.5)


def test_the_dome_encloses_every_camera() -> None:
    cameras = CENTRE + np.array([[0.5, 0, 0.3], [0, -1.2, 0.4]])
    radius = dome_around(CENTRE, cameras, DomeConfig(radius_factor=2.0))
    assert np.isclose(radius, 2.0 * np.linalg.norm([0, -1.2, 0.4]))


def test_pixels_behind_opaque_splats_give_way_to_frames_that_saw_the_background() -> None:
    dome = known_dome(32)
    eye = CENTRE + [0.1, 0.0, 0.1]
    seeing = filmed(dome, eye, eye + [1.0, 0.0, 0.0])
    blocked = View("blocked", np.full_like(seeing.image, 0.9), seeing.K, seeing.viewmat)
    trust = [np.ones(seeing.image.shape[:2]), np.full(seeing.image.shape[:2], MIN_TRUST)]
    painted = paint([seeing, blocked], CENTRE, RADIUS, 32, trust)
    seen = painted.seen > 0
    error = np.abs(painted.rgb - dome.rgb)[seen]
    assert np.median(error) < 0.05  # the foreground adds at most MIN_TRUST / (1 + MIN_TRUST)
    untrusted = paint([seeing, blocked], CENTRE, RADIUS, 32)  # an even mix
    assert np.median(np.abs(untrusted.rgb - dome.rgb)[seen]) > 0.1
