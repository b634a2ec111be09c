"""bundle: checkpoints: save -> load -> infer, and every way policy.yaml or the files can be wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from evaluate.bundle import BundlePolicy, load_bundle, parse_config, save_bundle
from evaluate.entry_points import load_entry_class
from evaluate.errors import EvaluateError
from evaluate.policies import make_policy
from evaluate.policies.openpi import OpenpiConfig, OpenpiPolicy
from evaluate.policy import PolicyError

FIXTURES = Path(__file__).parent / "test_bundle_fixtures"
SOURCE = FIXTURES / "linear_policy.py"
ENTRY = "linear_policy:LinearPolicy"
STD = np.full(8, 2.0)
CONFIG = {
    "action_space": "joint_position",
    "image_keys": ["exterior_image_1_left"],
    "image_size": (64, 64),
    "chunk_length": 4,
    "open_loop_horizon": 2,
    "normalization": {"state": {"mean": np.zeros(8), "std": STD}},
    "params": {"note": "test"},
}


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "linear.weight": rng.normal(size=(32, 8)).astype(np.float32),
        "linear.bias": rng.normal(size=32).astype(np.float32),
    }


def _expected(obs, weights: dict[str, np.ndarray], binarize: bool = True) -> np.ndarray:
    state = np.concatenate([obs.joint_position, obs.gripper_position]) / (STD + 1e-8)
    actions = (
        weights["linear.weight"] @ state.astype(np.float32) + weights["linear.bias"]
    ).reshape(4, 8)
    if binarize:
        actions[:, -1] = actions[:, -1] > 0.5
    return actions


def _save(directory: Path, seed: int = 0, **overrides: object) -> Path:
    return save_bundle(directory, ENTRY, {**CONFIG, **overrides}, _weights(seed), sources=[SOURCE])


def _edit_yaml(directory: Path, **changes: object) -> Path:
    file = directory / "policy.yaml"
    raw = yaml.safe_load(file.read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    file.write_text(yaml.safe_dump(raw))
    return directory


def test_torch_bundle_save_load_infer(tmp_path: Path, obs) -> None:
    import torch

    weights = {name: torch.from_numpy(array) for name, array in _weights(0).items()}
    save_bundle(tmp_path / "b", ENTRY, CONFIG, weights, sources=[SOURCE])
    assert yaml.safe_load((tmp_path / "b" / "policy.yaml").read_text())["framework"] == "torch"
    with make_policy(f"bundle:{tmp_path / 'b'}") as policy:
        assert isinstance(policy.inner.weight, torch.Tensor)
        meta = policy.metadata
        assert (meta.policy_id, meta.image_keys, meta.image_size) == (
            "b",
            ("exterior_image_1_left",),
            (64, 64),
        )
        assert (meta.chunk_length, meta.open_loop_horizon) == (4, 2)
        policy.reset()
        assert policy.inner.episodes == 1
        chunk = policy.infer(obs, "go")
    np.testing.assert_allclose(chunk.actions, _expected(obs, _weights(0)), rtol=1e-5, atol=1e-5)
    assert policy.inner.config.params == {"note": "test"}


def test_numpy_bundles_shipping_the_same_module_stay_apart(tmp_path: Path, obs) -> None:
    first = load_bundle(_save(tmp_path / "one", seed=1, gripper_threshold=None))
    second = load_bundle(_save(tmp_path / "two", seed=2, gripper_threshold=None) / "policy.yaml")
    assert type(first.inner) is not type(second.inner)
    for policy, seed in ((first, 1), (second, 2)):
        expected = _expected(obs, _weights(seed), binarize=False)
        np.testing.assert_allclose(policy.infer(obs, "go").actions, expected, atol=1e-5)


def test_entry_point_from_an_installed_distribution(tmp_path: Path) -> None:
    from studies.locator.policy import LocatePickPlacePolicy

    entry = "studies.locator.policy:LocatePickPlacePolicy"  # the fidelity ladder's
    assert load_entry_class(entry, tmp_path, file=tmp_path / "policy.yaml") is LocatePickPlacePolicy


def test_module_only_on_sys_path_is_not_trusted(tmp_path: Path, monkeypatch) -> None:
    """Code that is neither shipped nor installed (e.g. in the directory the command runs
    from) is refused, before it is imported."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    save_bundle(tmp_path, ENTRY, CONFIG, _weights(0))
    with pytest.raises(EvaluateError, match="nor part of an installed distribution"):
        load_bundle(tmp_path)


