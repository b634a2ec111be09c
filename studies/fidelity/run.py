"""``twinbench fidelity``: does the twin rank policies the way the world that was scanned does?

Every policy is evaluated in the source world (which plays "real") and in its twin on the same
initial conditions and seeds, then in each ablation world; each world's per-policy success and
progress are correlated with the source world's (Pearson, MMRV, Spearman, Kendall, bootstrap
intervals), for all policies and for each named subset of them. Everything lands in one
results store with a report directory per comparison next to it, which the dashboard's Sim vs
real page shows; ``fidelity.json`` and a figure summarise it.
"""

from __future__ import annotations

import difflib
import fnmatch
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from rich.console import Console

from evaluate.correlation import BootstrapConfig, Quantity, RateTable
from evaluate.documents import Bootstrap
from evaluate.errors import EvaluateError
from evaluate.report import metrics_line
from evaluate.run import Execution
from sim_env.package import EnvPackage, load_spec_checked
from sim_env.registry import resolve_env
from studies.fidelity.conditions import expand_pair
from studies.fidelity.document import FidelitySummary, Provenance
from studies.fidelity.sides import (
    EpisodePlan,
    Side,
    SideRun,
    correlate_tables,
    evaluate_side,
    write_comparison,
)
from studies.fidelity.summary import (
    HEADLINE,
    Comparison,
    fidelity_figure,
    slug,
    summarize,
    world_rates,
)
from studies.fidelity.trials import pair_trials, per_policy, trial_agreement, trials_line
from studies.fidelity.variants import ABLATIONS, VariantError
from twinbench.version import __version__

SOURCE = "source"
REPORT_DIR = "report"  # the headline's report, where the dashboard looks first
REAL_CSV = "source_world_plays_real.csv"  # the dashboard calls a CSV side by its file name


