"""The Policy interface's value types, the chunk broker, the spec registry and image resizing."""

from __future__ import annotations

import numpy as np
import pytest
from openpi_client import image_tools

from evaluate.errors import EvaluateError
from evaluate.policies import make_policy, policy_schemes, register_policy_scheme
from evaluate.policies.openpi import OpenpiConfig
from evaluate.policy import (
    ActionChunk,
    ChunkBroker,
    Observation,
    PolicyError,
    PolicyMetadata,
    binarize_gripper,
)
from sim_env.images import ImageSize, resize_with_pad


def test_valid_chunk_is_float64_and_read_only() -> None:
    chunk = ActionChunk(np.zeros((10, 8), dtype=np.float32), "joint_velocity")
    assert chunk.actions.dtype == np.float64 and chunk.horizon == 10
    with pytest.raises(ValueError):
        chunk.actions[0, 0] = 1.0


@pytest.mark.parametrize(
    ("actions", "reason"),
    [
        (np.full((10, 8), np.nan), r"non-finite value \(nan\) at step 0, column 0"),
        (np.concatenate([np.zeros((4, 8)), np.full((1, 8), np.inf)]), "non-finite.*step 4"),
        (np.zeros((10, 7)), r"shape \(H>=1, 8\), got \(10, 7\)"),
        (np.zeros(8), r"got \(8,\)"),
        (np.zeros((0, 8)), r"got \(0, 8\)"),
        (np.zeros((10, 8), dtype=np.int64), "floating point, got dtype int64"),
        (np.zeros((10, 8), dtype=object), "floating point, got dtype object"),
        ([[0.0] * 8], "numpy array, got list"),
    ],
    ids=["nan", "inf", "wrong-dim", "1d", "empty", "int", "object", "list"],
)
def test_bad_actions_raise_policy_error_with_reason(actions: object, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        ActionChunk(actions, "joint_position")


def test_policy_error_is_an_evaluate_error_and_carries_the_traceback() -> None:
    error = PolicyError("server failed", remote_traceback="Traceback ...")
    assert isinstance(error, EvaluateError) and error.remote_traceback == "Traceback ..."


def test_unknown_action_space_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown action space"):
        ActionChunk(np.zeros((1, 8)), "cartesian")
    with pytest.raises(EvaluateError, match="unknown action space"):
        PolicyMetadata("p", action_space="cartesian")


def test_observation_checks_shapes_and_from_dict(obs: Observation) -> None:
    flat = {"joint_position": obs.joint_position, "gripper_position": 0.5, **obs.images}
    rebuilt = Observation.from_dict(flat)
    assert set(rebuilt.images) == set(obs.images) and rebuilt.gripper_position.shape == (1,)
    with pytest.raises(ValueError, match="joint_position must have 7"):
        Observation(np.zeros(6), np.zeros(1))
    with pytest.raises(ValueError, match="uint8"):
        Observation(np.zeros(7), np.zeros(1), {"cam": np.zeros((4, 4, 3), dtype=np.float32)})


def test_metadata_validates_and_freezes() -> None:
    meta = PolicyMetadata("p", image_size=ImageSize(128, 96), image_keys=["a"], extra={"k": 1})
    assert meta.image_size == ImageSize(width=128, height=96) and meta.image_keys == ("a",)
    assert PolicyMetadata("p", image_size="128x96").image_size == meta.image_size
    with pytest.raises(EvaluateError, match="ambiguous"):
        PolicyMetadata("p", image_size=(96, 128))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        meta.extra["k"] = 2  # type: ignore[index]
    with pytest.raises(EvaluateError, match="open_loop_horizon"):
        PolicyMetadata("p", open_loop_horizon=0)


def test_binarize_gripper_thresholds_only_the_last_column() -> None:
    actions = np.array([[0.3] * 7 + [0.49], [0.7] * 7 + [0.51]])
    snapped = binarize_gripper(actions, 0.5)
    np.testing.assert_array_equal(snapped[:, -1], [0.0, 1.0])
    np.testing.assert_array_equal(snapped[:, :7], actions[:, :7])
    assert actions[1, -1] == 0.51  # input untouched


def test_chunk_broker_executes_horizon_actions_per_chunk(fake_policy, obs, expected) -> None:
    policy = fake_policy(open_loop_horizon=4)
    broker = ChunkBroker(policy)
    broker.reset()
    executed = [broker.act(obs, "go") for _ in range(9)]
    assert len(policy.seen) == 3  # steps 0, 4 and 8 ask the policy
    np.testing.assert_allclose(executed[:4], expected(obs)[:4])
    np.testing.assert_allclose(executed[4], expected(obs)[0])
    executed[0][0] = 99.0  # callers may modify what they get
    broker.reset()
    assert policy.resets == 2 and broker.chunk_exhausted


def test_chunk_broker_replaces_a_chunk_shorter_than_the_horizon(fake_policy, obs) -> None:
    broker = ChunkBroker(fake_policy(), horizon=25)  # chunks have 10 actions
    for _ in range(21):
        broker.act(obs, "go")
    assert len(broker.policy.seen) == 3


def test_unknown_scheme_lists_valid_ones_and_suggests(tmp_path) -> None:
    with pytest.raises(EvaluateError, match=r"valid: .*bundle.*openpi.*Did you mean 'openpi'"):
        make_policy("opnepi://127.0.0.1:8000")
    with pytest.raises(EvaluateError, match=f"bundle:{tmp_path}"):
        make_policy(str(tmp_path))


def test_registered_scheme_gets_the_argument(fake_policy) -> None:
    received = []

    def factory(argument: str):
        received.append(argument)
        return fake_policy(policy_id=f"scripted:{argument}")

    register_policy_scheme("scripted_test", factory)
    try:
        assert make_policy("scripted_test:noise=0.1,seed=3").metadata.policy_id == (
            "scripted:noise=0.1,seed=3"
        )
        make_policy("scripted_test")
        assert received == ["noise=0.1,seed=3", ""]
        assert "scripted_test" in policy_schemes()
        with pytest.raises(ValueError, match="already registered"):
            register_policy_scheme("scripted_test", factory)
    finally:
        register_policy_scheme("scripted_test", factory, replace=True)
    with pytest.raises(ValueError, match="lowercase identifier"):
        register_policy_scheme("Bad-Name", factory)


def test_openpi_spec_parsing() -> None:
    config = OpenpiConfig.from_spec(
        "openpi://10.0.0.2:8000?api_key=s3cret&horizon=5&action_space=joint_velocity"
        "&image_size=320x180&timeout=2.5&retries=0&gripper=off"
    )
    assert (config.host, config.port, config.api_key) == ("10.0.0.2", 8000, "s3cret")
    assert config.open_loop_horizon == 5 and config.action_space == "joint_velocity"
    assert config.image_size == ImageSize(width=320, height=180) and config.timeout_s == 2.5
    assert config.retries == 0 and config.gripper_threshold is None
    assert OpenpiConfig.from_spec("openpi://[::1]:9000").uri == "ws://[::1]:9000"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("openpi://localhost", "must look like openpi://HOST:PORT"),
        ("openpi://:8000", "must look like"),
        ("openpi://h:99999", "bad port"),
        ("openpi://h:1?horizn=8", r"unknown option\(s\) \['horizn'\]"),
        ("openpi://h:1?horizon=0", "positive integer"),
        ("openpi://h:1?action_space=eef", "expected one of"),
        ("openpi://h:1?timeout=-1", "must be > 0"),
        ("openpi://h:1?image_size=224", "WIDTHxHEIGHT"),
        ("openpi://h:1?image_size=0x10", "WIDTHxHEIGHT"),
    ],
)
def test_bad_openpi_specs(spec: str, message: str) -> None:
    with pytest.raises(EvaluateError, match=message):
        make_policy(spec)


@pytest.mark.parametrize(
    ("height", "width", "target"),
    [(720, 1280, (224, 224)), (90, 160, (224, 224)), (300, 200, (224, 224)),
     (181, 333, (96, 128)), (224, 224, (224, 224)), (50, 50, (224, 100))],
)  # fmt: skip
def test_resize_with_pad_matches_openpi(height: int, width: int, target: tuple[int, int]) -> None:
    rng = np.random.default_rng(height * width)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    ours = resize_with_pad(image, *target)
    theirs = image_tools.resize_with_pad(image, *target)
    assert ours.shape == theirs.shape == (*target, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_every_exported_name_resolves() -> None:
    import evaluate.policies

    for name in evaluate.policies.__all__:
        assert getattr(evaluate.policies, name) is not None
