"""Worlds evaluated on the same policies and initial conditions, compared pairwise.

``twinbench demo`` and ``twinbench fidelity`` share this: each evaluates one :class:`Side`
per world into one results store (resumable: a side's run id follows from its config), reads
each run's per-policy outcomes under a shared task name so that the cells of two worlds
match, and correlates a "sim" side against the side that plays "real".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console

from evaluate.correlation import (
    QUANTITIES,
    BootstrapConfig,
    CorrelationReport,
    Quantity,
    RateTable,
    correlate,
)
from evaluate.correlation.tables import tables_from_episodes
from evaluate.documents import ReportSide
from evaluate.report import ReportInputs, write_report
from evaluate.rollout import RolloutConfig
from evaluate.run import STORE_FILENAME, EvalConfig, Execution
from evaluate.run.console import run_with_progress
from evaluate.store import EXCLUDED_KINDS, ResultsStore
from sim_env.images import ImageSize
from sim_env.scene import PhysicsConfig


@dataclass(frozen=True)
class Side:
    """One world of a comparison.

    Attributes:
        role: what it plays (``real``, ``sim``, ``twin`` ...); names its run's label.
        env: the environment id or package path that is this world.
        description: what this world really is, printed and stored with the run (the
            dashboard calls the side by it).
        physics: the simulator settings it runs with.
    """

    role: str
    env: str
    description: str
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)


@dataclass(frozen=True)
class SideRun:
    """A side evaluated: the run holding its episodes, and the episode seeds read from it
    (narrowed with ``dataclasses.replace`` to compare with a side that ran fewer)."""

    side: Side
    store: Path
    run_id: str
    seeds: range

    @property
    def source(self) -> str:
        """``STORE run ID``: where reports say its outcomes came from."""
        return f"{self.store} run {self.run_id}"

    def outcomes(self, task: str) -> pd.DataFrame:
        """One row per episode: ``policy``, ``env`` (named ``task``), ``success``, ``progress``,
        ``failure_kind`` (diverged and errored episodes are left out of the tables, and
        counted); in (policy, seed) order, not the order parallel workers recorded them in, so
        that the bootstrap resamples the same episodes on every run."""
        with ResultsStore.open(self.store, read_only=True) as results:
            frame = results.episodes(run_id=self.run_id)
        frame = frame[frame["seed"].isin(self.seeds)].rename(columns={"policy_id": "policy"})
        frame = frame.sort_values(["policy", "seed"], kind="stable")
        frame["env"] = task
        frame["success"] = frame["success"].astype(float)
        return frame[["policy", "env", "success", "progress", "failure_kind"]]

    def trials(self) -> pd.DataFrame:
        """``policy``, ``seed``, ``success`` of every episode that counts (as :meth:`outcomes`
        counts them), to pair with another side's same episodes."""
        with ResultsStore.open(self.store, read_only=True) as results:
            frame = results.episodes(run_id=self.run_id)
        frame = frame[frame["seed"].isin(self.seeds) & ~frame["failure_kind"].isin(EXCLUDED_KINDS)]
        return pd.DataFrame(
            {
                "policy": frame["policy_id"].astype(str),
                "seed": frame["seed"].astype(int),
                "success": frame["success"].astype(float),
            }
        )

    def tables(self, task: str) -> dict[Quantity, RateTable]:
        """Per-policy success and progress, the env renamed to ``task`` so cells match."""
        return tables_from_episodes(self.outcomes(task), self.source)


@dataclass(frozen=True)
class EpisodePlan:
    """What every side of a comparison runs: the same policies, episodes and seeds."""

    policies: tuple[str, ...]
    episodes: int
    seed: int = 0
    image_size: ImageSize | None = None  # None: each camera's own; (w, h) or "WxH" too
    rollout: RolloutConfig = field(default_factory=RolloutConfig)

    def __post_init__(self) -> None:
        if self.image_size is not None:
            object.__setattr__(self, "image_size", ImageSize.coerce(self.image_size))


def evaluate_side(
    side: Side, plan: EpisodePlan, out: Path, execution: Execution, console: Console
) -> SideRun:
    """Evaluate ``plan`` in ``side``'s world into ``out/results.sqlite`` (resuming)."""
    config = EvalConfig(
        envs=(side.env,),
        policies=plan.policies,
        episodes=plan.episodes,
        seed=plan.seed,
        image_size=plan.image_size,
        rollout=plan.rollout,
        physics=side.physics,
        label=f"{side.role}: {side.description}",
    )
    run_id = run_with_progress(config, out, execution, console, label=f"{side.role} side")
    seeds = range(plan.seed, plan.seed + plan.episodes)
    return SideRun(side, Path(out) / STORE_FILENAME, run_id, seeds)


def correlate_tables(
    sim: Mapping[Quantity, RateTable],
    real: Mapping[Quantity, RateTable],
    bootstrap: BootstrapConfig,
) -> dict[Quantity, CorrelationReport]:
    """Success and progress agreement of ``sim`` against ``real``."""
    return {
        quantity: correlate(sim[quantity], real[quantity], quantity, bootstrap)
        for quantity in QUANTITIES
    }


def write_comparison(
    out_dir: Path,
    sim: SideRun,
    real: SideRun,
    reports: Mapping[Quantity, CorrelationReport],
    bootstrap: BootstrapConfig,
) -> Path:
    """The report directory (report.json, plots, index.html) of ``sim`` against ``real``;
    each side is labelled by its world's description."""
    sides = (
        ReportSide.of(run.source, run.tables(run.side.role), label=run.side.description)
        for run in (sim, real)
    )
    inputs = ReportInputs(*sides, primary="success", bootstrap=bootstrap)
    return write_report(out_dir, reports, inputs)
