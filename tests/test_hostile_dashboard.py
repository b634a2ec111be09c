"""Every page of the dashboard over damaged and odd stores, hostile-input rows.

The rows are benchmarks.hostile_cases' (tests/hostile_rows.py says how each is run and judged).
"""

from __future__ import annotations

import pytest

from tests.hostile_rows import check, rows


@pytest.mark.parametrize("case", rows(__file__))
def test_hostile_input(case, tmp_path):
    check(case, tmp_path)