def _outside_module(tmp_path: Path) -> Path:
    """A module outside any bundle that records, in a file, whether it ever ran."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evilmod.py").write_text(
        f"from pathlib import Path\nPath({str(outside / 'ran')!r}).write_text('yes')\n"
    )
    return outside


@pytest.mark.parametrize(
    "entry_point",
    ["{outside}/evilmod:Evil", "../outside/evilmod:Evil", "evil-mod:Evil", "class.x:Evil"],
)
def test_entry_point_that_is_a_path_never_runs(tmp_path: Path, entry_point: str) -> None:
    outside = _outside_module(tmp_path)
    bundle = _save(tmp_path / "bundle")
    _edit_yaml(bundle, entry_point=entry_point.format(outside=outside))
    with pytest.raises(EvaluateError, match="not a dotted Python module name") as info:
        load_bundle(bundle)
    assert info.value.field == "entry_point"
    assert not (outside / "ran").exists()


def test_shipped_module_linking_out_of_the_bundle_never_runs(tmp_path: Path) -> None:
    outside = _outside_module(tmp_path)
    bundle = _save(tmp_path / "bundle")
    (bundle / "evilmod.py").symlink_to(outside / "evilmod.py")
    _edit_yaml(bundle, entry_point="evilmod:Evil")
    with pytest.raises(EvaluateError, match="links outside the bundle"):
        load_bundle(bundle)
    assert not (outside / "ran").exists()


def test_served_bundle_matches_the_local_one(tmp_path: Path, obs, serve) -> None:
    local = load_bundle(_save(tmp_path))
    server = serve(load_bundle(tmp_path))
    with OpenpiPolicy(OpenpiConfig("127.0.0.1", server.port, timeout_s=5)) as remote:
        assert (
            remote.metadata.image_size == (64, 64)
            and remote.metadata.policy_id == local.metadata.policy_id
        )
        np.testing.assert_allclose(remote.infer(obs, "go").actions, local.infer(obs, "go").actions)


@pytest.mark.parametrize(
    "field", ["entry_point", "action_space", "chunk_length", "open_loop_horizon"]
)
def test_missing_required_field_names_file_and_field(tmp_path: Path, field: str) -> None:
    _edit_yaml(_save(tmp_path), **{field: None})
    with pytest.raises(EvaluateError, match="required field is missing") as info:
        load_bundle(tmp_path)
    assert info.value.file == str(tmp_path / "policy.yaml") and info.value.field == field


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"chunk_length": "ten"}, "chunk_length", "expected int"),
        ({"chunk_length": True}, "chunk_length", "expected int"),
        ({"open_loop_horizon": 9}, "open_loop_horizon", "<= chunk_length 4"),
        ({"action_space": "eef"}, "action_space", "expected one of"),
        ({"image_size": [64]}, "image_size", r"\[height, width\]"),
        ({"entry_point": "linear_policy.LinearPolicy"}, "entry_point", "module:Class"),
        ({"framework": "jax"}, "framework", "expected one of"),
        ({"open_loop_horizn": 8}, "open_loop_horizn", "Did you mean 'open_loop_horizon'"),
        ({"format_version": 2}, "format_version", "reads version 1"),
        ({"normalization": {"state": {"mean": [0.0]}}}, "normalization.state", "'mean' and 'std'"),
        ({"image_size": [60000, 60000]}, "image_size", r"in 1\.\.8192"),
        ({"chunk_length": 10**12}, "chunk_length", r"expected 1\.\.10000"),
        ({"gripper_threshold": float("nan")}, "gripper_threshold", r"in \[0, 1\]"),
    ],
)
def test_invalid_fields_are_named(tmp_path: Path, changes: dict, field: str, message: str) -> None:
    _edit_yaml(_save(tmp_path), **changes)
    with pytest.raises(EvaluateError, match=message) as info:
        load_bundle(tmp_path)
    assert info.value.field == field and info.value.file.endswith("policy.yaml")


def test_pickle_weights_are_refused(tmp_path: Path) -> None:
    _save(tmp_path)
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "model.pt").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(EvaluateError, match=r"refusing pickle-based .*extra/model.pt.*safetensors"):
        load_bundle(tmp_path)


def test_corrupt_safetensors_names_the_file(tmp_path: Path) -> None:
    _save(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(EvaluateError, match="unreadable safetensors") as info:
        load_bundle(tmp_path)
    assert info.value.file.endswith("model.safetensors")


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        ("no_such_module:LinearPolicy", "'no_such_module' is neither shipped"),
        (
            "linear_policy:Missing",
            r"'Missing' not found .* Policy classes there: \['LinearPolicy'\]",
        ),
        ("linear_policy:NotAPolicy", "not a Policy subclass"),
    ],
)
def test_unknown_entry_point_is_a_clear_error(
    tmp_path: Path, entry_point: str, message: str
) -> None:
    _edit_yaml(_save(tmp_path), entry_point=entry_point)
    with pytest.raises(EvaluateError, match=message) as info:
        load_bundle(tmp_path)
    assert info.value.field == "entry_point"


def test_entry_class_failure_is_reported(tmp_path: Path) -> None:
    save_bundle(tmp_path, ENTRY, CONFIG, {"wrong": np.zeros(1)}, sources=[SOURCE])
    with pytest.raises(EvaluateError, match=r"LinearPolicy\(config, weights\) failed: KeyError"):
        load_bundle(tmp_path)


def test_not_a_bundle_and_bad_config_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(EvaluateError, match=r"no policy\.yaml"):
        make_policy(f"bundle:{tmp_path}")
    with pytest.raises(EvaluateError, match="needs a path"):
        make_policy("bundle:")
    with pytest.raises(EvaluateError, match="chunk_length"):
        save_bundle(tmp_path / "new", ENTRY, {**CONFIG, "chunk_length": 0}, _weights(0))
    assert not (tmp_path / "new").exists()


def test_bundle_wrapper_enforces_action_space_and_cameras(tmp_path: Path, fake_policy, obs) -> None:
    config = parse_config(
        {"entry_point": ENTRY, **CONFIG, "action_space": "joint_velocity"}, tmp_path
    )
    with pytest.raises(
        PolicyError, match=r"returned joint_position actions; policy\.yaml declares"
    ):
        BundlePolicy(config, fake_policy()).infer(obs, "go")
    config = parse_config({"entry_point": ENTRY, **CONFIG, "image_keys": ["top"]}, tmp_path)
    with pytest.raises(EvaluateError, match="reads cameras"):
        BundlePolicy(config, fake_policy()).infer(obs, "go")


def test_entry_class_crash_in_infer_is_a_policy_error(tmp_path: Path, fake_policy, obs) -> None:
    config = parse_config({"entry_point": ENTRY, **CONFIG}, tmp_path)
    with pytest.raises(PolicyError, match="exploded") as info:
        BundlePolicy(config, fake_policy(mode="raise")).infer(obs, "go")
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", r"SyntaxError in linear_policy\.py line 1"),
        ("import no_such_dependency_xyz\n", r"No module named 'no_such_dependency_xyz' \(linear_"),
        ("x = 1\nraise RuntimeError('boom at import')\n", r"RuntimeError: boom at import \(linear"),
    ],
    ids=["syntax", "missing-import", "raises"],
)
def test_shipped_code_that_does_not_import_is_one_clear_error(tmp_path, source, message):
    bundle = _save(tmp_path)
    (bundle / "linear_policy.py").write_text(source)
    with pytest.raises(EvaluateError, match=message) as info:
        load_bundle(bundle)
    assert info.value.field == "entry_point" and len(str(info.value).splitlines()) == 1
