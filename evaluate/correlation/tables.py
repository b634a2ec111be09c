"""Per (policy, env) outcomes of one side of a comparison (sim or real), from any source.

A cell keeps the per-episode outcomes when the source has them (a results store, a
per-episode CSV, successes/trials counts), so the bootstrap can resample episodes; a source
that only gives rates yields cells without samples, which the bootstrap holds fixed.

Episodes that are not the policy's failure (diverged, an infrastructure error: see
:data:`evaluate.store.EXCLUDED_KINDS`) are left out of every cell and counted per cell in
the table's ``excluded``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from evaluate.store import EXCLUDED_KINDS

Quantity = Literal["success", "progress"]
QUANTITIES: tuple[Quantity, ...] = ("success", "progress")
CellKey = tuple[str, str]  # (policy, env)


@dataclass(frozen=True)
class Cell:
    """One policy in one env: its rate and, when known, the per-episode values behind it."""

    rate: float  # in [0, 1]
    samples: np.ndarray | None = None  # [n_episodes] per-episode outcomes in [0, 1]

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> Cell:
        samples = np.asarray(samples, dtype=np.float64)
        return cls(float(samples.mean()), samples)

    @classmethod
    def from_counts(cls, successes: int, trials: int) -> Cell:
        """Bernoulli trials: resampling them is resampling the episodes they came from."""
        return cls.from_samples(np.repeat([1.0, 0.0], [successes, trials - successes]))


@dataclass(frozen=True)
class RateTable:
    """All cells of one side for one quantity; ``source`` names where they came from.

    ``excluded`` counts, per cell, the episodes left out by failure kind (``diverged``,
    ``error``); a cell whose every episode was left out is absent from ``cells``.
    """

    source: str
    cells: Mapping[CellKey, Cell]
    excluded: Mapping[CellKey, Mapping[str, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def excluded_counts(self) -> dict[str, int]:
        """Failure kind -> episodes left out, over all cells."""
        total: Counter[str] = Counter()
        for counts in self.excluded.values():
            total.update(counts)
        return dict(sorted(total.items()))

    @property
    def policies(self) -> set[str]:
        return {policy for policy, _ in self.cells}

    @property
    def envs(self) -> set[str]:
        return {env for _, env in self.cells}


def tables_from_episodes(frame: pd.DataFrame, source: str) -> dict[Quantity, RateTable]:
    """Group per-episode rows into cells.

    Args:
        frame: one row per episode with columns ``policy``, ``env``, ``success`` (0/1),
            optionally ``progress`` (in [0, 1]) and ``failure_kind`` (NA or a kind; rows of
            an excluded kind are left out and counted).
        source: the file the rows came from.
    Returns:
        A table per quantity the frame has (``success`` always, ``progress`` if present).
    """
    excluded: dict[CellKey, dict[str, int]] = {}
    kept = frame
    if "failure_kind" in frame.columns:
        left_out = frame["failure_kind"].isin(EXCLUDED_KINDS)
        for (policy, env, kind), group in frame[left_out].groupby(
            ["policy", "env", "failure_kind"]
        ):
            excluded.setdefault((str(policy), str(env)), {})[str(kind)] = len(group)
        kept = frame[~left_out]
    quantities = [q for q in QUANTITIES if q in frame.columns]
    tables: dict[Quantity, RateTable] = {}
    for quantity in quantities:
        cells = {
            (str(policy), str(env)): Cell.from_samples(group[quantity].to_numpy(dtype=np.float64))
            for (policy, env), group in kept.groupby(["policy", "env"], sort=True)
        }
        tables[quantity] = RateTable(source, cells, MappingProxyType(excluded))
    return tables
