"""Jittered copies of a world's initial conditions: small, seeded, collision-free, paired by
index with the original's (the twin's success probability near a condition)."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.package import load_package
from sim_env.registry import resolve_env
from sim_env.scene import build_scene, check_initial_conditions
from sim_env.variation import quat_mul
from studies.fidelity import VariantError
from studies.fidelity.conditions import Jitter, jitter_condition, write_jittered

WORLD = "primitive_cube_bowl"


@pytest.fixture(scope="module")
def package():
    return load_package(resolve_env(WORLD))


def _yaw(quat: tuple[float, ...], base: tuple[float, ...]) -> float:
    """The turn about the vertical taking ``base`` to ``quat`` [rad]."""
    w, _, _, z = quat_mul(np.asarray(quat), np.asarray(base) * [1, -1, -1, -1])
    return float(2 * np.arctan2(z, w))


def test_a_jitter_is_small_seeded_and_moves_objects_and_arm(package):
    scene, base = build_scene(package), package.spec.initial_conditions[3]
    jitter = Jitter(object_shift=0.004, object_yaw=0.03, arm=0.02)
    drawn = [
        jitter_condition(np.random.default_rng([1, k]), scene, base, jitter) for k in range(20)
    ]
    again = jitter_condition(np.random.default_rng([1, 0]), scene, base, jitter)
    assert again == drawn[0]  # pure: the generator decides
    assert drawn[1] != drawn[0]
    for condition in drawn:
        arm = np.subtract(condition.arm_qpos, base.arm_qpos)
        assert 0 < np.abs(arm).max() <= 0.02
        for name, pose in base.objects.items():
            shift = np.subtract(condition.objects[name].pos, pose.pos)
            assert 0 < np.abs(shift[:2]).max() <= 0.004 and shift[2] == 0
            assert 0 < abs(_yaw(condition.objects[name].quat, pose.quat)) <= 0.03 + 1e-9
    assert condition.gripper == base.gripper


def test_a_jitter_that_cannot_be_placed_is_one_error(package):
    scene, base = build_scene(package), package.spec.initial_conditions[0]
    with pytest.raises(VariantError, match=r"no collision-free jitter .* in 0 draws"):
        jitter_condition(np.random.default_rng(0), scene, base, Jitter(placement_attempts=0))


def test_jittered_copies_pair_with_the_original_by_index(package, tmp_path):
    copies = write_jittered(package, 2, seed=5, root=tmp_path)
    assert [c.root for c in copies] == [tmp_path / "jitter-1", tmp_path / "jitter-2"]
    own = package.spec.initial_conditions
    for copy in copies:
        conditions = copy.spec.initial_conditions
        assert len(conditions) == len(own) and copy.name == package.name
        check_initial_conditions(build_scene(copy), copy)  # nothing interpenetrates
        for mine, theirs in zip(conditions, own, strict=True):
            for name, pose in theirs.objects.items():  # near its own condition, not another
                assert np.abs(np.subtract(mine.objects[name].pos, pose.pos)).max() <= 0.005
    assert copies[0].spec.initial_conditions != copies[1].spec.initial_conditions
    again = write_jittered(package, 2, seed=5, root=tmp_path)  # same bytes: a re-run resumes
    assert [c.content_hash for c in again] == [c.content_hash for c in copies]
