"""The rollout loop: a broken policy or simulation fails its episode (with the reason) and
never the caller; a simulation that blows up ends it as diverged, not as a policy failure;
images are rendered only at chunk boundaries; privileged state reaches
privileged policies only; videos are H.264 at 15 fps."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest

import sim_env
from evaluate.policies import make_policy
from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from evaluate.rollout import RolloutConfig, run_episode
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord
from sim_env.scene import PhysicsConfig

ENV_ID = "primitive_cube_bowl"


class HoldPolicy(Policy):
    """Holds the arm where it is; ``mode`` breaks it in one of the ways real policies break."""

    def __init__(self, mode: str = "ok", image_keys: tuple[str, ...] = (), chunk: int = 8):
        self.mode, self.chunk = mode, chunk
        self.release = threading.Event()
        self.seen: list[Observation] = []
        self._metadata = PolicyMetadata(policy_id=f"hold-{mode}", image_keys=image_keys)

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        pass

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        self.seen.append(obs)
        hold = np.concatenate([obs.joint_position, [0.0]])
        actions = np.tile(hold, (self.chunk, 1))
        if self.mode == "crash":
            raise RuntimeError("segfault in the policy, probably")
        if self.mode == "hang":
            self.release.wait(30)
        if self.mode == "nan":
            actions[2, 3] = np.nan
        if self.mode == "shape":
            actions = actions[:, :7]
        if self.mode == "array":
            return actions  # type: ignore[return-value]
        if self.mode == "wave":  # large, fast joint targets: fine at the default timestep
            actions[:, :7] += 0.5 * np.sin(np.arange(self.chunk) / 2)[:, None]
        if self.mode == "velocity":
            return ActionChunk(actions * 0, "joint_velocity")
        return ActionChunk(actions, "joint_position")


@pytest.fixture(scope="module")
def env():
    environment = sim_env.make(ENV_ID, cameras=())
    yield environment
    environment.close()


def episode(condition: int = 0, seed: int = 0) -> dict[str, int]:
    return {"initial_condition": condition, "seed": seed}


@pytest.mark.parametrize(
    ("mode", "kind", "reason"),
    [
        ("crash", "policy", "RuntimeError: segfault in the policy"),
        ("hang", "timeout", "did not return within 0.5 s"),
        ("nan", "policy", "non-finite value"),
        ("shape", "policy", "shape (H>=1, 8)"),
        ("array", "policy", "must return an ActionChunk"),
        ("velocity", "policy", "'joint_velocity'"),
    ],
)
def test_broken_policy_fails_the_episode_not_the_run(env, mode, kind, reason):
    config = RolloutConfig(infer_timeout_s=0.5, max_steps=16)
    policy = HoldPolicy(mode)
    result = run_episode(env, policy, **episode(), config=config)
    policy.release.set()
    assert result.failure_kind == kind and reason in result.failure_reason, result.failure_reason
    assert not result.success and result.length_steps == 0
    healthy = run_episode(
        env, HoldPolicy(), **episode(seed=1), config=config
    )  # the env is still usable
    assert healthy.failure_kind is None and healthy.length_steps == 16


def test_bad_initial_condition_is_a_sim_failure(env):
    result = run_episode(
        env, HoldPolicy(), **episode(condition=99), config=RolloutConfig(max_steps=4)
    )
    assert result.failure_kind == "sim" and "initial_condition 99" in result.failure_reason
    assert result.progress == 0.0 and result.criteria == {}


def test_diverging_simulation_ends_the_episode_as_diverged():
    """A 30 ms timestep is too long for the arm's PD loop: MuJoCo resets the state on a bad
    acceleration and carries on, which used to record a normal episode from a reset world."""
    unstable = sim_env.make(ENV_ID, cameras=(), physics=PhysicsConfig(timestep=0.03))
    try:
        result = run_episode(
            unstable, HoldPolicy("wave"), **episode(), config=RolloutConfig(max_steps=60)
        )
        healthy = run_episode(
            unstable, HoldPolicy(), **episode(seed=1), config=RolloutConfig(max_steps=8)
        )
    finally:
        unstable.close()
    assert result.failure_kind == "diverged" and not result.success, result.failure_reason
    assert 0 < result.length_steps < 60
    assert result.failure_reason.startswith(f"simulation diverged at step {result.length_steps}:")
    assert "mjWARN_BADQACC" in result.failure_reason
    assert not result.counts  # the simulator's failure, not the policy's: left out of rates
    assert healthy.failure_kind is None and healthy.length_steps == 8  # the next episode runs


def test_result_fields_and_store_record(env):
    result = run_episode(env, make_policy("scripted"), **episode(2, 2))
    assert isinstance(result, EpisodeOutcome) and result.counts
    assert result.success and result.progress == 1.0 and result.failure_reason is None
    assert set(result.criteria) == {"reach_cube", "lift_cube", "cube_in_bowl", "release"}
    assert all(
        step is not None and step <= result.length_steps for step in result.criteria.values()
    )
    assert 0 < result.latency_mean_s <= result.latency_max_s < result.wall_time_s
    key = EpisodeKey("scripted", ENV_ID, env.package.content_hash, 2, 2)
    record = EpisodeRecord("run-1", key, result)
    assert EpisodeRecord.from_row(record.row()) == record


def test_images_rendered_only_at_chunk_boundaries():
    cams = sim_env.make(ENV_ID, image_size=(32, 24))
    renders = []
    images = cams.images
    cams.images = lambda: renders.append(cams.steps) or images()
    policy = HoldPolicy(image_keys=cams.camera_names)
    try:
        result = run_episode(cams, policy, **episode(), config=RolloutConfig(max_steps=20))
    finally:
        cams.close()
    assert result.length_steps == 20
    assert renders == [0, 8, 16]  # reset, then one per new chunk
    assert [obs.images["wrist_image_left"].shape for obs in policy.seen] == [(24, 32, 3)] * 3


def test_privileged_state_only_for_privileged_policies(env):
    calls = []
    original = env.privileged_state
    env.privileged_state = lambda: calls.append(env.steps) or original()
    try:
        run_episode(env, HoldPolicy(), **episode(), config=RolloutConfig(max_steps=24))
        learned = list(calls)
        calls.clear()
        run_episode(env, make_policy("scripted"), **episode(), config=RolloutConfig(max_steps=24))
    finally:
        del env.privileged_state
    assert learned == [0]  # only reset's own info dict, never for the policy
    assert calls == [0, 0, 8, 16]  # reset's info, then once per chunk


def test_video_is_h264_at_15_fps(tmp_path):
    cams = sim_env.make(ENV_ID, image_size=(48, 32))
    path = tmp_path / "videos" / "episode.mp4"
    try:
        result = run_episode(
            cams, HoldPolicy(), **episode(), config=RolloutConfig(max_steps=10), video_path=path
        )
    finally:
        cams.close()
    assert result.video_path == str(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264" and stream.average_rate == 15
    assert len(frames) == 11 and (frames[0].width, frames[0].height) == (96, 32)


def test_no_video_file_when_the_episode_never_starts(env, tmp_path):
    path = tmp_path / "never.mp4"
    result = run_episode(env, HoldPolicy(), **episode(condition=99), video_path=path)
    assert result.video_path is None and not path.exists()
