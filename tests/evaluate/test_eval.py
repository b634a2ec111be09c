"""Evaluation runs: episodes follow the initial conditions in order, the same seed gives the
same results, resuming neither duplicates nor loses episodes, policy failures and setup
errors never stop a run, and the summary's intervals are Wilson's."""

from __future__ import annotations

import itertools
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from evaluate.errors import EvaluateError
from evaluate.metrics import wilson_interval
from evaluate.policies import make_policy, register_policy_scheme
from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from evaluate.rollout import RolloutConfig
from evaluate.run import (
    EnvInfo,
    EvalConfig,
    Execution,
    describe_envs,
    plan_tasks,
    run_config,
    run_evaluation,
    summarize,
    summary_table,
)
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore
from sim_env.errors import SimEnvError
from sim_env.registry import resolve_env
from twinbench_cli import app

ENV_ID = "primitive_cube_bowl"
INLINE = Execution(workers=0)
SHORT = RolloutConfig(max_steps=30, infer_timeout_s=1.0)


def config(*policies: str, episodes: int = 3, seed: int = 0, **fields) -> EvalConfig:
    fields = {"envs": (ENV_ID,), **fields}
    return EvalConfig(policies=policies, episodes=episodes, seed=seed, rollout=SHORT, **fields)


def episodes_of(store_path, run_id=None):
    with ResultsStore.open(store_path, create=False) as store:
        return store.episodes(run_id=run_id)


def test_plan_follows_initial_conditions_in_order():
    envs = {"a": EnvInfo("a", "hash-a", 10, Path("a")), "b": EnvInfo("b", "hash-b", 4, Path("b"))}
    cfg = EvalConfig(envs=("a", "b"), policies=("p", "q"), episodes=12, seed=5)
    keys = [task.key for task in plan_tasks(cfg, envs)]
    assert len(keys) == 2 * 2 * 12
    cell = [k for k in keys if (k.policy_id, k.env_id) == ("q", "a")]
    assert [k.initial_condition for k in cell] == [*range(10), 0, 1]
    assert [k.seed for k in cell] == list(range(5, 17))
    assert [k.initial_condition for k in keys if k.env_id == "b"][:6] == [0, 1, 2, 3, 0, 1]
    assert len(set(keys)) == len(keys) and {k.env_hash for k in cell} == {"hash-a"}


def test_run_identity_follows_the_config():
    envs = describe_envs([ENV_ID])
    same = run_config(config("scripted"), envs)["identity"]
    assert run_config(config("scripted"), envs)["identity"] == same
    assert run_config(config("scripted", seed=1), envs)["identity"] != same
    assert run_config(config("scripted", episodes=4), envs)["identity"] != same


def test_records_every_episode_and_resume_skips_them(tmp_path):
    cfg = config("scripted", "scripted:bad", episodes=3)
    first = run_evaluation(cfg, tmp_path, INLINE)
    assert (first.planned, first.already_done, len(first.report.outcomes)) == (6, 0, 6)
    frame = episodes_of(first.store)
    assert len(frame) == 6 and set(frame["run_id"]) == {first.run_id}
    again = run_evaluation(cfg, tmp_path, INLINE)
    assert again.run_id == first.run_id and again.already_done == 6
    assert not again.report.outcomes and len(episodes_of(first.store)) == 6
    fresh = run_evaluation(cfg, tmp_path, Execution(workers=0, resume=False))
    assert fresh.run_id == f"{first.run_id}-2" and len(fresh.report.outcomes) == 6


def test_a_new_policy_list_runs_only_the_new_policy(tmp_path):
    """A study that adds a policy takes the episodes an earlier run recorded under the same
    settings instead of running them again; other settings run everything."""
    first = run_evaluation(config("scripted", episodes=2), tmp_path, INLINE)
    wider = run_evaluation(config("scripted", "scripted:bad", episodes=3), tmp_path, INLINE)
    assert wider.run_id != first.run_id
    assert (wider.planned, wider.already_done, len(wider.report.outcomes)) == (6, 2, 4)
    frame = episodes_of(wider.store, wider.run_id)
    columns = ["policy_id", "seed", "success", "progress", "length_steps", "criteria"]
    mine = frame[frame["seed"] < 2].sort_values(["policy_id", "seed"])[columns]
    assert set(mine["policy_id"]) == {"scripted", "scripted:bad"}
    taken = episodes_of(first.store, first.run_id)[columns].reset_index(drop=True)
    assert mine[mine["policy_id"] == "scripted"].reset_index(drop=True).equals(taken)
    other = run_evaluation(config("scripted", episodes=2, image_size="64x48"), tmp_path, INLINE)
    assert other.already_done == 0 and len(other.report.outcomes) == 2  # rendered otherwise
    fresh = run_evaluation(
        config("scripted:bad", episodes=1), tmp_path, Execution(workers=0, resume=False)
    )
    assert fresh.already_done == 0  # a fresh run (resume=False) takes nothing


