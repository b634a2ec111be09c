"""The hostile-input table (``benchmarks.hostile_table``) as rows of ``make test``.

Each ``tests/test_hostile_*.py`` file takes the groups named for it in ``FILES`` (several files,
so that ``--dist loadfile`` spreads them over the workers). A row runs its case in-process
(``run_in_process``: one interpreter start for the whole file) or, for a case marked
``isolate``, in a subprocess with a timeout as the benchmark runs every case, and expects the
class the benchmark would report: ``clear`` (one ``twinbench: error:`` line, non-zero exit)
for an input that must be refused, ``handled`` for one that must succeed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.hostile import run_case, run_in_process
from benchmarks.hostile_table import CASES, Case

FILES: dict[str, tuple[str, ...]] = {
    "test_hostile_env.py": ("env", "render"),
    "test_hostile_bundles.py": ("bundle", "upload", "server"),
    "test_hostile_sandbox.py": ("sandbox",),
    "test_hostile_runs.py": ("eval", "correlate", "estimate"),
    "test_hostile_inputs.py": ("reconstruct", "cli"),
    "test_hostile_dashboard.py": ("dashboard",),
}
EXPECTED = {"error": "clear", "ok": "handled"}
ISOLATED_TIMEOUT_S = 180.0
ROW_TIMEOUT_S = 300  # pytest-timeout: an in-process row that hangs fails instead of blocking CI


def group(case: Case) -> str:
    return case.name.split("/", 1)[0]


def rows(test_file: str) -> list:
    """The cases of ``test_file``'s groups, as pytest parameters named after the case."""
    groups = FILES[Path(test_file).name]
    return [
        pytest.param(case, id=case.name, marks=pytest.mark.timeout(ROW_TIMEOUT_S))
        for case in CASES
        if group(case) in groups
    ]


def check(case: Case, tmp_path: Path) -> None:
    """Run one row and require the class its input deserves."""
    if case.isolate:
        result = run_case(case, tmp_path, ISOLATED_TIMEOUT_S)
    else:
        result = run_in_process(case, tmp_path)
    assert result.outcome == EXPECTED[case.expect], f"{result.outcome}: {result.detail}"
