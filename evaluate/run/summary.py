"""The end-of-run table: per (policy, env) episodes, success rate with its Wilson interval,
mean progress and failed episodes, read back from the store (so a resumed run shows all)."""

from __future__ import annotations

from collections.abc import Sequence

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
        Columns ``COLUMNS``; ``failures`` counts episodes that ended with a failure reason.
    """
    frame = store.summary(run_id).rename(columns={"policy_id": "policy", "env_id": "env"})
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    low, high = wilson_interval(frame["successes"].to_numpy(), frame["episodes"].to_numpy(), level)
    frame["ci_low"], frame["ci_high"] = low, high
    order = {name: i for i, name in enumerate(policies)}
    env_order = {name: i for i, name in enumerate(envs)}
    frame["_p"] = frame["policy"].map(lambda p: order.get(p, len(order)))
    frame["_e"] = frame["env"].map(lambda e: env_order.get(e, len(env_order)))
    frame = frame.sort_values(["_p", "policy", "_e", "env"], kind="stable")
    return frame[list(COLUMNS)].reset_index(drop=True)


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
    for row in frame.itertuples(index=False):
        table.add_row(
            row.policy,
            row.env,
            str(int(row.episodes)),
            f"{row.success_rate:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]",
            f"{row.progress_mean:.2f}",
            str(int(row.failures)) if row.failures else "",
        )
    return table
