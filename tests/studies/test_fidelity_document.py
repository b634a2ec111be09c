"""fidelity.json as a typed document: the committed one round-trips byte for byte, a world's
rates count what was left out, and an old or malformed summary is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.correlation import BootstrapConfig, Cell, RateTable
from evaluate.errors import EvaluateError
from studies.fidelity.document import FidelitySummary
from studies.fidelity.summary import world_rates

COMMITTED = Path(__file__).resolve().parents[2] / "benchmarks" / "fidelity.json"


def test_the_committed_summary_round_trips(tmp_path: Path):
    summary = FidelitySummary.load(COMMITTED)
    assert summary.schema_version == FidelitySummary.VERSION == 1
    assert (
        summary.policies[0].worlds["twin"].rate("success")[0]
        == summary.policies[0].worlds["twin"].success
    )
    written = summary.write(tmp_path / "fidelity.json")
    assert written.read_text() == COMMITTED.read_text()
    assert FidelitySummary.load(written) == summary


def test_world_rates_leave_out_and_count_diverged_episodes():
    samples = {"a": [1.0, 0.0, 1.0, 1.0], "b": [0.0, 0.0, 1.0, 0.0]}
    cells = {(p, "task"): Cell.from_samples(np.array(s)) for p, s in samples.items()}
    tables = {
        quantity: RateTable("x", cells, {("a", "task"): {"diverged": 1, "error": 2}})
        for quantity in ("success", "progress")
    }
    rates = world_rates(tables, BootstrapConfig(n_resamples=20))
    assert (rates["a"].episodes, rates["a"].success) == (4, 0.75)
    assert rates["a"].excluded == {"diverged": 1, "error": 2} and rates["b"].excluded == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("schema_version"), "schema_version"),
        (lambda d: d["policies"][2]["worlds"]["twin"].pop("success"), "policies[2].worlds.twin.success"),
        (lambda d: d["goal"].update(met="perhaps"), "goal.met"),
    ],
    ids=["unversioned", "missing-rate", "bad-verdict"],
)  # fmt: skip
def test_old_or_malformed_summary_names_file_and_field(tmp_path: Path, change, field: str):
    document = json.loads(COMMITTED.read_text())
    change(document)
    path = tmp_path / "fidelity.json"
    path.write_text(json.dumps(document))
    with pytest.raises(EvaluateError) as info:
        FidelitySummary.load(path)
    assert (info.value.file, info.value.field) == (str(path), field)
    assert "fidelity summary" in info.value.message and "\n" not in str(info.value)
