"""Demonstration generation: the dataset (made by a SIGKILLed and resumed run) validates and
reads back without duplicates, generation is deterministic, and velocity actions replay the
same motion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cotrain import features
from cotrain.errors import CotrainError
from cotrain.generate import GENERATION_FILE, SlotJob, generate, resolve_envs, run_slot
from cotrain.lerobot import DatasetReader, validate
from cotrain.lerobot.video import decode_frames
from cotrain.staging import STAGING_DIR, Staging
from sim_env import droid
from sim_env.env import EnvConfig, TwinEnv
from sim_env.images import ImageSize
from sim_env.package.schema import Pose
from sim_env.scene import apply_initial_condition

DATA_FILE = "data/chunk-000/file-000.parquet"


def test_dataset_validates_and_reads_back(generated):
    episodes = generated.config.episodes
    summary = validate(generated.dataset)
    assert summary.episodes == episodes
    assert summary.frames == generated.report.frames
    assert summary.tasks == ("put the cube in the bowl",)
    assert summary.video_keys == list(features.IMAGE_KEYS)
    for camera in features.CAMERAS:  # LeRobot v3's video_path for observation.images.<camera>
        video = generated.dataset / f"videos/observation.images.{camera}/chunk-000/file-000.mp4"
        assert video.is_file(), video
    info = json.loads((generated.dataset / "meta/info.json").read_text())
    assert (info["codebase_version"], info["fps"], info["robot_type"]) == ("v3.0", 15, "panda")

    reader = DatasetReader(generated.dataset)
    slots = sorted(generated.staged)[:episodes]
    width, height = generated.config.image_size
    for index, slot in enumerate(slots):
        values, staged = reader.episode(index), generated.staged[slot]
        length = int(reader.episodes.loc[index, "length"])
        for key in (features.ACTIONS, features.VELOCITY_ACTIONS, features.JOINT_POSITION):
            np.testing.assert_array_equal(values[key], staged[key])
        assert len(values[features.ACTIONS]) == length
        for key in features.IMAGE_KEYS:
            assert reader.episode_frames(key, index).shape == (length, height, width, 3)
    streamed = dict(reader.iter_episode_frames(features.image_key(features.EXTERIOR)))
    assert [len(streamed[i]) for i in range(episodes)] == list(reader.episodes["length"])


def test_dataset_features_follow_the_droid_contract(generated):
    info = json.loads((generated.dataset / "meta/info.json").read_text())
    found, size = info["features"], ImageSize(*generated.config.image_size)
    assert info["fps"] == droid.CONTROL_HZ
    for name, spec in droid.observation_specs(dict.fromkeys(droid.IMAGE_KEYS, size)).items():
        camera = name in droid.IMAGE_KEYS
        key = features.image_key(name) if camera else name
        assert tuple(found[key]["shape"]) == spec.shape, key
        assert found[key]["dtype"] == ("video" if camera else spec.dtype), key
    assert not set(droid.IMAGE_KEYS) & set(found)  # no camera under its bare simulator name
    assert tuple(found[features.ACTIONS]["shape"]) == (droid.ACTION_DIM,)
    values = DatasetReader(generated.dataset).episode(0)
    for key, spec in droid.STATE.items():
        assert values[key].dtype == np.dtype(spec.dtype), key


def test_episodes_vary_and_yield_is_recorded(generated):
    episodes = generated.config.episodes
    provenance = json.loads((generated.dataset / GENERATION_FILE).read_text())
    (yield_,) = provenance["yields"]
    assert yield_["kept"] == episodes and yield_["attempted"] >= episodes
    experts = [e["variation"]["expert"] for e in provenance["episodes"]]
    assert len({e["approach_height"] for e in experts}) == episodes
    assert len({tuple(e["variation"]["colour_gain"]) for e in provenance["episodes"]}) == episodes
    actions = [DatasetReader(generated.dataset).episode(i)[features.ACTIONS] for i in range(2)]
    assert len(actions[0]) != len(actions[1]) or not np.allclose(actions[0], actions[1])
    assert not (generated.dataset / STAGING_DIR).exists()


def test_killed_generation_resumed_without_duplicates(generated):
    episodes = generated.config.episodes
    assert 1 <= generated.killed_with < episodes, "the kill should land mid-generation"
    report = generated.report
    assert report.episodes == episodes
    assert report.generated_frames < report.frames  # the killed run's episodes were reused
    slots = [
        e["slot"] for e in json.loads((generated.dataset / GENERATION_FILE).read_text())["episodes"]
    ]
    assert slots == sorted(set(slots)) and len(slots) == episodes
    table = pq.read_table(generated.dataset / DATA_FILE)
    assert table.column("episode_index").unique().to_pylist() == list(range(episodes))
    assert table.column("index").to_pylist() == list(range(report.frames))


def test_generation_is_deterministic(generated, tmp_path):
    """Slot 0 run again in this process equals episode 0 the killed subprocess recorded."""
    (env,) = resolve_envs(generated.config)
    slot = json.loads((generated.dataset / GENERATION_FILE).read_text())["episodes"][0]["slot"]
    again = run_slot(SlotJob(0, slot, env, generated.config, tmp_path))
    reader = DatasetReader(generated.dataset)
    for key, values in again.values().items():
        np.testing.assert_array_equal(values, generated.staged[slot][key])
    for camera in features.CAMERAS:
        frames = np.stack([image for _, image in decode_frames(again.video(camera), 15)])
        np.testing.assert_array_equal(frames, reader.episode_frames(features.image_key(camera), 0))


def test_finished_dataset_is_not_overwritten(generated):
    with pytest.raises(CotrainError, match="finished dataset"):
        generate(generated.dataset, generated.config)


def test_resume_with_other_settings_is_refused(tmp_path):
    Staging(tmp_path).open({"seed": 1, "image_size": [96, 64]})
    with pytest.raises(CotrainError, match="seed") as error:
        Staging(tmp_path).open({"seed": 2, "image_size": [96, 64]})
    assert error.value.field == "seed" and "plan.json" in str(error.value.file)


def test_staging_ignores_and_clears_a_killed_writer(tmp_path):
    staging = Staging(tmp_path)
    staging.open({"seed": 1})
    partial = staging.root / "env00-slot00001.tmp-999"
    partial.mkdir()
    (partial / "episode.json").write_text('{"env_index": 0, "sl')  # killed mid-write
    assert staging.episodes() == {}
    Staging(tmp_path).open({"seed": 1})  # resuming removes it
    assert not partial.exists()


def _replay(package: Path, space: str, actions: np.ndarray, variation: dict) -> np.ndarray:
    """[T, 7] joint positions read before each of ``actions``, from the episode's varied scene."""
    env = TwinEnv(package, EnvConfig(action_space=space, cameras=()))
    env.reset(options={"initial_condition": variation["initial_condition"]})
    own = env.package.spec.initial_conditions[variation["initial_condition"]]
    objects = {name: Pose(pos=pos, quat=quat) for name, (pos, quat) in variation["objects"].items()}
    apply_initial_condition(env.scene, env.data, own.model_copy(update={"objects": objects}))
    joints = []
    for action in actions:
        joints.append(env.observe(images=False)[droid.JOINT_POSITION])
        env.advance(action.astype(np.float64))
    return np.array(joints)


def test_velocity_actions_replay_the_recorded_path(generated):
    """DROID joint velocities, (target - joint_position) / 0.2, replayed through the env's
    joint_velocity controller retrace the recorded joint path."""
    values = DatasetReader(generated.dataset).episode(0)
    variation = json.loads((generated.dataset / GENERATION_FILE).read_text())["episodes"][0][
        "variation"
    ]
    velocities = values[features.VELOCITY_ACTIONS]
    assert np.abs(velocities[:, : droid.ARM_DOF]).max() < droid.JOINT_VELOCITY_LIMIT  # unclipped
    np.testing.assert_allclose(
        velocities[:, : droid.ARM_DOF] * droid.MAX_JOINT_DELTA,
        values[features.ACTIONS][:, : droid.ARM_DOF] - values[features.JOINT_POSITION],
        atol=1e-6,
    )
    recorded = values[features.JOINT_POSITION]
    by_position = _replay(generated.package, "joint_position", values[features.ACTIONS], variation)
    by_velocity = _replay(generated.package, "joint_velocity", velocities, variation)
    assert np.abs(by_position - recorded).max() < 1e-3  # float32 storage of the targets
    assert np.abs(by_velocity - recorded).max() < 1e-3
