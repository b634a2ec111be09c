"""Floaters: a statue-like cluster of Gaussians among strays, clumps and huge blobs keeps all
of its own and loses every floater, in metres and in SfM units alike."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.floaters import (
    FloaterConfig,
    find_floaters,
    isolated,
    neighbour_counts,
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
    assert found.as_dict() == {"removed": 93, "huge": 1, "isolated": 80, "small_pieces": 12}
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


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"radius": 0.0}, "floaters.radius"),
        ({"link": -1.0}, "floaters.link"),
        ({"min_share": 1.5}, "floaters.min_share"),
        ({"min_neighbours": -1}, "floaters.min_neighbours"),
    ],
)
def test_bad_settings_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ReconstructError) as error:
        FloaterConfig(**kwargs)
    assert error.value.field == field
