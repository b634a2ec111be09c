"""The whole hostile-input table: the rows of every ``benchmarks/hostile_*`` case module.

``benchmarks.hostile`` (the benchmark) and ``tests/hostile_rows.py`` (``make test``) both read
``CASES`` from here, so a row added to any module runs in both.
"""

from __future__ import annotations

from benchmarks import hostile_cases, hostile_more, hostile_pages
from benchmarks.hostile_cases import Case

CASES: list[Case] = [*hostile_cases.CASES, *hostile_more.CASES, *hostile_pages.CASES]

__all__ = ["CASES", "Case"]
