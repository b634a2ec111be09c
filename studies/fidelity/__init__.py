"""Fidelity of a twin: policy rankings in the twin against those in the world that was scanned."""

from studies.fidelity.document import FidelitySummary
from studies.fidelity.run import (
    FidelityConfig,
    FidelityResult,
    check_pair,
    match_subset,
    run_fidelity,
)
from studies.fidelity.sides import (
    EpisodePlan,
    Side,
    SideRun,
    correlate_tables,
    evaluate_side,
    write_comparison,
)
from studies.fidelity.summary import GOAL, Comparison, fidelity_figure, summarize, world_rates
from studies.fidelity.variants import ABLATIONS, Ablation, VariantError

__all__ = [
    "ABLATIONS",
    "GOAL",
    "Ablation",
    "Comparison",
    "EpisodePlan",
    "FidelityConfig",
    "FidelityResult",
    "FidelitySummary",
    "Side",
    "SideRun",
    "VariantError",
    "check_pair",
    "correlate_tables",
    "evaluate_side",
    "fidelity_figure",
    "match_subset",
    "run_fidelity",
    "summarize",
    "world_rates",
    "write_comparison",
]
