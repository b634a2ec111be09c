"""Floaters: a statue-like cluster of Gaussians among strays, clumps and huge blobs keeps all
of its own and loses every floater, in metres and in SfM units alike."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.floaters import (
    Cameras,
    FloaterConfig,
    faint,
    find_floaters,
    in_view,
    isolated,
    neighbour_counts,
    parallax_deg,
    poorly_seen,
    small_pieces,
    unsupported,
)
from reconstruct.units import Units


def statue(count: int = 6000, seed: int = 0) -> np.ndarray:
    """``[count, 3]`` points on a 0.24 m wide, 0.38 m tall cylinder with a lid at (0, 0)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, count)
    z = rng.uniform(0.005, 0.38, count)
    side = np.c_[0.12 * np.cos(angle), 0.12 * np.sin(angle), z]
    radius = 0.12 * np.sqrt(rng.uniform(0, 1, count // 4))
    lid = np.c_[radius * np.cos(angle[: count // 4]), radius * np.sin(angle[: count // 4])]
    return np.r_[side, np.c_[lid, np.full(len(lid), 0.38)]]


def strays(count: int = 80, seed: int = 1) -> np.ndarray:
    """Lone points in the air around the statue, at least 6 cm off it and apart."""
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    while len(found) < count:
        p = rng.uniform([-0.5, -0.5, 0.01], [0.5, 0.5, 0.5])
        if np.hypot(*p[:2]) > 0.18 and all(np.linalg.norm(p - q) > 0.06 for q in found):
            found.append(p)
    return np.array(found)


def clump() -> np.ndarray:
    """A piece of 12 points 1 cm apart, 0.3 m beside the statue (a floater's knot)."""
    return np.array([0.35, 0.1, 0.05]) + 0.01 * np.array(np.meshgrid(*[range(2)] * 2, range(3))).reshape(3, -1).T  # fmt: skip


def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres ``[N, 3]``, scales ``[N, 3]`` and the truth (``[N]``: floater or not)."""
    body, lone, knot = statue(), strays(), clump()
    huge = np.array([[0.05, 0.0, 0.2]])  # a 9 cm blob inside the statue
    means = np.r_[body, lone, knot, huge]
    scales = np.full((len(means), 3), 0.004)
    scales[-1] = (0.09, 0.02, 0.02)
    truth = np.r_[np.zeros(len(body), bool), np.ones(len(lone) + len(knot) + 1, bool)]
    return means, scales, truth


def test_a_statue_keeps_its_gaussians_and_loses_every_floater() -> None:
    means, scales, truth = scene()
    found = find_floaters(means, scales, FloaterConfig())
    assert np.array_equal(found.mask, truth)
    assert (found.huge, found.isolated, found.small) == (1, 80, 12)
    assert found.as_dict() == {
        "removed": 93,
        "huge": 1,
        "faint": 0,
        "poorly_seen": 0,
        "isolated": 80,
        "small_pieces": 12,
    }
    body = means[~found.mask]
    assert np.allclose(np.ptp(body, axis=0), (0.24, 0.24, 0.375), atol=0.01)  # its own size


def test_floaters_are_the_same_in_sfm_units() -> None:
    means, scales, truth = scene()
    per_metre = 7.3
    config = FloaterConfig().in_units(Units(metric=False, per_metre=per_metre))
    found = find_floaters(means * per_metre + 3.0, scales * per_metre, config)
    assert np.array_equal(found.mask, truth)


def test_only_the_judged_centres_are_floaters_or_neighbours() -> None:
    means, scales, truth = scene()
    judged = means[:, 2] > 0.1  # the statue's foot and every stray below 0.1 m are not judged
    found = find_floaters(means, scales, FloaterConfig(), judged)
    assert not found.mask[~judged].any()
    assert np.array_equal(found.mask[judged], truth[judged])
    assert find_floaters(means, None, FloaterConfig()).huge == 0  # points: never huge


def test_the_array_functions() -> None:
    line = np.c_[np.arange(5) * 0.01, np.zeros(5), np.zeros(5)]
    assert neighbour_counts(line, 0.015).tolist() == [1, 2, 2, 2, 1]
    assert isolated(line, 0.015, 2).tolist() == [True, False, False, False, True]
    apart = np.r_[line, line[:1] + [1.0, 0, 0]]
    assert small_pieces(apart, 0.02, 0.5).tolist() == [False] * 5 + [True]
    assert not small_pieces(np.zeros((0, 3)), 0.02, 0.5).any()
    samples = np.array([[0.0, 0.0, 0.001], [0.04, 0.0, 0.001], [0.04, 0.05, 0.0]])
    floats = np.array([True, False, False, False, False])
    assert unsupported(samples, line, floats, 0.03).tolist() == [True, False, True]
    assert not unsupported(samples, line, np.zeros(5, bool), 0.03).any()  # no floaters


def haze(count: int = 400, seed: int = 2) -> np.ndarray:
    """``[count, 3]`` centres of a faint sheet 1 cm apart reaching 0.2 m out from the
    statue's side at 0.2 m high: dense and joined to it, so neither isolated nor a piece."""
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(0.1, 0.32, count), rng.uniform(-0.1, 0.1, count), np.full(count, 0.2)]


def test_a_faint_haze_goes_and_the_statue_keeps_its_faint_gaussians() -> None:
    body, mist = statue(), haze()
    means = np.r_[body, mist]
    opacities = np.r_[np.where(np.arange(len(body)) % 10 == 0, 0.02, 0.9), np.full(len(mist), 0.03)]
    scales = np.full((len(means), 3), 0.004)
    before = find_floaters(means, scales, FloaterConfig(), opacities=None)
    assert not before.mask.any()  # the haze is neither isolated nor a small piece
    found = find_floaters(means, scales, FloaterConfig(), opacities=opacities)
    assert not found.mask[: len(body)].any()  # a tenth of the statue is as faint: it stays
    out = np.linalg.norm(mist[:, :2], axis=1) > 0.12 + FloaterConfig().radius
    assert found.mask[len(body) :][out].all() and found.faint == found.mask.sum() >= out.sum()
    off = find_floaters(means, scales, FloaterConfig(min_opacity=0.0), opacities=opacities)
    assert not off.mask.any()
    assert faint(means[:0], opacities[:0], 0.05, 0.02, 3).shape == (0,)


def ring(count: int, radius: float, height: float, fov_deg: float, size=(640, 480)) -> Cameras:
    """``count`` cameras on a ring about the z axis, each looking at (0, 0, 0.2)."""
    viewmats = []
    for angle in np.linspace(0, 2 * np.pi, count, endpoint=False):
        eye = np.array([radius * np.cos(angle), radius * np.sin(angle), height])
        forward = np.array([0.0, 0.0, 0.2]) - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])  # rows: camera x, y, z in the world
        viewmat = np.eye(4)
        viewmat[:3, :3], viewmat[:3, 3] = rotation, -rotation @ eye
        viewmats.append(viewmat)
    focal = size[0] / 2 / np.tan(np.radians(fov_deg) / 2)
    k = np.array([[focal, 0, size[0] / 2], [0, focal, size[1] / 2], [0, 0, 1]])
    return Cameras(np.array(viewmats), np.tile(k, (count, 1, 1)), np.tile(size, (count, 1)))


def test_a_spire_no_camera_framed_goes_and_the_statue_stays() -> None:
    """A dense spire rising from the statue's lid to 1.5 m, above every training camera's
    frustum (a ring 1 m out, 0.5 m up, 60 degrees wide): joined to the statue, it is
    neither isolated nor a piece; no camera saw it, so it goes."""
    body = statue()
    spire = np.c_[np.zeros(300), np.zeros(300), np.linspace(0.39, 1.5, 300)]
    means = np.r_[body, spire]
    scales = np.full((len(means), 3), 0.004)
    cameras = ring(8, 1.0, 0.5, 60.0)
    assert np.allclose(cameras.centres[0], (1.0, 0.0, 0.5))
    assert not find_floaters(means, scales, FloaterConfig()).mask.any()
    found = find_floaters(means, scales, FloaterConfig(), cameras=cameras)
    seen = in_view(spire, cameras).any(axis=1)
    assert not found.mask[: len(body)].any()
    assert np.array_equal(found.mask[len(body) :], ~seen) and found.unseen == (~seen).sum() > 100
    off = FloaterConfig(min_views=0)
    assert not find_floaters(means, scales, off, cameras=cameras).mask.any()


def test_views_and_parallax() -> None:
    cameras = ring(4, 1.0, 0.2, 60.0)  # at 0, 90, 180, 270 degrees, level with (0, 0, 0.2)
    points = np.array([[0.0, 0.0, 0.2], [3.0, 0.0, 0.2], [0.0, 0.0, 5.0]])
    seen = in_view(points, cameras)
    assert seen[0].all()  # the middle: every camera
    assert seen[1].tolist() == [False, False, True, False]  # behind camera 0, ahead of 2 only
    assert not seen[2].any()  # above them all
    widest = parallax_deg(points, cameras.centres, seen)
    assert widest[0] == pytest.approx(180.0) and widest[1] == widest[2] == 0.0
    # two cameras a centimetre apart see a point 1 m away from one place (0.57 degrees)
    pair = ring(1, 1.0, 0.2, 60.0)
    near = Cameras(
        np.r_[pair.viewmats, pair.viewmats], np.r_[pair.K, pair.K], np.r_[pair.sizes, pair.sizes]
    )
    near.viewmats[1, :3, 3] -= near.viewmats[1, :3, :3] @ np.array([0.0, 0.01, 0.0])
    middle = points[:1]
    assert parallax_deg(middle, near.centres, in_view(middle, near))[0] == pytest.approx(
        np.degrees(np.arctan(0.01)), rel=0.01
    )
    assert poorly_seen(middle, near, 1, 5.0).tolist() == [True]
    assert poorly_seen(middle, near, 1, 0.0).tolist() == [False]
    assert poorly_seen(middle, near, 3, 0.0).tolist() == [True]  # two views, three asked


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"radius": 0.0}, "floaters.radius"),
        ({"link": -1.0}, "floaters.link"),
        ({"min_share": 1.5}, "floaters.min_share"),
        ({"min_neighbours": -1}, "floaters.min_neighbours"),
        ({"min_opacity": 1.5}, "floaters.min_opacity"),
        ({"min_views": -1}, "floaters.min_views"),
        ({"min_parallax_deg": 180.0}, "floaters.min_parallax_deg"),
    ],
)
def test_bad_settings_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ReconstructError) as error:
        FloaterConfig(**kwargs)
    assert error.value.field == field
