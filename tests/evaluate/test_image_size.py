"""One non-square size, 96x64 (WIDTHxHEIGHT), through every entry point that takes a size:
each must hand its consumer (64, 96, 3) images, never the transpose."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

import sim_env
from cotrain.features import droid_features, image_key
from cotrain.generate import GenerateConfig
from evaluate.bundle import load_bundle, save_bundle
from evaluate.cli_eval import parse_image_size
from evaluate.policies import make_policy, register_policy_scheme
from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from evaluate.run import EvalConfig
from sim_env import ImageSize, SimEnvError
from studies.fidelity import EpisodePlan
from twinbench_cli import app

ENV_ID = "primitive_cube_bowl"
TEXT = "96x64"
SIZE = ImageSize(width=96, height=64)
SHAPE = (64, 96, 3)
CAMERAS = ("exterior_image_1_left", "wrist_image_left")


def test_image_size_text_shape_and_file_order() -> None:
    assert ImageSize.parse(TEXT) == SIZE and str(SIZE) == TEXT and SIZE.shape == SHAPE
    assert SIZE.height_width == (64, 96) and ImageSize.from_height_width([64, 96]) == SIZE
    assert ImageSize.coerce((96, 64)) == ImageSize.coerce(TEXT) == SIZE
    for bad in ("96", "96x", "x64", "0x64", "96x-1", "big", "96.5x64"):
        with pytest.raises(SimEnvError, match="WIDTHxHEIGHT") as info:
            ImageSize.parse(bad, field="--size")
        assert info.value.field == "--size"
    with pytest.raises(SimEnvError, match=r"\[height, width\]"):
        ImageSize.from_height_width([64])
    with pytest.raises(SimEnvError, match="width must be an integer"):
        ImageSize(True, 64)  # type: ignore[arg-type]


def test_sim_env_make(tmp_path: Path) -> None:
    for given in (SIZE, TEXT, (96, 64)):
        env = sim_env.make(ENV_ID, image_size=given, renderer="mujoco")
        assert env.config.image_size == SIZE
        assert {env.observation_space[c].shape for c in env.camera_names} == {SHAPE}
    obs, _ = env.reset(seed=0)
    env.close()
    assert {obs[c].shape for c in env.camera_names} == {SHAPE}


def test_env_render_cli(tmp_path: Path) -> None:
    out = tmp_path / "preview.png"
    args = ["env", "render", ENV_ID, "-o", str(out), "--size", TEXT, "--renderer", "mujoco"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    row = np.asarray(Image.open(out))
    assert row.shape == (64, 96 * len(CAMERAS), 3)  # the cameras side by side


class ShapeProbe(Policy):
    """Records the image shapes it is shown; holds the arm still."""

    seen: ClassVar[list[dict[str, tuple[int, ...]]]] = []

    def __init__(self, argument: str = ""):
        self._metadata = PolicyMetadata(policy_id="probe", image_keys=CAMERAS, chunk_length=8)

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        pass

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        ShapeProbe.seen.append({key: image.shape for key, image in obs.images.items()})
        hold = np.concatenate([obs.joint_position, [0.0]])
        return ActionChunk(np.tile(hold, (8, 1)), "joint_position")


def test_eval_cli_image_size(tmp_path: Path) -> None:
    register_policy_scheme("sizeprobe", ShapeProbe, replace=True)
    ShapeProbe.seen.clear()
    args = ["eval", "-e", ENV_ID, "-p", "sizeprobe", "-n", "1", "-o", str(tmp_path)]
    args += ["--workers", "0", "--max-steps", "1", "--image-size", TEXT]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert ShapeProbe.seen == [dict.fromkeys(CAMERAS, SHAPE)]
    assert parse_image_size(TEXT) == SIZE and EvalConfig(("e",), ("p",), 1, image_size=TEXT)
    assert EpisodePlan(("p",), 1, image_size=TEXT).image_size == SIZE  # twinbench fidelity


def test_openpi_query_string_is_width_by_height(serve, fake_policy, make_obs) -> None:
    served = fake_policy()  # the DROID default, 224x224, overridden by the spec
    server = serve(served)
    with make_policy(f"openpi://127.0.0.1:{server.port}?image_size={TEXT}") as policy:
        assert policy.metadata.image_size == SIZE
        policy.infer(make_obs(height=180, width=320), "go")
    (obs, _), *_ = served.seen
    assert {image.shape for image in obs.images.values()} == {SHAPE}


def test_server_metadata_frame_round_trips_the_size(serve, fake_policy, make_obs) -> None:
    served = fake_policy(image_size=SIZE)  # travels as [height, width] in the metadata frame
    server = serve(served)
    with make_policy(f"openpi://127.0.0.1:{server.port}") as policy:
        assert policy.metadata.image_size == SIZE
        policy.infer(make_obs(height=180, width=320), "go")
    (obs, _), *_ = served.seen
    assert {image.shape for image in obs.images.values()} == {SHAPE}


PROBE_SOURCE = """
import numpy as np
from evaluate.policy import ActionChunk, Policy

class Probe(Policy):
    def __init__(self, config, weights):
        self.config, self.seen = config, []

    @property
    def metadata(self):
        return self.config.metadata()

    def reset(self):
        pass

    def infer(self, obs, instruction):
        self.seen.append({key: image.shape for key, image in obs.images.items()})
        hold = np.concatenate([obs.joint_position, obs.gripper_position])
        return ActionChunk(np.tile(hold, (2, 1)), "joint_position")
"""


def test_bundle_config(tmp_path: Path, make_obs) -> None:
    source = tmp_path / "size_probe.py"
    source.write_text(textwrap.dedent(PROBE_SOURCE))
    config = {
        "action_space": "joint_position",
        "image_keys": list(CAMERAS),
        "image_size": SIZE,
        "chunk_length": 2,
        "open_loop_horizon": 2,
    }
    bundle = save_bundle(tmp_path / "b", "size_probe:Probe", config, {}, sources=[source])
    assert yaml.safe_load((bundle / "policy.yaml").read_text())["image_size"] == [64, 96]
    policy = load_bundle(bundle)
    assert policy.config.image_size == SIZE == policy.metadata.image_size
    policy.infer(make_obs(height=180, width=320), "go")
    assert policy.inner.seen == [dict.fromkeys(CAMERAS, SHAPE)]


def test_lerobot_features_and_generate_config() -> None:
    features = droid_features(SIZE)
    assert {tuple(features[image_key(c)]["shape"]) for c in CAMERAS} == {SHAPE}
    config = GenerateConfig(envs=(ENV_ID,), episodes=1, image_size=TEXT)
    assert config.image_size == SIZE


def test_dashboard_preview_size() -> None:
    from dashboard.gallery import PREVIEW_SIZE

    assert isinstance(PREVIEW_SIZE, ImageSize)  # the submit form takes no size
