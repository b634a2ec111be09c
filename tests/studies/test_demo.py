"""The demo: the bundled source world plays "real" and its reconstructed twin "sim", both
sides evaluated into one store, a correlation report written, and the output saying plainly
what the "real" side is."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from evaluate.documents import CorrelationReportDocument
from evaluate.errors import EvaluateError
from evaluate.policies import make_policy
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore
from sim_env.package import load_package
from sim_env.registry import resolve_env
from sim_env.render.select import has_splats
from studies.demo import DEMO, Side, run_demo
from studies.fidelity.run import check_pair
from studies.fidelity.sides import SideRun


def test_demo_sides_pose_the_same_task():
    """The bundled pair passes the demo's own pre-flight check (same objects, rubric and
    number of initial conditions); a pair that does not is refused below."""
    check_pair(DEMO.real.env, DEMO.sim.env)


def test_demo_renders_nothing():
    """The twin's views come from its splats, but the ladder reads privileged state and the
    demo records no videos: no camera is rendered on either side (that keeps it cheap)."""
    assert has_splats(load_package(resolve_env(DEMO.sim.env)))
    assert all(make_policy(spec).metadata.image_keys == () for spec in DEMO.policies)


def test_demo_refuses_sides_posing_different_tasks(tmp_path):
    config = replace(DEMO, real=Side("real", "primitive_cube_bowl", "a different task"))
    with pytest.raises(EvaluateError, match="not be the same task"):
        run_demo(config, tmp_path, episodes=1, workers=0, console=Console(quiet=True))


def test_small_demo_writes_report_and_says_what_real_is(tmp_path):
    config = replace(DEMO, task="tray_task", policies=("scripted", "scripted:bad"))
    console = Console(record=True, width=300)
    result = run_demo(config, tmp_path, episodes=2, workers=0, console=console)
    text = console.export_text()
    assert f'the "real" side, tabletop_source, is {DEMO.real.description}' in text
    assert f"twinbench dashboard --store {result.store}" in text
    assert (result.report.parent / "index.html").is_file()
    report = CorrelationReportDocument.load(result.report)
    assert set(report.results["success"].per_env) == {"tray_task"}
    assert report.inputs.real.label == DEMO.real.description  # the side's label is a field
    assert report.inputs.sim.label == DEMO.sim.description
    with ResultsStore.open(result.store) as store:
        runs = {run.run_id: run.config["label"] for run in store.runs()}
        envs = set(store.episodes()["env_id"])
        assert len(store.episodes()) == 8
    assert envs == {"tabletop_source", "tabletop_twin"}
    assert set(runs) == set(result.runs.values())
    assert runs[result.runs["real"]] == f"real: {DEMO.real.description}"
    with ResultsStore.open(result.store) as store:
        configs = {run.run_id: run.config for run in store.runs()}
    real, sim = (configs[result.runs[role]] for role in ("real", "sim"))
    # the worlds differ, not the simulator or what is run in them
    assert real["physics"] == sim["physics"] and real["rollout"] == sim["rollout"]
    assert real["policies"] == sim["policies"] == list(config.policies)
    assert real["envs"] == ["tabletop_source"] and sim["envs"] == ["tabletop_twin"]
    again = run_demo(config, tmp_path, episodes=2, workers=0, console=Console(quiet=True))
    assert again.runs == result.runs  # resumed, nothing rerun


def _store_in_order(path, seeds):
    """A store holding one run's episodes of one policy, recorded in the order ``seeds``."""
    with ResultsStore.open(path) as store:
        run = store.add_run({"label": "x"}, run_id="run")
        for seed in seeds:
            won = seed % 3 == 0
            outcome = EpisodeOutcome(won, float(won), {}, 1, 0.1, 0.0, 0.0)
            key = EpisodeKey("scripted", "env", "hash", 0, seed)
            store.record_episode(EpisodeRecord(run.run_id, key, outcome))
    return path


def test_side_outcomes_do_not_depend_on_recording_order(tmp_path):
    """Parallel workers record episodes in any order; the bootstrap must see one order."""
    seeds = list(range(12))
    stores = [
        _store_in_order(tmp_path / f"{i}.sqlite", s) for i, s in enumerate((seeds, seeds[::-1]))
    ]
    tables = [
        SideRun(DEMO.real, store, "run", range(12)).tables("task")["success"] for store in stores
    ]
    first, second = (t.cells[("scripted", "task")].samples for t in tables)
    assert first.tolist() == second.tolist() == [float(s % 3 == 0) for s in seeds]
