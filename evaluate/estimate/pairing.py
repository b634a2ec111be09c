"""Read per-episode outcomes with their initial conditions, and pair real with twin trials.

A side is a run directory, a results store or a per-episode CSV (``policy``, ``env``,
``initial_condition``, ``success``; optional ``seed`` and ``failure_kind``), read with the
same readers and checks as ``twinbench correlate``. Episodes that are not the policy's
failure (diverged, error) are left out and counted, as everywhere else.

A real episode pairs with the twin episodes of the same policy, environment and initial
condition: its paired twin outcome is their mean. The twin's other initial conditions of
that policy and environment are its twin-only trials, each likewise the mean of the twin's
episodes there: PPI needs the same prediction (the twin's rate at a condition) on both
sides, and repeated twin episodes at one condition are one draw of the condition, not
several. PPI needs the real trials' initial conditions drawn like the twin-only ones; one
real trial per initial condition keeps the pairs independent.

With ``pooled``, the twin's prediction at a condition is half the policy's own twin score there
and half the mean over every policy the twin ran there (:data:`POOL_WEIGHT`): one 0/1 twin
outcome is a noisy reading of the condition, and how the other policies fared there says how
hard the twin finds it. It is still a function of the condition alone, so PPI stays valid; on
the recorded populations it raised the per-trial correlation with the real outcome by more than
0.005 in 21 of 26 policy-world cases, and lowered it by 0.01 in 2
(``benchmarks/estimate_trials.py``).

Several twin environments can stand for one real one (``env_map`` keys may be shell-style
patterns): jittered copies of the twin, whose condition ``i`` is the twin's condition ``i``
with the objects moved by a few mm and degrees (``studies.fidelity.conditions.write_jittered``),
then average with the twin at each condition into its success probability near it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from evaluate.correlation.inputs import STORE_FILENAME, CsvRows, read_store_episodes
from evaluate.errors import EvaluateError
from evaluate.store import EXCLUDED_KINDS, PostgresURL

__all__ = [
    "CSV_COLUMNS",
    "MIN_PAIRS",
    "POOL_WEIGHT",
    "TWIN_SCORES",
    "PairedCell",
    "load_episodes",
    "map_env",
    "pair",
]

MIN_PAIRS = 2
"""Paired real trials an interval needs (a variance needs two)."""
CSV_COLUMNS = "policy,env,initial_condition,success[,seed][,progress][,failure_kind]"
_COLUMNS = ["policy", "env", "initial_condition", "seed", "success", "progress", "where"]
POOL_WEIGHT = 0.5
"""With ``pooled``: the weight of the condition's mean over every policy's twin score."""
TWIN_SCORES = ("success", "progress")
"""What the twin predicts at a condition: its 0/1 success, or its rubric progress in [0, 1]."""


@dataclass(frozen=True)
class PairedCell:
    """One policy in one environment, ready for PPI.

    Attributes:
        real: ``[n]`` real outcomes (0/1), in recording order.
        paired: ``[n]`` the twin's mean score (success, or rubric progress) at each real
            trial's initial condition.
        twin: ``[N]`` the twin's mean score at each initial condition without a real
            trial, in the order the twin first recorded them.
        n_sim: twin episodes used, paired and twin-only.
    """

    policy: str
    env: str
    real: np.ndarray
    paired: np.ndarray
    twin: np.ndarray
    n_sim: int


def load_episodes(
    path: Path | PostgresURL, run_ids: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, int]]:
    """One side's episodes: columns policy, env, initial_condition, seed (or -1), success
    (0.0/1.0) and where (the line or episode, for messages); and the count left out per kind.

    Raises:
        EvaluateError: not a run directory, store or CSV; a CSV without the columns above or
            with a bad cell; the same episode twice.
    """
    frame = _read(path, run_ids)
    _refuse_duplicates(frame, path)
    left_out = frame["failure_kind"].isin(EXCLUDED_KINDS)
    excluded = {str(k): int(v) for k, v in frame[left_out]["failure_kind"].value_counts().items()}
    return frame.loc[~left_out, _COLUMNS].reset_index(drop=True), excluded


def _read(path: Path | PostgresURL, run_ids: Sequence[str]) -> pd.DataFrame:
    if isinstance(path, PostgresURL):
        return _from_store(path, run_ids)
    if path.is_dir():
        path = path / STORE_FILENAME
        if not path.exists():
            raise EvaluateError(
                f"a run directory must hold {STORE_FILENAME}; none found", file=path.parent
            )
    if not path.is_file():
        raise EvaluateError("no such file or directory", file=path)
    if path.suffix.lower() == ".csv":
        if run_ids:
            raise EvaluateError("--run applies to a results store, not to a CSV", file=path)
        return _from_csv(path)
    if path.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
        return _from_store(path, run_ids)
    raise EvaluateError(
        "expected a run directory, a results store (file or postgresql:// URL) or a "
        "per-episode .csv",
        file=path,
    )


def _from_store(path: Path | PostgresURL, run_ids: Sequence[str]) -> pd.DataFrame:
    frame = read_store_episodes(path, run_ids)
    return pd.DataFrame(
        {
            "policy": frame["policy_id"].astype(str),
            "env": frame["env_id"].astype(str),
            "initial_condition": frame["initial_condition"].astype(int),
            "seed": frame["seed"].astype(int),
            "success": frame["success"].astype(float),
            "progress": frame["progress"].astype(float),
            "where": [
                f"run {run}, initial condition {ic}, seed {seed}"
                for run, ic, seed in zip(
                    frame["run_id"], frame["initial_condition"], frame["seed"], strict=True
                )
            ],
            "failure_kind": frame["failure_kind"],
        }
    )


def _from_csv(path: Path) -> pd.DataFrame:
    rows = CsvRows.read(path)
    missing = [c for c in ("policy", "env", "initial_condition", "success") if c not in rows.header]
    if missing:
        raise EvaluateError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(rows.header)}; "
            f"estimate reads one row per episode: {CSV_COLUMNS}",
            file=path,
            field="header",
        )
    if not rows.lines:
        raise EvaluateError("the CSV has a header but no rows", file=path)
    has_seed, has_kind = "seed" in rows.header, "failure_kind" in rows.header
    has_progress = "progress" in rows.header
    return pd.DataFrame(
        {
            "policy": [rows.name(line, "policy") for line in rows.lines],
            "env": [rows.name(line, "env") for line in rows.lines],
            "initial_condition": [rows.count(line, "initial_condition") for line in rows.lines],
            "seed": [rows.count(line, "seed") if has_seed else -1 for line in rows.lines],
            "success": [rows.flag(line, "success") for line in rows.lines],
            "progress": [
                rows.fraction(line, "progress") if has_progress else np.nan for line in rows.lines
            ],
            "where": [f"line {line}" for line in rows.lines],
            "failure_kind": [rows.failure_kind(line) if has_kind else None for line in rows.lines],
        }
    )


def _refuse_duplicates(frame: pd.DataFrame, path: Path | PostgresURL) -> None:
    key = ["policy", "env", "initial_condition", "seed"]
    repeated = frame[frame.duplicated(key, keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    places = repeated[(repeated[key] == first[key]).all(axis=1)]["where"].tolist()
    seed = "" if first["seed"] < 0 else f", seed {first['seed']}"
    raise EvaluateError(
        f"duplicate episode: policy {first['policy']!r}, env {first['env']!r}, initial condition "
        f"{first['initial_condition']}{seed} appears {len(places)} times ({'; '.join(places)}); "
        "keep one (or give a seed column telling repeated trials apart)",
        file=path,
        field=places[1],
    )


def pair(
    sim: pd.DataFrame,
    real: pd.DataFrame,
    sources: tuple[str, str],
    env_map: Mapping[str, str] | None = None,
    twin_score: str = "success",
    pooled: bool = False,
) -> tuple[list[PairedCell], list[str]]:
    """Pair every real episode with the twin at its initial condition.

    Args:
        sim, real: :func:`load_episodes` frames.
        sources: (sim, real) file names, for messages.
        env_map: sim env (or a shell-style pattern of sim envs) -> real env, where the
            twin's env id is not the real one's: see :func:`map_env`.
        twin_score: one of :data:`TWIN_SCORES`: what the twin predicts at a condition (the
            real side is always its success).
        pooled: blend each policy's twin score at a condition with every policy's there
            (module docstring).
    Returns:
        One cell per (policy, env) of the real side, sorted; notes on what was left out.
    Raises:
        EvaluateError: a real episode without a twin episode at its initial condition, two
            real trials at one initial condition, fewer than :data:`MIN_PAIRS` pairs or no
            twin-only trial for a policy (saying how many more are needed); twin episodes
            without the ``twin_score`` (a CSV without a progress column).
    """
    sim_source, real_source = sources
    if twin_score not in TWIN_SCORES:
        raise EvaluateError(
            f"twin score must be one of {', '.join(TWIN_SCORES)}, not {twin_score!r}"
        )
    missing = sim[sim[twin_score].isna()]
    if not missing.empty:
        raise EvaluateError(
            f"{len(missing)} twin episode(s) have no {twin_score} (first: "
            f"{missing['where'].iloc[0]}); a CSV needs a {twin_score} column in [0, 1]",
            file=sim_source,
        )
    sim = sim.assign(score=sim[twin_score])
    real_env = {env: map_env(env, env_map or {}, sim_source) for env in sim["env"].unique()}
    sim = sim.assign(env=sim["env"].map(real_env))
    notes: list[str] = []
    if pooled:
        sim, note = pool_policies(sim)
        notes.append(note)
    twin_groups = dict(tuple(sim.groupby(["policy", "env"], sort=False)))
    notes += [
        f"policy {p!r} in env {e!r} has twin episodes but no real ones: not estimated"
        for p, e in sorted(set(twin_groups) - set(real.groupby(["policy", "env"]).groups))
    ]
    for env in sorted(set(real_env.values())):
        merged = sorted(twin for twin, mapped in real_env.items() if mapped == env)
        if len(merged) > 1:
            notes.append(
                f"{len(merged)} twin envs stand for {env!r} ({', '.join(merged)}): their "
                "episodes at an initial condition are averaged into the twin's prediction there"
            )
    cells = []
    for (policy, env), group in sorted(real.groupby(["policy", "env"], sort=False)):
        twin = twin_groups.get((policy, env))
        where = f"policy {policy!r} in env {env!r}"
        if twin is None:
            raise EvaluateError(
                f"{where} has {len(group)} real episode(s) but no twin episode in {sim_source}"
                f" (twin envs: {', '.join(sorted(sim['env'].unique()))}; use --env-map "
                "TWIN_ENV=REAL_ENV where the names differ)",
                file=real_source,
                field=group["where"].iloc[0],
            )
        cells.append(_pair_cell(str(policy), str(env), group, twin, where, sources))
    return cells, notes


def pool_policies(sim: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``sim`` with each episode's ``score`` blended with its condition's mean over policies
    (each policy's mean there counts once), and a note saying how many policies were pooled."""
    per_policy = sim.groupby(["env", "initial_condition", "policy"])["score"].mean()
    condition = per_policy.groupby(level=["env", "initial_condition"]).agg(["mean", "size"])
    key = pd.MultiIndex.from_frame(sim[["env", "initial_condition"]])
    pooled = condition["mean"].reindex(key).to_numpy()
    score = (1.0 - POOL_WEIGHT) * sim["score"].to_numpy() + POOL_WEIGHT * pooled
    counts = condition["size"]
    note = (
        f"the twin's prediction at a condition is {1 - POOL_WEIGHT:g} x the policy's own twin "
        f"score there + {POOL_WEIGHT:g} x the mean over the policies the twin ran there "
        f"({counts.min()}-{counts.max()} per condition)"
    )
    return sim.assign(score=score), note


