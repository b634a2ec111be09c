"""The hostile-input harness (benchmarks.hostile) classifies what a command did, and its cases
build and run: a refusal in one ``twinbench: error:`` line is clear, anything else is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.hostile import classify, run_case
from benchmarks.hostile_table import CASES, Case

BAD, GOOD = Case("x/bad", lambda folder: []), Case("x/good", lambda folder: [], expect="ok")
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 0\n'


@pytest.mark.parametrize(
    ("case", "code", "out", "err", "outcome"),
    [
        (BAD, 2, "", "progress 1/3\ntwinbench: error: env.yaml: mass: expected > 0\n", "clear"),
        (BAD, 1, "", TRACEBACK, "traceback"),
        (BAD, 0, "", TRACEBACK, "traceback"),
        (BAD, None, "", "", "hang"),
        (BAD, 0, "ok: valid", "", "accepted"),
        (GOOD, 0, "ok: valid", "", "handled"),
        (GOOD, 2, "", "twinbench: error: refused\n", "unclear"),
        (BAD, -9, "", "", "unclear"),
        (BAD, 2, "", "twinbench: error: one\ntwinbench: error: two\n", "unclear"),
        (BAD, 2, "", "twinbench: error: first\nthen more words\n", "unclear"),
    ],
)
def test_classify(case, code, out, err, outcome):
    assert classify(case, code, out, err)[0] == outcome


def test_case_names_are_unique_and_grouped():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) and len(names) > 200
    assert all(case.expect in ("error", "ok") and "/" in case.name for case in CASES)


def test_a_case_runs_the_real_command(tmp_path: Path):
    [case] = [case for case in CASES if case.name == "cli/unknown_command"]
    result = run_case(case, tmp_path, timeout_s=120)
    assert result.outcome == "clear", result.detail
    assert "No such command 'evaluate'" in result.detail


def test_every_case_is_a_row_of_make_test():
    from tests.hostile_rows import FILES, group

    covered = {name for groups in FILES.values() for name in groups}
    assert {group(case) for case in CASES} <= covered
    here = Path(__file__).parent
    assert all((here / name).is_file() for name in FILES)


def test_in_process_run_is_classified_as_the_subprocess_run(tmp_path: Path):
    from benchmarks.hostile import run_in_process

    [case] = [case for case in CASES if case.name == "env/non_utf8"]
    inside, outside = run_in_process(case, tmp_path / "in"), run_case(case, tmp_path / "out", 120)
    assert inside.outcome == outside.outcome == "clear"
    assert inside.detail.replace("/in/", "/out/") == outside.detail
