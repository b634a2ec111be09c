"""Trial by trial agreement of a fidelity study's worlds with its source world."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.fidelity.trial_agreement import agreement_rows, main, median_r

STUDY = Path(__file__).resolve().parents[2] / "benchmarks" / "fidelity" / "run"


def _pairs(source: list[int], other: list[int], policy: str = "src-a") -> pd.DataFrame:
    n = len(source)
    return pd.DataFrame(
        {
            "world": "twin",
            "policy": policy,
            "initial_condition": range(n),
            "seed": 0,
            "source": np.array(source, float),
            "other": np.array(other, float),
        }
    )


def test_a_world_that_repeats_every_trial_correlates_fully_and_a_flipped_one_negatively():
    pairs = pd.concat(
        [
            _pairs([1, 0, 1, 0], [1, 0, 1, 0], "same"),
            _pairs([1, 0, 1, 0], [0, 1, 0, 1], "flipped"),
            _pairs([1, 1, 1, 1], [1, 0, 1, 1], "always"),
        ]
    )
    rows = agreement_rows(pairs)["twin"]
    assert rows["same"] == {
        "pairs": 4.0,
        "source_rate": 0.5,
        "other_rate": 0.5,
        "agreement": 1.0,
        "r": pytest.approx(1.0),
        "r2": pytest.approx(1.0),
    }
    assert rows["flipped"]["r"] == pytest.approx(-1.0) and rows["flipped"]["agreement"] == 0.0
    assert rows["always"]["r"] == 0.0 and rows["always"]["agreement"] == 0.75
    assert median_r(rows) == pytest.approx(0.0)  # "always" (100%) is not counted


def test_the_committed_study_pairs_every_episode_of_every_world(tmp_path, capsys):
    csv = tmp_path / "pairs.csv"
    main([str(STUDY), "--out", str(tmp_path), "--pairs-csv", str(csv)])
    pairs = pd.read_csv(csv)
    summary = json.loads((STUDY / "fidelity.json").read_text())
    counts = pairs.groupby(["world", "policy"]).size()
    assert set(pairs["world"]) == set(summary["worlds"]) - {"source"}
    assert (counts["twin"] == summary["episodes_per_policy"]).all()
    assert (counts["twin-meshes"] == summary["provenance"]["ablation_episodes"]).all()
    figures = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    twin = {f["metric"]: f["value"] for f in figures if f["case"].endswith("/twin/src-s3000")}
    rows = pairs[(pairs["world"] == "twin") & (pairs["policy"] == "src-s3000")]
    assert twin["agreement"] == pytest.approx(np.mean(rows["source"] == rows["other"]), abs=1e-4)
    assert "## " in (tmp_path / "trial-agreement.md").read_text()