def map_env(env: str, env_map: Mapping[str, str], source: str = "") -> str:
    """The real env that twin env ``env`` stands for: its own ``env_map`` entry, else the
    real env of the patterns (``*``, ``?``, ``[...]``) it matches, else ``env`` itself.

    Raises:
        EvaluateError: it matches patterns that name different real envs.
    """
    if env in env_map:
        return env_map[env]
    matched = {real for pattern, real in env_map.items() if fnmatchcase(env, pattern)}
    if len(matched) > 1:
        raise EvaluateError(
            f"twin env {env!r} matches --env-map patterns for {len(matched)} real envs "
            f"({', '.join(sorted(matched))}); make it match one",
            file=source or None,
        )
    return matched.pop() if matched else env


def _pair_cell(
    policy: str,
    env: str,
    real: pd.DataFrame,
    twin: pd.DataFrame,
    where: str,
    sources: tuple[str, str],
) -> PairedCell:
    sim_source, real_source = sources
    repeated = real[real.duplicated("initial_condition", keep=False)]
    if not repeated.empty:
        ic = repeated["initial_condition"].iloc[0]
        places = repeated[repeated["initial_condition"] == ic]["where"].tolist()
        raise EvaluateError(
            f"{where} has {len(places)} real trials at initial condition {ic} "
            f"({'; '.join(places)}): PPI pairs one real trial per initial condition",
            file=real_source,
            field=places[1],
        )
    twin_means = twin.groupby("initial_condition")["score"].mean()
    unpaired = real[~real["initial_condition"].isin(twin_means.index)]
    if not unpaired.empty:
        conditions = ", ".join(str(ic) for ic in unpaired["initial_condition"].head(8))
        raise EvaluateError(
            f"{where}: {len(unpaired)} real episode(s) have no twin episode at their initial "
            f"condition ({conditions}) in {sim_source}; run the twin there, or leave them out",
            file=real_source,
            field=unpaired["where"].iloc[0],
        )
    if len(real) < MIN_PAIRS:
        raise EvaluateError(
            f"{where} has {len(real)} paired real trial(s); an interval needs at least "
            f"{MIN_PAIRS} ({MIN_PAIRS - len(real)} more)",
            file=real_source,
        )
    paired_mask = twin["initial_condition"].isin(real["initial_condition"])
    twin_only = (
        twin.loc[~paired_mask]
        .groupby("initial_condition", sort=False)["score"]
        .mean()
        .to_numpy(dtype=np.float64)
    )
    if twin_only.size == 0:
        raise EvaluateError(
            f"{where}: every twin episode is at a real trial's initial condition; PPI needs "
            "twin trials at other initial conditions (at least 1, ideally many more than the "
            "real ones)",
            file=sim_source,
        )
    return PairedCell(
        policy,
        env,
        real["success"].to_numpy(dtype=np.float64),
        twin_means.loc[real["initial_condition"]].to_numpy(dtype=np.float64),
        twin_only,
        len(twin),
    )
