"""A bundle is known by its files, not only its path: a checkpoint retrained in place starts a
new run instead of resuming (or adopting) the episodes of the checkpoint it replaced; the same
files elsewhere, or Python's caches of its code, change nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evaluate.bundle import bundle_digest
from evaluate.errors import EvaluateError
from evaluate.policies import policy_fingerprint
from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, run_evaluation
from evaluate.store import ResultsStore
from tests.evaluate.test_bundle import _save
from tests.store_backends import edit_store

INLINE = Execution(workers=0)


def _config(bundle: Path) -> EvalConfig:
    rollout = RolloutConfig(max_steps=6, infer_timeout_s=5.0)
    return EvalConfig(
        envs=("primitive_cube_bowl",), policies=(f"bundle:{bundle}",), episodes=2, rollout=rollout
    )


def test_the_digest_follows_the_files(tmp_path):
    bundle = _save(tmp_path / "ckpt")
    digest = bundle_digest(bundle)
    assert bundle_digest(shutil.copytree(bundle, tmp_path / "copy")) == digest
    assert bundle_digest(bundle / "policy.yaml") == digest
    (bundle / "__pycache__").mkdir()
    (bundle / "__pycache__" / "linear_policy.cpython-311.pyc").write_bytes(b"\x00cache")
    assert bundle_digest(bundle) == digest
    assert policy_fingerprint(f"bundle:{bundle}") == policy_fingerprint(f"sandboxed:{bundle}")
    assert bundle_digest(_save(bundle, seed=1)) != digest  # retrained in place
    assert policy_fingerprint("scripted:good") is None
    with pytest.raises(EvaluateError, match=r"no policy\.yaml") as caught:
        policy_fingerprint(f"bundle:{tmp_path / 'missing'}")
    assert str(tmp_path / "missing") in str(caught.value)


def test_a_checkpoint_retrained_in_place_is_evaluated_again(tmp_path):
    bundle = _save(tmp_path / "ckpt")
    first = run_evaluation(_config(bundle), tmp_path, INLINE)
    again = run_evaluation(_config(bundle), tmp_path, INLINE)
    assert (again.run_id, again.already_done) == (first.run_id, 2)  # unchanged: resumed
    _save(bundle, seed=1)
    retrained = run_evaluation(_config(bundle), tmp_path, INLINE)
    assert retrained.run_id != first.run_id
    assert (retrained.already_done, len(retrained.report.outcomes)) == (0, 2)
    with ResultsStore.open(first.store) as store:
        documents = {run.run_id: run.config for run in store.runs()}
    assert documents[first.run_id]["policy_hashes"] != documents[retrained.run_id]["policy_hashes"]


def _forget_digests(store_path: Path, run_id: str) -> None:
    """Make ``run_id`` the run of a store written before runs kept their bundles' digests."""
    with ResultsStore.open(store_path) as store:
        document = dict(store.run(run_id).config)
    legacy = {k: v for k, v in document.items() if k != "policy_hashes"}
    legacy["identity"] = "eval-legacy"
    edit_store(
        store_path,
        f"UPDATE runs SET config = '{json.dumps(legacy)}', run_id = 'eval-legacy'",
        "UPDATE episodes SET run_id = 'eval-legacy'",
    )


def test_a_run_recorded_before_policy_hashes_is_trusted(tmp_path):
    """Stores written before runs kept the digests (every committed study) still resume:
    their episodes are adopted by spec, as they always were."""
    bundle = _save(tmp_path / "ckpt")
    first = run_evaluation(_config(bundle), tmp_path, INLINE)
    _forget_digests(first.store, first.run_id)
    resumed = run_evaluation(_config(bundle), tmp_path, INLINE)
    assert resumed.run_id == first.run_id  # the identity it has today; the legacy run's differs
    assert (resumed.already_done, len(resumed.report.outcomes)) == (2, 0)


def test_an_undated_run_is_not_trusted_once_a_retraining_is_on_record(tmp_path):
    """An old store holds an undated run (no digests) and a dated one; the bundle has since
    been retrained in place: neither run's episodes are this checkpoint's."""
    bundle = _save(tmp_path / "ckpt")
    first = run_evaluation(_config(bundle), tmp_path, INLINE)
    _forget_digests(first.store, first.run_id)
    _save(bundle, seed=1)
    dated = run_evaluation(_config(bundle), tmp_path, INLINE)  # the undated run is trusted
    assert (dated.already_done, len(dated.report.outcomes)) == (2, 0)
    _save(bundle, seed=2)
    retrained = run_evaluation(_config(bundle), tmp_path, INLINE)
    assert retrained.run_id not in {first.run_id, dated.run_id}
    assert (retrained.already_done, len(retrained.report.outcomes)) == (0, 2)
