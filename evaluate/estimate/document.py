"""``estimate.json``: what ``twinbench estimate`` found, as a versioned pydantic document.

It holds every interval of both families; :meth:`EstimateDocument.summary` is the smaller
document ``--json`` prints (the chosen family's real-only and PPI intervals per policy, and
the pairwise differences).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from evaluate.documents import Document, Model, ReportSides
from evaluate.estimate.analysis import Bounds, CellEstimate, Family, PairDifference
from evaluate.estimate.plan import Plan

__all__ = ["CellResult", "EstimateDocument", "IntervalResult", "PairResult", "PlanResult"]


class IntervalResult(Model):
    estimate: float
    low: float
    high: float
    lam: float | None = None  # the twin's weight (PPI only)

    @classmethod
    def of(cls, bounds: Bounds) -> IntervalResult:
        return cls(estimate=bounds.estimate, low=bounds.low, high=bounds.high, lam=bounds.lam)


class CellResult(Model):
    """One policy in one environment: trials used, every interval, real trials saved."""

    policy: str
    env: str
    n_real: int
    n_sim: int  # twin episodes used, paired and twin-only
    n_twin_only: int
    agreement: float  # fraction of pairs where the twin's outcome matched the real one
    trial_correlation: float | None = None  # r over the pairs: PPI saves at most r^2
    wilson: IntervalResult
    exact: IntervalResult
    real_betting: IntervalResult
    ppi_clt: IntervalResult
    ppi_betting: IntervalResult
    real_trials_saved: dict[Family, int]

    @classmethod
    def of(cls, item: CellEstimate) -> CellResult:
        return cls(
            policy=item.cell.policy,
            env=item.cell.env,
            n_real=item.n_real,
            n_sim=item.cell.n_sim,
            n_twin_only=int(item.cell.twin.size),
            agreement=item.agreement,
            trial_correlation=item.trial_correlation,
            **{
                name: IntervalResult.of(getattr(item, name))
                for name in ("wilson", "exact", "real_betting", "ppi_clt", "ppi_betting")
            },
            real_trials_saved=dict(item.saved),
        )

    def real_only(self, family: Family) -> IntervalResult:
        return self.exact if family == "finite-sample" else self.wilson

    def ppi(self, family: Family) -> IntervalResult:
        return self.ppi_betting if family == "finite-sample" else self.ppi_clt


class PairResult(Model):
    env: str
    better: str
    worse: str
    difference: float
    low: float
    high: float
    settled: bool

    @classmethod
    def of(cls, pair: PairDifference) -> PairResult:
        return cls(
            env=pair.env,
            better=pair.better,
            worse=pair.worse,
            difference=pair.difference,
            low=pair.low,
            high=pair.high,
            settled=pair.settled,
        )


class PlanResult(Model):
    policy: str
    env: str
    width: float
    n_real: int
    n_twin_only: int
    more_real: int
    more_twin: int
    real_only_needed: int

    @classmethod
    def of(cls, item: Plan, width: float) -> PlanResult:
        return cls(
            width=width, **{k: getattr(item, k) for k in PlanResult.model_fields if k != "width"}
        )


class EstimateDocument(Document):
    """Real success rates from a few real trials and many twin trials (``twinbench estimate``)."""

    VERSION: ClassVar[int] = 1
    KIND: ClassVar[str] = "estimate report"
    schema_version: Literal[1] = 1
    twinbench_version: str
    inputs: ReportSides
    confidence: float
    family: Family  # the intervals the summary and the plots lead with
    twin_score: str = "success"  # what the twin's pairs and twin-only trials are: TWIN_SCORES
    pooled: bool = False  # the twin's score blended with every policy's at the condition
    policies: list[CellResult]
    pairs: list[PairResult]
    plan: list[PlanResult] | None = None
    notes: list[str]

    @classmethod
    def build(
        cls,
        *,
        version: str,
        inputs: ReportSides,
        confidence: float,
        family: Family,
        estimates: Sequence[CellEstimate],
        twin_score: str = "success",
        pooled: bool = False,
        pairs: Sequence[PairDifference],
        plans: Sequence[PlanResult] | None,
        notes: Sequence[str],
    ) -> EstimateDocument:
        return cls(
            twinbench_version=version,
            inputs=inputs,
            confidence=confidence,
            family=family,
            twin_score=twin_score,
            pooled=pooled,
            policies=[CellResult.of(item) for item in estimates],
            pairs=[PairResult.of(pair) for pair in pairs],
            plan=None if plans is None else list(plans),
            notes=list(notes),
        )

    def summary(self) -> dict[str, object]:
        """The ``--json`` document: the chosen family's intervals, as issue #23 specifies."""
        policies = []
        for cell in self.policies:
            real, ppi = cell.real_only(self.family), cell.ppi(self.family)
            policies.append(
                {
                    "policy": cell.policy,
                    "env": cell.env,
                    "real_only": {
                        "estimate": real.estimate,
                        "low": real.low,
                        "high": real.high,
                        "n": cell.n_real,
                    },
                    "ppi": {
                        "estimate": ppi.estimate,
                        "low": ppi.low,
                        "high": ppi.high,
                        "n_real": cell.n_real,
                        "n_sim": cell.n_sim,
                    },
                    "real_trials_saved": cell.real_trials_saved[self.family],
                }
            )
        pairs = [pair.model_dump() for pair in self.pairs]
        summary: dict[str, object] = {
            "confidence": self.confidence,
            "policies": policies,
            "pairs": pairs,
        }
        if self.plan is not None:
            summary["plan"] = [item.model_dump() for item in self.plan]
        return summary
