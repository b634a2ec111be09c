"""Queries the pages share, over the results store's public API, as plain DataFrames.

Kept free of Streamlit so the numbers a page shows can be checked without running a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from evaluate.correlation import Cell
from evaluate.correlation.bootstrap import percentile_interval, resample_rates
from evaluate.run.summary import success_interval
from evaluate.store import EXCLUDED_KINDS, ResultsStore

LEVEL = 0.95
N_RESAMPLES = 1000
SORT_KEYS: Mapping[str, tuple[list[str], list[bool]]] = {
    "success rate": (["success_rate", "progress", "policy"], [False, False, True]),
    "progress": (["progress", "success_rate", "policy"], [False, False, True]),
    "policy": (["policy", "env"], [True, True]),
    "environment": (["env", "success_rate"], [True, False]),
}
"""Leaderboard orderings: label -> (columns, ascending)."""
LEADERBOARD_COLUMNS = (
    "policy", "env", "episodes", "successes", "failures", "success_rate", "success_low",
    "success_high", "progress", "progress_low", "progress_high", "diverged", "errored",
)  # fmt: skip


def leaderboard(
    store: ResultsStore, run_id: str | None = None, level: float = LEVEL
) -> pd.DataFrame:
    """One row per (policy, env) with success and progress rates and their intervals.

    Success uses the Wilson interval of the store's counts; progress (not a 0/1 outcome) a
    bootstrap over the cell's episodes, seeded so the page shows the same numbers every time.
    Diverged and errored episodes are not the policy's failures: they are left out of the
    rates and counted on their own (see :meth:`ResultsStore.summary`).

    Returns:
        Columns policy, env, episodes, successes, failures, success_rate, success_low,
        success_high, progress, progress_low, progress_high (rates in [0, 1], NaN for a
        cell without an episode that counts), diverged, errored.
    """
    summary = store.summary(run_id)
    if summary.empty:
        return pd.DataFrame(columns=list(LEADERBOARD_COLUMNS))
    low, high = success_interval(
        summary["successes"].to_numpy(), summary["episodes"].to_numpy(), level
    )
    episodes = store.episodes(run_id=run_id)
    counted = episodes[~episodes["failure_kind"].isin(EXCLUDED_KINDS)]
    progress = counted.groupby(["policy_id", "env_id"])["progress"]
    rng = np.random.default_rng(0)
    bounds = {
        key: percentile_interval(
            resample_rates(Cell.from_samples(values.to_numpy()), N_RESAMPLES, rng), level
        )
        for key, values in progress
    }
    keys = list(zip(summary["policy_id"], summary["env_id"], strict=True))
    return pd.DataFrame(
        {
            "policy": summary["policy_id"],
            "env": summary["env_id"],
            "episodes": summary["episodes"].astype(int),
            "successes": summary["successes"].astype(int),
            "failures": summary["failures"].astype(int),
            "success_rate": summary["success_rate"].astype(float),
            "success_low": low,
            "success_high": high,
            "progress": summary["progress_mean"].astype(float),
            "progress_low": [float(bounds[key][0]) if key in bounds else np.nan for key in keys],
            "progress_high": [float(bounds[key][1]) if key in bounds else np.nan for key in keys],
            "diverged": summary["diverged"].astype(int),
            "errored": summary["errored"].astype(int),
        }
    )


def leaderboard_display(table: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as shown: rates with their interval as ``low – high`` text."""

    def interval(prefix: str) -> list[str]:
        lows, highs = table[f"{prefix}_low"], table[f"{prefix}_high"]
        pairs = zip(lows, highs, strict=True)
        return [f"{low:.2f} – {high:.2f}" if pd.notna(low) else "–" for low, high in pairs]

    return pd.DataFrame(
        {
            "policy": table["policy"],
            "env": table["env"],
            "episodes": table["episodes"],
            "successes": table["successes"],
            "ended early": table["failures"],
            "success": table["success_rate"],
            f"success {LEVEL:.0%} CI": interval("success"),
            "progress": table["progress"],
            f"progress {LEVEL:.0%} CI": interval("progress"),
            "diverged": table["diverged"],
            "errored": table["errored"],
        }
    )


def sort_leaderboard(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """``table`` in the order a :data:`SORT_KEYS` label names, renumbered from 0."""
    columns, ascending = SORT_KEYS[key]
    return table.sort_values(columns, ascending=ascending, kind="stable").reset_index(drop=True)


def video_file(store_dir: Path, video_path: str) -> Path:
    """An episode's video on disk: a relative path is relative to the store's directory."""
    path = Path(video_path)
    return path if path.is_absolute() else store_dir / path


def criteria_timeline(criteria: Mapping[str, int | None]) -> pd.DataFrame:
    """The rubric criteria in the order they were first reached; never-reached ones last.

    Returns:
        Columns criterion, step (first control step reached, NA if never) and reached.
    """
    frame = pd.DataFrame(
        {
            "criterion": list(criteria),
            "step": pd.array(list(criteria.values()), dtype="Int64"),
        }
    )
    frame["reached"] = frame["step"].notna()
    return frame.sort_values(
        ["reached", "step", "criterion"], ascending=[False, True, True]
    ).reset_index(drop=True)


def criteria_progress(criteria: Mapping[str, int | None], length_steps: int) -> pd.DataFrame:
    """How many criteria had been reached at each change, from step 0 to the episode's end.

    Returns:
        Columns step and reached (a count), one row per change plus the start and the end:
        drawn as a step chart it is the episode's progress over time.
    """
    steps = sorted(step for step in criteria.values() if step is not None)
    end = max([length_steps, *steps])
    rows = [(0, 0)] + [(step, i + 1) for i, step in enumerate(steps)] + [(end, len(steps))]
    return pd.DataFrame(rows, columns=["step", "reached"]).drop_duplicates("step", keep="last")


def env_ids_in_store(store: ResultsStore) -> dict[str, tuple[str, ...]]:
    """Environment id -> the package hashes its episodes ran on, for every env the store names."""
    episodes = store.episodes()[["env_id", "env_hash"]].drop_duplicates()
    return {str(env): tuple(sorted(group["env_hash"])) for env, group in episodes.groupby("env_id")}


def jobs_table(store: ResultsStore) -> pd.DataFrame:
    """The job queue, newest first, with submission times as UTC datetimes and envs joined."""
    jobs = store.jobs()
    frame = pd.DataFrame(
        {
            "job": [job.job_id for job in jobs],
            "submitted": pd.to_datetime([job.created for job in jobs], unit="s"),
            "policy": [job.policy_spec for job in jobs],
            "envs": [", ".join(job.envs) for job in jobs],
            "episodes": [job.episodes for job in jobs],
            "state": [job.state for job in jobs],
            "reason": [job.reason or "" for job in jobs],
            "attempts": [job.attempts for job in jobs],
            "run": [job.run_id or "" for job in jobs],
        }
    )
    return frame.iloc[::-1].reset_index(drop=True)
