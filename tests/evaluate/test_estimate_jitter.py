"""Jittered copies of the twin in twinbench estimate: one --env-map pattern makes the twin and
its copies stand for the real env, averaged at each initial condition into the twin's success
probability there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.errors import EvaluateError
from evaluate.estimate import load_episodes, pair
from evaluate.estimate.pairing import map_env
from twinbench_cli import main

HEADER = "policy,env,initial_condition,success"
TWINS = ("w/twin", "w/twin-jitter/jitter-1", "w/twin-jitter/jitter-2")
OUTCOMES = {0: (1, 1, 0), 1: (0, 0, 0), 2: (1, 0, 1), 3: (1, 1, 1), 4: (0, 1, 0), 5: (0, 0, 1)}
"""Per condition, the twin's and its two copies' success."""


def _sides(tmp_path: Path) -> tuple[Path, Path]:
    sim = [
        f"p,{env},{ic},{outcomes[k]}"
        for ic, outcomes in OUTCOMES.items()
        for k, env in enumerate(TWINS)
    ]
    real = ["p,lab,0,1", "p,lab,1,0", "p,lab,2,1"]
    (tmp_path / "twin.csv").write_text("\n".join([HEADER, *sim]) + "\n")
    (tmp_path / "real.csv").write_text("\n".join([HEADER, *real]) + "\n")
    return tmp_path / "twin.csv", tmp_path / "real.csv"


def test_a_pattern_averages_the_twin_and_its_copies_at_each_condition(tmp_path):
    sim_csv, real_csv = _sides(tmp_path)
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    (cell,), notes = pair(sim, real, ("s", "r"), {"w/twin*": "lab"})
    np.testing.assert_allclose(cell.paired, [2 / 3, 0.0, 2 / 3])
    np.testing.assert_allclose(cell.twin, [1.0, 1 / 3, 1 / 3])
    assert cell.n_sim == 18
    assert notes == [f"3 twin envs stand for 'lab' ({', '.join(sorted(TWINS))}): their "
                     "episodes at an initial condition are averaged into the twin's "
                     "prediction there"]  # fmt: skip
    # the twin alone, by its exact name: its 0/1 outcomes, the copies left unestimated
    (alone,), notes = pair(sim, real, ("s", "r"), {"w/twin": "lab"})
    np.testing.assert_array_equal(alone.paired, [1.0, 0.0, 1.0])
    assert len(notes) == 2 and "'w/twin-jitter/jitter-1' has twin episodes but no real" in notes[0]


def test_an_exact_entry_wins_and_two_real_envs_for_one_twin_env_are_refused():
    env_map = {"w/twin": "bench", "w/*": "lab"}
    assert map_env("w/twin", env_map) == "bench"
    assert map_env("w/twin-jitter/jitter-1", env_map) == "lab"
    assert map_env("elsewhere", env_map) == "elsewhere"
    with pytest.raises(EvaluateError, match=r"matches --env-map patterns for 2 real envs \(a, b\)"):
        map_env("w/twin", {"w/*": "a", "*/twin": "b"}, "s.csv")


def test_cli_estimates_from_the_twin_and_its_copies(tmp_path, capsys):
    sim_csv, real_csv = _sides(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["estimate", "--sim", str(sim_csv), "--real", str(real_csv), "--env-map",
              "w/twin*=lab", "--json"])  # fmt: skip
    assert done.value.code == 0
    captured = capsys.readouterr()
    (cell,) = json.loads(captured.out)["policies"]
    assert (cell["env"], cell["ppi"]["n_real"], cell["ppi"]["n_sim"]) == ("lab", 3, 18)
    assert "3 twin envs stand for 'lab'" in " ".join(captured.err.split())
