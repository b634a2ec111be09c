"""The scripted policy ladder: spec parsing, privileged-only inference, seeded reproducibility,
and the expert actually solving the bundled task."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import sim_env
from evaluate.errors import EvaluateError
from evaluate.policies import make_policy
from evaluate.policies.scripted import (
    LADDER,
    ScriptedConfig,
    ScriptedPolicy,
    ladder_specs,
    parse_scripted,
)
from evaluate.policy import DROID_IMAGE_KEYS, Observation, PolicyError
from evaluate.privileged import PrivilegedPolicy, SimTask, expert_task, pick_place_task
from evaluate.rollout import run_episode
from sim_env.errors import EnvPackageError

ENV_ID = "primitive_cube_bowl"


@pytest.fixture(scope="module")
def env():
    environment = sim_env.make(ENV_ID, cameras=())
    yield environment
    environment.close()


def test_spec_levels_and_overrides():
    assert parse_scripted("") == LADDER["expert"]
    assert parse_scripted("fair") == LADDER["fair"]
    config = parse_scripted("fair, noise=0.01,delay=3,joint_speed=0.8")
    assert config.noise == 0.01 and config.delay == 3
    assert config.grasp_offset == LADDER["fair"].grasp_offset
    assert config.expert.joint_speed == 0.8
    assert parse_scripted("noise=0.02") == ScriptedConfig(noise=0.02)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("fiar", "did you mean 'fair'"),
        ("noize=0.1", "did you mean 'noise'"),
        ("noise", "expected noise=VALUE"),
        ("fair,noise", "expected KEY=VALUE"),
        ("delay=1.5", "expected int"),
        ("hesitate=1.0", "[0, 1)"),
        ("noise=-1", ">= 0"),
        ("images=maybe", "expected flag"),
    ],
)
def test_bad_specs_say_why(argument, expected):
    with pytest.raises(EvaluateError) as info:
        parse_scripted(argument)
    assert expected in str(info.value)


def test_registered_scheme_and_ladder():
    policy = make_policy("scripted:noise=0.02")
    assert isinstance(policy, ScriptedPolicy) and isinstance(policy, PrivilegedPolicy)
    assert policy.metadata.policy_id == "scripted:noise=0.02"
    assert policy.metadata.image_keys == ()  # reads poses, not pixels
    assert make_policy("scripted:good,images=1").metadata.image_keys == DROID_IMAGE_KEYS
    assert ladder_specs() == tuple(f"scripted:{level}" for level in LADDER)
    assert len(ladder_specs()) >= 5


def test_plain_infer_refuses_without_privileged_state():
    policy = make_policy("scripted")
    obs = Observation(np.zeros(7), np.zeros(1))
    with pytest.raises(PolicyError, match="privileged"):
        policy.infer(obs, "put the cube in the bowl")


def test_task_comes_from_the_rubric(env):
    assert pick_place_task(env.package.spec) == ("cube", "bowl")


def _chunks(env, spec: str, seed: int, n: int = 4) -> list[np.ndarray]:
    policy = make_policy(spec)
    sim_obs, _ = env.reset(options={"initial_condition": 1})
    policy.reset()
    policy.begin_episode(SimTask(env.scene, env.package.spec, seed))
    chunks = []
    for _ in range(n):
        chunk = policy.infer_privileged(
            Observation.from_dict(sim_obs), env.instruction, env.privileged_state()
        )
        chunks.append(chunk.actions)
        for action in chunk.actions:
            env.advance(action)
        sim_obs = env.observe(images=False)
    return chunks


def test_same_seed_same_actions_other_seed_differs(env):
    spec = "scripted:poor"
    first, again = _chunks(env, spec, seed=7), _chunks(env, spec, seed=7)
    other = _chunks(env, spec, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert first[0].shape == (LADDER["poor"].horizon, 8)


def test_delay_holds_then_replays_the_expert(env):
    plain = np.concatenate(_chunks(env, "scripted", seed=0, n=2))
    delayed = np.concatenate(_chunks(env, "scripted:delay=3", seed=0, n=2))
    np.testing.assert_allclose(delayed[:3, :7], np.tile(delayed[0, :7], (3, 1)))
    np.testing.assert_allclose(delayed[3:6], plain[:3])


def test_expert_solves_the_bundled_task(env):
    policy = make_policy("scripted:expert")
    for condition in (0, 5):
        result = run_episode(env, policy, initial_condition=condition, seed=condition)
        assert result.success and result.failure_kind is None, result
        assert result.length_steps < 120


def test_expert_touches_what_it_cannot_grasp():
    # The bundled real scan's one object (the Buddha head, 20 cm wide) has a reach rubric:
    # the scripted policies touch its top, gripper open, and hold there
    touch = sim_env.make("buddha_tabletop", cameras=())
    try:
        assert expert_task(touch.package.spec) == ("buddha_head", None)
        result = run_episode(touch, make_policy("scripted:expert"), initial_condition=0, seed=0)
        assert result.success and result.failure_kind is None, result
        state = touch.privileged_state()
        assert state["tcp_pos"][2] > 0.2  # above the 21 cm head, not into it
    finally:
        touch.close()
    lift_only = SimpleNamespace(
        name="x", rubric=SimpleNamespace(criteria=[SimpleNamespace(kind="lift", params={})])
    )
    with pytest.raises(EnvPackageError, match="or a reach criterion naming an object"):
        expert_task(lift_only)