def test_a_moved_run_directory_takes_its_episodes_by_content(tmp_path):
    """The same package at another path (a study's worlds in a copied run directory) is the
    same episode: the new run takes it under its own env id."""
    first, second = (shutil.copytree(resolve_env(ENV_ID), tmp_path / d / ENV_ID) for d in "ab")
    store = tmp_path / "results.sqlite"
    ran = run_evaluation(
        config("scripted", episodes=2, envs=(str(first),)), tmp_path, INLINE, store=store
    )
    moved = run_evaluation(
        config("scripted", episodes=2, envs=(str(second),)), tmp_path, INLINE, store=store
    )
    assert (ran.already_done, moved.already_done, len(moved.report.outcomes)) == (0, 2, 0)
    assert set(episodes_of(store, moved.run_id)["env_id"]) == {str(second)}


def test_same_seed_same_results(tmp_path):
    cfg = config("scripted:poor", episodes=4, seed=3)
    runs = [run_evaluation(cfg, tmp_path, Execution(workers=0, resume=False)) for _ in range(2)]
    columns = ["initial_condition", "seed", "success", "progress", "length_steps", "criteria"]
    first, second = (episodes_of(r.store, r.run_id)[columns] for r in runs)
    assert first.equals(second)
    assert list(first["initial_condition"]) == [0, 1, 2, 3]  # episode k: condition k mod n
    assert list(first["seed"]) == [3, 4, 5, 6]  # episode k: seed + k


class _Flaky(Policy):
    """Holds still; crashes on every other call, or (the first "hangs" instance) hangs."""

    hang_next = True

    def __init__(self, mode: str):
        self.mode, self.calls = mode, itertools.count()
        self.hang = mode == "hangs" and _Flaky.hang_next
        _Flaky.hang_next = _Flaky.hang_next and not self.hang
        self._metadata = PolicyMetadata(policy_id=mode, image_keys=())

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        pass

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        call = next(self.calls)
        if self.mode == "crashy" and call % 2:
            raise RuntimeError("flaky inference")
        if self.hang:
            threading.Event().wait(60)
        hold = np.concatenate([obs.joint_position, [0.0]])
        return ActionChunk(np.tile(hold, (8, 1)), "joint_position")


@pytest.fixture
def flaky_schemes():
    _Flaky.hang_next = True
    register_policy_scheme("flakytest", _Flaky, replace=True)
    yield


def test_crashing_and_hanging_policies_fail_episodes_not_the_run(tmp_path, flaky_schemes):
    cfg = config("flakytest:crashy", "flakytest:hangs", "scripted", episodes=3)
    result = run_evaluation(cfg, tmp_path, INLINE)
    frame = episodes_of(result.store).set_index(["policy_id", "seed"])
    assert len(frame) == 9 and not result.report.setup_errors
    assert frame.loc[("flakytest:crashy", 0), "failure_reason"].endswith("flaky inference")
    hung = frame.loc[("flakytest:hangs", 0), "failure_reason"]
    assert "did not return within 1 s" in hung
    later = frame.loc[[("flakytest:hangs", 1), ("flakytest:hangs", 2)], "failure_reason"]
    assert later.isna().all()  # the hung instance was dropped, a fresh one took over
    assert frame.xs("scripted")["failure_reason"].isna().all()


def test_unloadable_policy_is_reported_and_left_for_resume(tmp_path):
    dead = "openpi://127.0.0.1:9?retries=0&timeout=1"
    cfg = config(dead, "scripted", episodes=2)
    result = run_evaluation(cfg, tmp_path, INLINE)
    assert len(result.report.setup_errors) == 1 and dead in result.report.setup_errors[0]
    assert result.report.not_run == 2
    assert set(episodes_of(result.store)["policy_id"]) == {"scripted"}


