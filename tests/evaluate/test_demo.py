"""The demo: both sides evaluated into one store, a correlation report written, and the
output saying plainly what the "real" side is."""

from __future__ import annotations

import json

from rich.console import Console

from evaluate.demo import DEMO, DemoConfig, Side, run_demo
from evaluate.store import ResultsStore
from sim_env.scene import PhysicsConfig

ENV_ID = "primitive_cube_bowl"


def test_demo_config_is_honest_and_ranks_the_ladder():
    assert len(DEMO.policies) >= 5 and DEMO.policies[0] == "scripted:expert"
    assert "STAND-IN" in DEMO.real.description and "not a real robot" in DEMO.real.description
    assert DEMO.real.physics != DEMO.sim.physics


def test_small_demo_writes_report_and_says_what_real_is(tmp_path):
    config = DemoConfig(
        task="cube_task",
        real=Side("real", ENV_ID, "the pretend-real side", PhysicsConfig(timestep=1 / 480)),
        sim=Side("sim", ENV_ID, "the sim side"),
        policies=("scripted", "scripted:good"),
    )
    console = Console(record=True, width=200)
    result = run_demo(config, tmp_path, episodes=2, workers=0, console=console)
    text = console.export_text()
    assert 'the "real" side is the pretend-real side' in text
    assert f"twinbench dashboard --store {result.store}" in text
    assert (result.report.parent / "index.html").is_file()
    report = json.loads(result.report.read_text())
    assert set(report["results"]["success"]["per_env"]) == {"cube_task"}
    with ResultsStore.open(result.store) as store:
        runs = {run.run_id: run.config["label"] for run in store.runs()}
        assert len(store.episodes()) == 8
    assert set(runs) == set(result.runs.values())
    assert runs[result.runs["real"]] == "real: the pretend-real side"
    again = run_demo(config, tmp_path, episodes=2, workers=0, console=Console(quiet=True))
    assert again.runs == result.runs  # resumed, nothing rerun
