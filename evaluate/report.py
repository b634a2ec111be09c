"""Write a correlation report directory: report.json, a scatter plot per scope, index.html.

report.json (a :class:`evaluate.documents.CorrelationReportDocument`) carries everything the
``--json`` summary has, plus each side's source and label, each policy's rates, ranks and
whether its sim and real ranks disagree (``flagged``). index.html embeds the plots, so the
directory's one HTML file can be mailed or attached on its own.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evaluate.correlation import Agreement, BootstrapConfig, CorrelationReport, Quantity
from evaluate.documents import (
    Bootstrap,
    CorrelationReportDocument,
    Metrics,
    PolicyResult,
    QuantityResult,
    ReportSide,
    ReportSides,
    ScopeResult,
)
from evaluate.errors import EvaluateError
from twinbench.version import __version__

METRIC_LABELS = {
    "pearson": "Pearson r",
    "mmrv": "MMRV",
    "spearman": "Spearman",
    "kendall": "Kendall",
}


@dataclass(frozen=True)
class ReportInputs:
    """What was compared and how, recorded in report.json; a side given as a path is
    labelled by its file name (:meth:`ReportSide.of`)."""

    sim: ReportSide | str
    real: ReportSide | str
    primary: Quantity
    bootstrap: BootstrapConfig

    def __post_init__(self) -> None:
        for name in ("sim", "real"):
            side = getattr(self, name)
            if isinstance(side, str):
                object.__setattr__(self, name, ReportSide.of(side))

    @property
    def sides(self) -> ReportSides:
        return ReportSides.model_validate({"sim": self.sim, "real": self.real})


def check_output(out_dir: Path) -> None:
    """Whether the report directory can be made; the CLI asks before any work.

    Raises:
        EvaluateError: ``out_dir``, or a folder above it, is a file.
    """
    existing = next(path for path in (out_dir, *out_dir.parents) if path.exists())
    if not existing.is_dir():
        what = "" if existing == out_dir else f" (so {out_dir} cannot be made)"
        raise EvaluateError(
            f"exists and is not a directory{what}: --output names the directory the report goes in",
            file=existing,
        )


def write_report(
    out_dir: Path, reports: Mapping[Quantity, CorrelationReport], inputs: ReportInputs
) -> Path:
    """Write report.json, the PNGs and index.html into ``out_dir``; return report.json's path.

    Raises:
        EvaluateError: the directory cannot be made or a file in it written.
    """
    check_output(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return _write_files(out_dir, reports, inputs)
    except OSError as exc:
        where = exc.filename or out_dir
        raise EvaluateError(f"cannot write the report ({exc.strerror or exc})", file=where) from exc


def _write_files(
    out_dir: Path, reports: Mapping[Quantity, CorrelationReport], inputs: ReportInputs
) -> Path:
    results: dict[Quantity, QuantityResult] = {}
    sections = []
    for quantity, report in reports.items():
        scopes = [*report.per_env.values(), *([report.pooled] if report.pooled else [])]
        plots = [_env_plot_name(quantity, i, env) for i, env in enumerate(report.per_env)]
        plots += [f"{quantity}_pooled.png"] if report.pooled else []
        for agreement, plot in zip(scopes, plots, strict=True):
            scatter_plot(agreement, quantity, out_dir / plot)
        entries = [_detail(a, plot) for a, plot in zip(scopes, plots, strict=True)]
        results[quantity] = QuantityResult(
            per_env=dict(zip(report.per_env, entries, strict=False)),
            pooled=entries[-1] if report.pooled else None,
            notes=list(report.notes),
        )
        sections.append(_html_section(quantity, report, scopes, plots, out_dir))
    document = CorrelationReportDocument(
        twinbench_version=__version__,
        inputs=inputs.sides,
        primary=inputs.primary,
        bootstrap=Bootstrap.of(inputs.bootstrap),
        results=results,
    )
    path = document.write(out_dir / "report.json")
    (out_dir / "index.html").write_text(_html_page(document.inputs, inputs.bootstrap, sections))
    return path


def _env_plot_name(quantity: str, index: int, env: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", env).strip("_") or "env"
    return f"{quantity}_env{index:02d}_{slug}.png"


def _detail(agreement: Agreement, plot: str) -> ScopeResult:
    return ScopeResult(
        **dict(Metrics.of(agreement)),
        plot=plot,
        flagged=[p.policy for p in agreement.points if p.rank_disagrees],
        policies=[
            PolicyResult(
                policy=p.policy,
                sim=p.sim,
                real=p.real,
                sim_ci=p.sim_interval,
                real_ci=p.real_interval,
                sim_rank=p.sim_rank,
                real_rank=p.real_rank,
                max_rank_violation=p.max_violation,
                flagged=p.rank_disagrees,
            )
            for p in agreement.points
        ],
    )


def metrics_line(agreement: Agreement, sep: str = " · ") -> str:
    """'Pearson r 0.975 [0.91, 0.99] · MMRV 0.031 [...] · ...' for titles and tables."""
    parts = []
    for name, label in METRIC_LABELS.items():
        text = f"{label} {agreement.values[name]:.3f}"
        if agreement.intervals is not None:
            low, high = agreement.intervals[name]
            text += f" [{low:.2f}, {high:.2f}]"
        parts.append(text)
    return sep.join(parts)


def short_name(policy: str) -> str:
    """``bundle:path/to/src-1500`` -> ``src-1500``; other specs unchanged."""
    scheme, _, rest = policy.partition(":")
    if scheme == "bundle" and rest:
        return Path(rest.rstrip("/")).name
    return policy


def scatter_plot(agreement: Agreement, quantity: str, path: Path) -> None:
    """Sim rate against real rate per policy, y = x for reference; rank disagreements in red."""
    fig = Figure(figsize=(6.4, 6.0), layout="constrained")
    draw_scatter(fig.add_subplot(), agreement, quantity)
    fig.savefig(path, dpi=100)


def draw_scatter(
    ax: Axes, agreement: Agreement, quantity: str, real: str = "real", sim: str = "sim"
) -> None:
    """:func:`scatter_plot`'s drawing on ``ax``; ``real`` and ``sim`` name the axes' sides.
    Points are labelled with :func:`short_name` where those stay distinct."""
    policies = [p.policy for p in agreement.points]
    short = [short_name(policy) for policy in policies]
    labels = dict(zip(policies, short if len(set(short)) == len(short) else policies, strict=True))
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="sim = real")
    for flagged, colour, label in (
        (False, "tab:blue", "ranks agree"),
        (True, "tab:red", "ranks differ"),
    ):
        points = [p for p in agreement.points if p.rank_disagrees == flagged]
        if not points:
            continue
        ax.errorbar(
            [p.real for p in points],
            [p.sim for p in points],
            xerr=_error_bars([p.real for p in points], [p.real_interval for p in points]),
            yerr=_error_bars([p.sim for p in points], [p.sim_interval for p in points]),
            fmt="o",
            color=colour,
            ecolor=colour,
            alpha=0.85,
            capsize=2,
            label=label,
        )
        for p in points:
            ax.annotate(
                labels[p.policy],
                (p.real, p.sim),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
                color=colour,
                fontweight="bold" if flagged else "normal",
            )
    ax.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05), aspect="equal")
    ax.set_xlabel(f"{real} {quantity} rate")
    ax.set_ylabel(f"{sim} {quantity} rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        f"{agreement.scope} ({quantity}, {agreement.n_policies} policies)\n"
        + metrics_line(agreement, sep="\n" if agreement.intervals else " · "),
        fontsize=8,
    )


def _error_bars(
    values: list[float], intervals: list[tuple[float, float] | None]
) -> list[list[float]]:
    """matplotlib's [[below...], [above...]] error bars; zero where there is no interval."""
    below = [v - i[0] if i else 0.0 for v, i in zip(values, intervals, strict=True)]
    above = [i[1] - v if i else 0.0 for v, i in zip(values, intervals, strict=True)]
    return [[max(b, 0.0) for b in below], [max(a, 0.0) for a in above]]


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.flagged td { background: #fde2e1; }
.notes { color: #555; }
figure { display: inline-block; margin: 0.5em; }
"""


def _html_page(sides: ReportSides, bootstrap: BootstrapConfig, sections: list[str]) -> str:
    e = html.escape

    def side(name: str, report_side: ReportSide) -> str:
        excluded = ", ".join(f"{n} {kind}" for kind, n in report_side.excluded.items())
        left_out = f" ({e(excluded)} episodes left out of the rates)" if excluded else ""
        return f"{name}: {e(report_side.label)} <code>{e(report_side.source)}</code>{left_out}"

    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>twinbench correlation</title>"
        f"<style>{_STYLE}</style></head><body>\n<h1>Sim–real correlation</h1>\n"
        f"<p>{side('sim', sides.sim)}<br>{side('real', sides.real)}<br>"
        f"bootstrap: {bootstrap.n_resamples} resamples, {bootstrap.level:.0%} "
        f"percentile intervals, seed {bootstrap.seed}; twinbench {e(__version__)}</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _html_section(
    quantity: str,
    report: CorrelationReport,
    scopes: list[Agreement],
    plots: list[str],
    out_dir: Path,
) -> str:
    e = html.escape
    head = "".join(f"<th>{label}</th>" for label in METRIC_LABELS.values())
    rows = []
    for a in scopes:
        cells = []
        for name in METRIC_LABELS:
            ci = f" [{a.intervals[name][0]:.2f}, {a.intervals[name][1]:.2f}]" if a.intervals else ""
            cells.append(f"<td>{a.values[name]:.3f}{ci}</td>")
        flagged = ", ".join(p.policy for p in a.points if p.rank_disagrees) or "–"
        rows.append(
            f"<tr><td>{e(a.scope)}</td><td>{a.n_policies}</td>{''.join(cells)}<td>{e(flagged)}</td></tr>"
        )
    parts = [
        f"<h2>{e(quantity)}</h2>",
        f"<table><tr><th>scope</th><th>policies</th>{head}<th>rank differs</th></tr>{''.join(rows)}</table>",
    ]
    if report.notes:
        parts.append(
            "<ul class='notes'>" + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>"
        )
    for a, plot in zip(scopes, plots, strict=True):
        image = base64.b64encode((out_dir / plot).read_bytes()).decode("ascii")
        policy_rows = "".join(
            f"<tr class='{'flagged' if p.rank_disagrees else ''}'><td>{e(p.policy)}</td>"
            f"<td>{p.sim:.3f}</td><td>{p.real:.3f}</td><td>{p.sim_rank:g}</td><td>{p.real_rank:g}</td>"
            f"<td>{p.max_violation:.3f}</td></tr>"
            for p in a.points
        )
        parts.append(
            f"<h3>{e(a.scope)}</h3><figure><img alt='{e(a.scope)} scatter' src='data:image/png;base64,{image}'>"
            f"<figcaption><a href='{e(plot)}'>{e(plot)}</a></figcaption></figure>"
            "<table><tr><th>policy</th><th>sim</th><th>real</th><th>sim rank</th><th>real rank</th>"
            f"<th>max rank violation</th></tr>{policy_rows}</table>"
        )
    return "\n".join(parts)
