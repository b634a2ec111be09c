"""Pooling the policies in twinbench estimate: each policy's twin score at a condition blended
half and half with the mean over every policy the twin ran there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.estimate import load_episodes, pair
from twinbench_cli import main

HEADER = "policy,env,initial_condition,success"
TWIN = {  # policy -> per condition 0..4, the twin's success (b twice at condition 2)
    "a": {0: [1], 1: [0], 2: [1], 3: [0], 4: [1]},
    "b": {0: [1], 1: [1], 2: [0, 1], 3: [0], 4: [0]},
    "c": {0: [0], 1: [0], 2: [1], 4: [1]},  # never ran condition 3
}
REAL = {"a": {0: 1, 1: 0, 3: 1}, "b": {0: 1, 2: 0}}


def _sides(tmp_path: Path) -> tuple[Path, Path]:
    sim = [
        f"{p},w,{ic},{s},{seed}"
        for p, conditions in TWIN.items()
        for ic, outcomes in conditions.items()
        for seed, s in enumerate(outcomes)
    ]
    real = [f"{p},w,{ic},{s}" for p, conditions in REAL.items() for ic, s in conditions.items()]
    (tmp_path / "twin.csv").write_text("\n".join([HEADER + ",seed", *sim]) + "\n")
    (tmp_path / "real.csv").write_text("\n".join([HEADER, *real]) + "\n")
    return tmp_path / "twin.csv", tmp_path / "real.csv"


def _condition_means() -> dict[int, float]:
    """Each condition's mean over the policies that ran it, each policy's mean counting once."""
    return {
        ic: float(np.mean([np.mean(c[ic]) for c in TWIN.values() if ic in c])) for ic in range(5)
    }


def test_pooling_blends_the_policys_twin_score_with_every_policys_there(tmp_path):
    sim_csv, real_csv = _sides(tmp_path)
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    plain, _ = pair(sim, real, ("s", "r"))
    pooled, notes = pair(sim, real, ("s", "r"), pooled=True)
    means = _condition_means()
    assert means[2] == (1 + 0.5 + 1) / 3 and means[3] == 0.0  # b's two episodes count once
    for cell_plain, cell in zip(plain, pooled, strict=True):
        own = TWIN[cell.policy]
        paired = [0.5 * np.mean(own[ic]) + 0.5 * means[ic] for ic in REAL[cell.policy]]
        np.testing.assert_allclose(cell.paired, paired)
        rest = [ic for ic in own if ic not in REAL[cell.policy]]
        np.testing.assert_allclose(
            cell.twin, [0.5 * np.mean(own[i]) + 0.5 * means[i] for i in rest]
        )
        np.testing.assert_array_equal(cell.real, cell_plain.real)
        assert cell.n_sim == cell_plain.n_sim
    np.testing.assert_allclose(plain[0].paired, [1.0, 0.0, 0.0])  # a's own outcomes, unpooled
    assert "mean over the policies the twin ran there (2-3 per condition)" in notes[0]


def test_cli_pools_on_request_and_says_so(tmp_path, capsys):
    sim_csv, real_csv = _sides(tmp_path)
    args = ["estimate", "--sim", str(sim_csv), "--real", str(real_csv), "--json", "--asymptotic"]
    documents = []
    for extra in (["--pool-policies", "-o", str(tmp_path / "report")], []):
        with pytest.raises(SystemExit) as done:
            main([*args, *extra])
        assert done.value.code == 0
        documents.append(json.loads(capsys.readouterr().out))
    pooled, plain = documents
    assert [p["policy"] for p in pooled["policies"]] == ["a", "b"]
    assert pooled["policies"][0]["ppi"] != plain["policies"][0]["ppi"]
    document = json.loads((tmp_path / "report" / "estimate.json").read_text())
    assert document["pooled"] is True
    assert "pooled over policies" in (tmp_path / "report" / "index.html").read_text()
