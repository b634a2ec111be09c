"""The end-of-run table: per (policy, env) episodes, success rate with its Wilson interval,
mean progress, failed episodes, and the diverged and errored episodes left out of the rates;
read back from the store (so a resumed run shows all)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from rich.table import Table

from evaluate.metrics import wilson_interval
from evaluate.store import ResultsStore

COLUMNS = (
    "policy",
    "env",
    "episodes",
    "successes",
    "success_rate",
    "ci_low",
    "ci_high",
    "progress_mean",
    "failures",
    "diverged",
    "errored",
)


def summarize(
    store: ResultsStore,
    run_id: str,
    policies: Sequence[str] = (),
    envs: Sequence[str] = (),
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (policy, env) of the run, in the given policy and env order (others after).

    Returns:
        Columns ``COLUMNS`` (see :meth:`ResultsStore.summary`): ``episodes`` and the rates
        count neither ``diverged`` nor ``errored`` episodes; ``failures`` counts the episodes
        that count and ended early. A cell without an episode that counts has NaN rates.
    """
    frame = store.summary(run_id).rename(columns={"policy_id": "policy", "env_id": "env"})
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    frame["ci_low"], frame["ci_high"] = success_interval(
        frame["successes"].to_numpy(), frame["episodes"].to_numpy(), level
    )
    order = {name: i for i, name in enumerate(policies)}
    env_order = {name: i for i, name in enumerate(envs)}
    frame["_p"] = frame["policy"].map(lambda p: order.get(p, len(order)))
    frame["_e"] = frame["env"].map(lambda e: env_order.get(e, len(env_order)))
    frame = frame.sort_values(["_p", "policy", "_e", "env"], kind="stable")
    return frame[list(COLUMNS)].reset_index(drop=True)


def success_interval(
    successes: np.ndarray, episodes: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson interval of each cell's success rate; NaN where no episode counts."""
    low, high = np.full(len(episodes), np.nan), np.full(len(episodes), np.nan)
    some = episodes > 0
    if some.any():
        low[some], high[some] = wilson_interval(successes[some], episodes[some], level)
    return low, high


def summary_table(
    frame: pd.DataFrame, title: str = "evaluation summary", level: float = 0.95
) -> Table:
    """A rich table of :func:`summarize`'s frame."""
    table = Table(title=title)
    table.add_column("policy", overflow="fold")
    table.add_column("env", overflow="fold")
    table.add_column("episodes", justify="right")
    table.add_column(f"success [{level:.0%} Wilson CI]", justify="right")
    table.add_column("progress", justify="right")
    table.add_column("failed", justify="right")
    excluded = [c for c in ("diverged", "errored") if frame[c].any()]  # shown when there are some
    for column in excluded:
        table.add_column(column, justify="right")
    for row in frame.itertuples(index=False):
        counted = row.episodes > 0
        table.add_row(
            row.policy,
            row.env,
            str(int(row.episodes)),
            f"{row.success_rate:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]" if counted else "–",
            f"{row.progress_mean:.2f}" if counted else "–",
            *(str(int(n)) if n else "" for n in (row.failures, *map(row._asdict().get, excluded))),
        )
    if excluded:
        table.caption = "episodes and rates leave out diverged and errored episodes"
    return table
