"""``twinbench correlate``: how well do sim success rates predict real ones?

Heavy imports (numpy, pandas, matplotlib) happen inside the command, so ``twinbench --help``
stays fast. With ``--json`` stdout carries only the JSON summary; the table goes to stderr.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from evaluate.correlation import CorrelationReport


class Rate(StrEnum):
    """The per-policy rate compared (mirrors evaluate.correlation.QUANTITIES, kept light here)."""

    success = "success"
    progress = "progress"


def correlate(
    sim: Annotated[
        str,
        typer.Option(
            "--sim",
            help="Sim outcomes: a run directory (with results.sqlite), a .sqlite store, a "
            "postgresql://USER@HOST:PORT/DB store or a CSV.",
        ),
    ],
    real: Annotated[
        Path,
        typer.Option(
            "--real",
            help="Real outcomes CSV: policy, env and success_rate, or successes and trials, "
            "or success (one row per episode); progress optional.",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Report directory (report.json, plots, index.html)."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout (table on stderr).")
    ] = False,
    rate: Annotated[Rate, typer.Option("--metric", help="Which rate to compare.")] = Rate.success,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="With a sim store: only this run's episodes (repeatable)."),
    ] = None,
    resamples: Annotated[
        int, typer.Option("--resamples", min=1, help="Bootstrap resamples.")
    ] = 1000,
    level: Annotated[
        float,
        typer.Option("--level", min=0.5, max=0.999, help="Confidence level of the intervals."),
    ] = 0.95,
    seed: Annotated[
        int, typer.Option("--seed", help="Bootstrap seed (same seed, same intervals).")
    ] = 0,
) -> None:
    """Correlate sim against real per-policy rates: Pearson, MMRV, Spearman, Kendall, with CIs.

    Example: twinbench correlate --sim runs/my_eval --real real.csv -o reports/my_eval --json
    """
    from rich.console import Console

    from evaluate.correlation import QUANTITIES, BootstrapConfig, load_tables
    from evaluate.correlation import correlate as compare
    from evaluate.documents import ReportSide
    from evaluate.errors import EvaluateError
    from evaluate.report import ReportInputs, check_output, write_report
    from evaluate.store import store_location

    metric = rate.value
    check_output(output)  # a bad --output fails now, not after the bootstrap
    sim_source = store_location(sim)  # a path, or a URL (shown without its password)
    sim_tables = load_tables(sim_source, run_ids=run or ())
    real_tables = load_tables(real)
    for path, tables in ((sim_source, sim_tables), (real, real_tables)):
        if metric not in tables:
            raise EvaluateError(
                f"--metric {metric} needs a {metric} column or store field; none here", file=path
            )
    config = BootstrapConfig(n_resamples=resamples, level=level, seed=seed)
    shared = [metric] + [
        q for q in QUANTITIES if q != metric and q in sim_tables and q in real_tables
    ]
    reports = {q: compare(sim_tables[q], real_tables[q], q, config) for q in shared}
    sides = (
        ReportSide.of(str(path), tables)
        for path, tables in ((sim_source, sim_tables), (real, real_tables))
    )
    report_path = write_report(output, reports, ReportInputs(*sides, metric, config))

    console = Console(stderr=as_json)
    console.print(_summary_table(reports[metric], level))
    for note in reports[metric].notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"report: {report_path.parent / 'index.html'}")
    if as_json:
        typer.echo(json.dumps(reports[metric].summary(), allow_nan=False))


def _summary_table(report: CorrelationReport, level: float) -> Table:
    from rich.table import Table

    from evaluate.report import metrics_line

    table = Table(title=f"sim vs real {report.quantity} rates")
    table.add_column("scope")
    table.add_column("policies", justify="right")
    table.add_column(f"metrics [{level:.0%} CI]")
    table.add_column("rank differs", style="red")
    scopes = [*report.per_env.values(), *([report.pooled] if report.pooled else [])]
    for agreement in scopes:
        flagged = ", ".join(p.policy for p in agreement.points if p.rank_disagrees)
        table.add_row(
            agreement.scope, str(agreement.n_policies), metrics_line(agreement, sep="\n"), flagged
        )
    return table
