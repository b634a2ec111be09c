"""Versioned documents: report.json round-trips through its model; an unversioned, old,
newer or malformed document is one error naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluate.correlation import BootstrapConfig, Cell, RateTable, correlate
from evaluate.documents import CorrelationReportDocument, ReportSide, file_label
from evaluate.errors import EvaluateError
from evaluate.report import ReportInputs, write_report


def _table(source: str, rates: dict[str, float], excluded: int = 0) -> RateTable:
    cells = {
        (policy, env): Cell.from_samples(np.repeat([1.0, 0.0], [round(8 * r), 8 - round(8 * r)]))
        for policy, r in rates.items()
        for env in ("e1", "e2")
    }
    return RateTable(source, cells, {("a", "e1"): {"diverged": excluded}} if excluded else {})


@pytest.fixture
def report_path(tmp_path: Path) -> Path:
    sim = _table("sim.sqlite", {"a": 0.75, "b": 0.5, "c": 0.25}, excluded=2)
    real = _table("lab_bench.csv", {"a": 0.875, "b": 0.25, "c": 0.5})
    config = BootstrapConfig(n_resamples=50)
    report = correlate(sim, real, "success", config)
    inputs = ReportInputs(
        ReportSide.of("sim.sqlite run r1", {"success": sim}, label="the twin"),
        "data/lab_bench.csv",
        "success",
        config,
    )
    return write_report(tmp_path / "report", {"success": report}, inputs)


def test_report_round_trips_with_its_sides(report_path: Path):
    document = CorrelationReportDocument.load(report_path)
    assert document.schema_version == CorrelationReportDocument.VERSION == 1
    assert document.inputs.sim.label == "the twin"
    assert document.inputs.sim.excluded == {"diverged": 2}
    assert (document.inputs.real.label, document.inputs.real.source) == (
        "lab bench",
        "data/lab_bench.csv",
    )
    result = document.results["success"]
    assert [scope for scope, _ in result.scopes()] == ["pooled", "e1", "e2"]
    assert any("2 diverged episode(s) in sim.sqlite" in note for note in result.notes)
    again = document.write(report_path.parent / "again.json")
    assert CorrelationReportDocument.load(again) == document
    assert json.loads(again.read_text()) == json.loads(report_path.read_text())
    html = (report_path.parent / "index.html").read_text()
    assert "the twin" in html and "2 diverged episodes left out" in html


def _broken(path: Path, change) -> Path:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.pop("schema_version"), "schema_version", "missing: this correlation report predates versioned documents"),
        (lambda d: d.update(schema_version=0), "schema_version", "unsupported version 0; this twinbench reads correlation report version 1 (rewrite it"),
        (lambda d: d.update(schema_version=2), "schema_version", "(upgrade twinbench"),
        (lambda d: d["inputs"].update(real="lab.csv"), "inputs.real", "valid dictionary"),
        (lambda d: d["results"]["success"]["per_env"]["e1"]["policies"][1].update(sim="high"),
         "results.success.per_env.e1.policies[1].sim", "valid number"),
        (lambda d: d.update(extra=1), "extra", "Extra inputs are not permitted"),
    ],
    ids=["unversioned", "old", "newer", "side-as-string", "bad-number", "unknown-field"],
)  # fmt: skip
def test_wrong_version_or_malformed_report_names_file_and_field(
    report_path: Path, change, field: str, message: str
):
    _broken(report_path, change)
    with pytest.raises(EvaluateError) as info:
        CorrelationReportDocument.load(report_path)
    assert (info.value.file, info.value.field) == (str(report_path), field)
    assert message in info.value.message and "\n" not in str(info.value)


def test_not_json_or_not_an_object(tmp_path: Path):
    for text, message in (("{", "not readable JSON"), ("[1, 2]", "expected a JSON object")):
        path = tmp_path / "report.json"
        path.write_text(text)
        with pytest.raises(EvaluateError, match=message):
            CorrelationReportDocument.load(path)


@pytest.mark.parametrize(
    ("source", "label"),
    [("real.csv", "real"), ("runs/source_world.csv", "source world"), ("a-b_c", "a b c"), ("", "real")],
)  # fmt: skip
def test_file_label(source: str, label: str):
    assert file_label(source) == label
