"""Per (policy, env) outcomes of one side of a comparison (sim or real), from any source.

A cell keeps the per-episode outcomes when the source has them (a results store, a
per-episode CSV, successes/trials counts), so the bootstrap can resample episodes; a source
that only gives rates yields cells without samples, which the bootstrap holds fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

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
    """All cells of one side for one quantity; ``source`` names where they came from."""

    source: str
    cells: Mapping[CellKey, Cell]

    @property
    def policies(self) -> set[str]:
        return {policy for policy, _ in self.cells}

    @property
    def envs(self) -> set[str]:
        return {env for _, env in self.cells}


def tables_from_episodes(frame: pd.DataFrame, source: str) -> dict[Quantity, RateTable]:
    """Group per-episode rows into cells.

    Args:
        frame: one row per episode with columns ``policy``, ``env``, ``success`` (0/1) and
            optionally ``progress`` (in [0, 1]).
        source: the file the rows came from.
    Returns:
        A table per quantity the frame has (``success`` always, ``progress`` if present).
    """
    quantities = [q for q in QUANTITIES if q in frame.columns]
    tables: dict[Quantity, RateTable] = {}
    for quantity in quantities:
        cells = {
            (str(policy), str(env)): Cell.from_samples(group[quantity].to_numpy(dtype=np.float64))
            for (policy, env), group in frame.groupby(["policy", "env"], sort=True)
        }
        tables[quantity] = RateTable(source, cells)
    return tables
