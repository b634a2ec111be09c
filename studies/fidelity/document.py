"""``fidelity.json``: the fidelity summary as a versioned, typed document.

It leads with the headline (the twin against the source world, on success): the four
metrics with their intervals, ``n_policies``, ``episodes_per_policy`` and whether the goal
was met; then ``comparisons`` (the twin, each ablation world, each policy subset, on success
and progress), ``worlds``, every policy's rates in every world, and how the run was made
(``provenance``). The dashboard reads it through :meth:`FidelitySummary.load`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from evaluate.correlation import Quantity
from evaluate.documents import Bootstrap, Document, Interval, Intervals, Metrics, Model


class Goal(Model):
    """The bar the headline is held to, and whether it was met (``why`` when not)."""

    pearson: float  # at least
    mmrv: float  # at most
    met: bool
    why: str | None = None


class TrialAgreement(Model):
    """The world against the source world episode by episode (``studies.fidelity.trials``)."""

    pairs: int  # episodes both ran (same policy and seed)
    agreement: float  # share of them with the same outcome
    median_r: float | None  # per-trial r, median over the policies the source succeeds 10-90%
    policies_varied: int  # those policies


class ComparisonEntry(Model):
    """One world (or a subset of policies) against the source world."""

    description: str
    world: str  # the env id or package path of the world compared
    episodes_per_policy: int
    report: str  # its report.json
    success: Metrics
    progress: Metrics
    rank_differs: list[str]  # policies ranked differently on success
    # episode by episode; absent (and not written) in summaries made before session 16
    trials: TrialAgreement | None = Field(default=None, exclude_if=lambda v: v is None)

    def metrics(self, quantity: Quantity) -> Metrics:
        return self.success if quantity == "success" else self.progress


class World(Model):
    """One evaluated world: its run in the store, and the episodes left out of its rates."""

    env: str
    description: str
    run_id: str
    store: str
    excluded: dict[str, int] = Field(
        default_factory=dict
    )  # failure kind -> episodes (diverged, error)


class Rates(Model):
    """One policy in one world: episodes that count, each rate with its interval."""

    episodes: int
    success: float
    success_ci: Interval
    progress: float
    progress_ci: Interval
    excluded: dict[str, int] = Field(default_factory=dict)  # failure kind -> episodes left out

    def rate(self, quantity: Quantity) -> tuple[float, Interval]:
        if quantity == "success":
            return self.success, self.success_ci
        return self.progress, self.progress_ci


class PolicyRates(Model):
    policy: str
    worlds: dict[str, Rates]  # world name -> its rates (absent: no episode that counts)


class Provenance(Model):
    """How the summary was made."""

    command: str
    twinbench_version: str
    bootstrap: Bootstrap
    initial_conditions: int | None
    ablation_episodes: int
    derived_from: dict[str, str]  # source, twin -> the env ids they were given as
    image_size: tuple[int, int] | None  # (width, height)
    max_steps: int | None
    seed: int
    wall_time_s: float


class FidelitySummary(Document):
    """The twin (and ablation worlds, policy subsets) against the source world, which plays
    real."""

    VERSION: ClassVar[int] = 1
    KIND: ClassVar[str] = "fidelity summary"
    schema_version: Literal[1] = 1
    pearson: float
    mmrv: float
    spearman: float
    kendall: float
    ci: Intervals | None
    n_policies: int
    episodes_per_policy: int
    quantity: Quantity
    goal: Goal
    comparisons: dict[str, ComparisonEntry]
    skipped_ablations: dict[str, str]  # ablation -> why it could not be built
    worlds: dict[str, World]
    policies: list[PolicyRates]
    provenance: Provenance
