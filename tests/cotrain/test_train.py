"""train-demo: a few CPU steps give a bundle that loads, infers a chunk and runs an episode."""

from __future__ import annotations

import numpy as np
import pytest

from cotrain import features
from cotrain.lerobot import DatasetReader
from cotrain.train import TrainConfig, train_demo
from evaluate.bundle import load_bundle
from evaluate.policies import make_policy
from evaluate.policy import Observation
from evaluate.rollout import RolloutConfig, run_episode
from sim_env.env import EnvConfig, TwinEnv

CONFIG = TrainConfig(steps=4, batch_size=4, horizon=10, log_every=2)


@pytest.fixture(scope="module")
def bundle(generated, tmp_path_factory):
    lines: list[str] = []
    result = train_demo(
        generated.dataset, tmp_path_factory.mktemp("bundle") / "demo", CONFIG, lines.append
    )
    assert result.steps == 4 and np.isfinite(result.final_loss) and len(lines) == 2
    return result.bundle


def test_bundle_loads_and_infers_a_chunk(bundle, generated):
    policy = load_bundle(bundle)
    assert policy.metadata.chunk_length == CONFIG.horizon
    assert policy.metadata.image_keys == features.CAMERAS
    reader = DatasetReader(generated.dataset)
    values = reader.episode(0)
    obs = Observation(
        values[features.JOINT_POSITION][0],
        values[features.GRIPPER_POSITION][:1],
        {c: reader.episode_frames(features.image_key(c), 0)[0] for c in features.CAMERAS},
    )
    chunk = policy.infer(obs, "put the cube in the bowl")
    assert chunk.actions.shape == (CONFIG.horizon, 8)
    assert np.isfinite(chunk.actions).all()
    assert set(np.unique(chunk.actions[:, 7])) <= {0.0, 1.0}


def test_bundle_runs_an_episode_through_the_rollout(bundle, generated):
    env = TwinEnv(generated.package, EnvConfig(image_size=(96, 64)))
    policy = make_policy(f"bundle:{bundle}")
    config = RolloutConfig(max_steps=16)
    result = run_episode(env, policy, initial_condition=3, seed=0, config=config)
    assert result.failure_kind is None, result.failure_reason
    assert result.length_steps == 16
    reached = [step for step in result.criteria.values() if step is not None]
    assert result.criteria and all(0 <= step <= result.length_steps for step in reached)
    assert result.progress == pytest.approx(len(reached) / len(result.criteria))
    assert result.success == (len(reached) == len(result.criteria))