def test_summary_leaves_out_and_shows_diverged_and_errored_episodes(tmp_path):
    with ResultsStore.open(tmp_path / "results.sqlite") as store:
        store.add_run({}, run_id="r")
        outcomes = [
            EpisodeOutcome(True, 1.0, {}, 5, 1.0, 0.1, 0.1),
            EpisodeOutcome(False, 0.5, {}, 5, 1.0, 0.1, 0.1),
            EpisodeOutcome(False, 0.0, {}, 3, 1.0, 0.1, 0.1, "diverged", "simulation diverged"),
        ]
        for seed, outcome in enumerate(outcomes):
            store.record_episode(EpisodeRecord("r", EpisodeKey("p", "e", "h", 0, seed), outcome))
        store.record_episode(
            EpisodeRecord(
                "r", EpisodeKey("q", "e", "h", 0, 0), EpisodeOutcome.aborted("error", "x")
            )
        )
        frame = summarize(store, "r").set_index("policy")
    assert frame.loc["p", ["episodes", "successes", "diverged", "errored"]].tolist() == [2, 1, 1, 0]
    assert frame.loc["p", "success_rate"] == 0.5 and frame.loc["p", "progress_mean"] == 0.75
    assert frame.loc["q", "episodes"] == 0 and np.isnan(frame.loc["q", "success_rate"])
    assert np.isnan(frame.loc["q", "ci_low"]) and frame.loc["q", "errored"] == 1
    console = Console(record=True, width=200)
    console.print(summary_table(frame.reset_index()))
    text = console.export_text()
    assert "diverged" in text and "errored" in text and "leave out diverged" in text


def test_summary_has_wilson_intervals(tmp_path):
    cfg = config("scripted", "scripted:bad", episodes=4)
    result = run_evaluation(cfg, tmp_path, INLINE)
    with ResultsStore.open(result.store) as store:
        frame = summarize(store, result.run_id, cfg.policies, cfg.envs)
    assert list(frame["policy"]) == ["scripted", "scripted:bad"]
    for row in frame.itertuples():
        low, high = wilson_interval(row.successes, row.episodes)
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
        assert row.episodes == 4


def test_eval_cli_runs_and_reports(tmp_path):
    args = ["eval", "--env", ENV_ID, "-p", "scripted", "-n", "2", "-o", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--workers", "0", "--max-steps", "20"])
    assert result.exit_code == 0, result.output
    assert "scripted" in result.output and str(tmp_path) in result.output
    bad = CliRunner().invoke(app, [*args, "--image-size", "big"])
    assert bad.exit_code != 0 and "WIDTHxHEIGHT" in bad.output


def test_unknown_env_fails_before_running(tmp_path):
    cfg = EvalConfig(envs=("primitive_cube_bowel",), policies=("scripted",), episodes=1)
    with pytest.raises(SimEnvError, match="did you mean 'primitive_cube_bowl'"):
        run_evaluation(cfg, tmp_path, INLINE)
    assert not (tmp_path / "results.sqlite").exists()


def test_config_validation():
    with pytest.raises(EvaluateError, match="episodes"):
        EvalConfig(envs=(ENV_ID,), policies=("scripted",), episodes=0)
    with pytest.raises(EvaluateError, match="workers"):
        Execution(workers=0, ray_address="local")
    assert make_policy("scripted").metadata.open_loop_horizon == 8


def test_every_exported_name_resolves():
    import evaluate.run

    assert all(getattr(evaluate.run, name, None) is not None for name in evaluate.run.__all__)


def test_eval_prints_which_package_each_env_id_was(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from twinbench_cli import app

    monkeypatch.chdir(tmp_path)
    out = "primitive_cube_bowl"  # a run folder named like the environment does not shadow it
    args = ["eval", "--env", "primitive_cube_bowl", "-p", "scripted", "-n", "1", "-o", out]
    for _ in range(2):
        result = CliRunner().invoke(app, [*args, "--max-steps", "2", "--workers", "0"])
        assert result.exit_code == 0, result.output
        expected = f"environment primitive_cube_bowl: {resolve_env('primitive_cube_bowl')} ("
        assert expected in result.output.splitlines()[-2]