@dataclass(frozen=True)
class FidelityConfig:
    """What a fidelity measurement compares.

    Attributes:
        source: env id or package path of the world that was scanned (plays real).
        twin: env id or package path of its reconstruction.
        plan: the policies, episodes per policy and world, seeds, rendering, rollout.
        initial_conditions: evaluate both worlds with this many initial conditions (the
            packages' own, then draws around them: see ``conditions``); None: the packages'.
        ablations: names in :data:`ABLATIONS`, evaluated as extra worlds.
        ablation_episodes: episodes per policy in the ablation worlds (the first of the plan's
            seeds; each is compared with the source world's same episodes); None: all.
        subsets: name -> policy specs (each in ``plan.policies``) correlated on their own.
        bootstrap: how intervals are drawn.
    """

    source: str
    twin: str
    plan: EpisodePlan
    initial_conditions: int | None = None
    ablations: tuple[str, ...] = ()
    ablation_episodes: int | None = None
    subsets: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def __post_init__(self) -> None:
        if len(self.plan.policies) < 2:
            raise EvaluateError("a ranking needs at least 2 policies", field="policies")
        for name in self.ablations:
            if name not in ABLATIONS:
                near = difflib.get_close_matches(name, ABLATIONS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise EvaluateError(
                    f"unknown ablation {name!r} (valid: {', '.join(ABLATIONS)}){hint}",
                    field="ablations",
                )
        if (
            self.ablation_episodes is not None
            and not 1 <= self.ablation_episodes <= self.plan.episodes
        ):
            raise EvaluateError(
                f"must be in 1..{self.plan.episodes}, got {self.ablation_episodes}",
                field="ablation_episodes",
            )
        for name, policies in self.subsets.items():
            unknown = sorted(set(policies) - set(self.plan.policies))
            if unknown or len(policies) < 2:
                why = f"names policies not evaluated: {unknown}" if unknown else "has < 2 policies"
                raise EvaluateError(f"subset {name!r} {why}", field="subsets")


@dataclass(frozen=True)
class FidelityResult:
    summary: FidelitySummary
    json_path: Path
    plot_path: Path
    store: Path


def match_subset(pattern: str, policies: tuple[str, ...]) -> tuple[str, ...]:
    """The policies whose spec matches the shell-style ``pattern`` (``bundle:*/cot-*``)."""
    return tuple(p for p in policies if fnmatch.fnmatchcase(p, pattern))


def run_fidelity(
    config: FidelityConfig,
    out: Path,
    execution: Execution,
    console: Console,
    *,
    json_path: Path | None = None,
    plot_path: Path | None = None,
    command: str = "",
) -> FidelityResult:
    """Evaluate every world (resuming what ``out`` holds), compare, write reports and summary."""
    start = time.perf_counter()
    out = Path(out)
    source, twin = check_pair(config.source, config.twin)
    if config.initial_conditions is not None:
        shipped = len(source.spec.initial_conditions)
        if config.initial_conditions < shipped:
            raise EvaluateError(
                f"must be at least the {shipped} the packages ship", field="initial_conditions"
            )
        source, twin = expand_pair(
            source, twin, config.initial_conditions, config.plan.seed, out / "worlds"
        )
    sides = [
        Side(SOURCE, str(source.root), f"source world {source.name}, playing real"),
        Side(HEADLINE, str(twin.root), f"twin {twin.name}, reconstructed from the source world"),
    ]
    skipped: dict[str, str] = {}
    for name in config.ablations:
        ablation = ABLATIONS[name]
        try:
            package = ablation.build(source, twin, out / "worlds" / name)
        except VariantError as exc:
            skipped[name] = str(exc)
            console.print(f"[yellow]ablation {name} skipped:[/] {exc}", markup=False)
            continue
        sides.append(Side(name, str(package.root), f"{name}: {ablation.description}"))
    console.print(
        f"[bold]twinbench fidelity[/]: {len(config.plan.policies)} policies x "
        f"{config.plan.episodes} episodes in {len(sides)} worlds"
    )
    ablation_plan = replace(config.plan, episodes=config.ablation_episodes or config.plan.episodes)
    runs = {
        side.role: evaluate_side(
            side, ablation_plan if side.role in ABLATIONS else config.plan, out, execution, console
        )
        for side in sides
    }
    comparisons = [
        _compare(name, runs[name], runs[SOURCE], None, config, out)
        for name in runs
        if name != SOURCE
    ]
    comparisons += [
        _compare(f"subset:{name}", runs[HEADLINE], runs[SOURCE], policies, config, out)
        for name, policies in config.subsets.items()
    ]
    rates = {name: world_rates(run.tables(name), config.bootstrap) for name, run in runs.items()}
    provenance = Provenance(
        command=command,
        twinbench_version=__version__,
        bootstrap=Bootstrap.of(config.bootstrap),
        initial_conditions=config.initial_conditions,
        ablation_episodes=config.ablation_episodes or config.plan.episodes,
        derived_from={SOURCE: config.source, HEADLINE: config.twin},
        image_size=config.plan.image_size,
        max_steps=config.plan.rollout.max_steps,
        seed=config.plan.seed,
        wall_time_s=round(time.perf_counter() - start, 1),
    )
    summary = summarize(comparisons, runs, rates, config.plan.episodes, skipped, provenance)
    # the Sim vs real page's live comparison: the twin's run against these outcomes
    runs[SOURCE].outcomes(runs[HEADLINE].side.env).to_csv(out / REAL_CSV, index=False)
    json_path = Path(json_path or out / "fidelity.json")
    plot_path = Path(plot_path or out / "fidelity.png")
    summary.write(json_path)
    fidelity_figure(comparisons, "success", plot_path)
    for comparison in comparisons:
        line = f"{comparison.name}: {metrics_line(comparison.agreement('success'))}"
        line += trials_line(comparison.trials)
        console.print(line, markup=False, emoji=False)
    console.print(f"summary: {json_path}; figure: {plot_path}")
    console.print(f"dashboard: twinbench dashboard --store {runs[SOURCE].store}")
    return FidelityResult(summary, json_path, plot_path, runs[SOURCE].store)


def check_pair(source_id: str, twin_id: str) -> tuple[EnvPackage, EnvPackage]:
    """Both packages, checked to pose the same task: objects, rubric, initial conditions."""
    source = load_spec_checked(resolve_env(source_id))
    twin = load_spec_checked(resolve_env(twin_id))
    checks = {
        "objects": lambda spec: sorted(o.name for o in spec.objects),
        "rubric.criteria": lambda spec: [c.name for c in spec.rubric.criteria],
        "initial_conditions": lambda spec: len(spec.initial_conditions),
    }
    for name, view in checks.items():
        if view(source.spec) != view(twin.spec):
            raise EvaluateError(
                f"the twin's {name} ({view(twin.spec)}) differ from the source world's "
                f"({view(source.spec)}): episodes would not be the same task",
                file=twin.root,
                field=name,
            )
    return source, twin


def _compare(
    name: str,
    sim: SideRun,
    real: SideRun,
    policies: tuple[str, ...] | None,
    config: FidelityConfig,
    out: Path,
) -> Comparison:
    """One comparison's reports; ``policies`` restricts it to a subset."""
    task = f"{name} vs source"
    real = replace(real, seeds=sim.seeds)  # the same episodes on both sides
    tables = [_only(run.tables(task), policies) for run in (sim, real)]
    reports = correlate_tables(*tables, config.bootstrap)
    folder = out / (REPORT_DIR if name == HEADLINE else f"{REPORT_DIR}-{slug(name)}")
    report = write_comparison(folder, sim, real, reports, config.bootstrap)
    description = (
        f"twin vs source world, policies {', '.join(policies)}"
        if policies
        else f"{sim.side.description} vs the source world"
    )
    pairs = pair_trials(sim.trials(), real.trials())
    if policies is not None:
        pairs = pairs[pairs["policy"].isin(policies)]
    return Comparison(name, description, sim, reports, report, trial_agreement(per_policy(pairs)))


def _only(
    tables: Mapping[Quantity, RateTable], policies: tuple[str, ...] | None
) -> dict[Quantity, RateTable]:
    if policies is None:
        return dict(tables)
    return {
        quantity: replace(
            table, cells={key: cell for key, cell in table.cells.items() if key[0] in policies}
        )
        for quantity, table in tables.items()
    }
