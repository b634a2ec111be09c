"""Write an estimate report directory: estimate.json, a picture of the intervals per env, and
index.html with the tables and the pictures embedded (one file to mail)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evaluate.errors import EvaluateError
from evaluate.estimate.document import CellResult, EstimateDocument
from evaluate.report import check_output

__all__ = ["REPORT_FILE", "draw_intervals", "envs", "interval_figure", "write_estimate_report"]

REPORT_FILE = "estimate.json"
SERIES = (  # (field, label, colour): real-only first, then PPI, asymptotic then finite-sample
    ("wilson", "real only: Wilson", "tab:gray"),
    ("exact", "real only: exact (finite-sample)", "black"),
    ("ppi_clt", "PPI++ (asymptotic)", "tab:cyan"),
    ("ppi_betting", "PPI betting (finite-sample)", "tab:blue"),
)


def draw_intervals(ax: Axes, cells: list[CellResult], env: str, confidence: float) -> None:
    """One row per policy, one bar per interval, the estimate as a dot."""
    offsets = [0.3, 0.1, -0.1, -0.3]
    for (field, label, colour), offset in zip(SERIES, offsets, strict=True):
        for row, cell in enumerate(cells):
            bounds = getattr(cell, field)
            y = len(cells) - 1 - row + offset
            ax.plot(
                [bounds.low, bounds.high],
                [y, y],
                color=colour,
                linewidth=2.5,
                label=label if row == 0 else None,
            )
            ax.plot([bounds.estimate], [y], "o", color=colour, markersize=4)
    ax.set_yticks(
        range(len(cells)),
        [
            f"{c.policy.rsplit('/', 1)[-1]}\n{c.n_real} real, {c.n_sim} twin"
            for c in reversed(cells)
        ],
        fontsize=7,
    )
    ax.set(xlim=(-0.02, 1.02), xlabel="real success rate")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{env}: {confidence:.0%} intervals", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=7)


def interval_figure(cells: list[CellResult], env: str, confidence: float) -> Figure:
    """:func:`draw_intervals` on a figure sized to the policies (report and dashboard)."""
    fig = Figure(figsize=(7.0, 1.2 + 0.55 * len(cells)), layout="constrained")
    draw_intervals(fig.add_subplot(), cells, env, confidence)
    return fig


def write_estimate_report(out_dir: Path, document: EstimateDocument) -> Path:
    """Write estimate.json, one PNG per env and index.html; return estimate.json's path.

    Raises:
        EvaluateError: the directory cannot be made or a file in it written.
    """
    check_output(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = document.write(out_dir / REPORT_FILE)
        plots = _plots(out_dir, document)
        (out_dir / "index.html").write_text(_page(document, plots, out_dir))
        return path
    except OSError as exc:
        where = exc.filename or out_dir
        raise EvaluateError(f"cannot write the report ({exc.strerror or exc})", file=where) from exc


def envs(document: EstimateDocument) -> dict[str, list[CellResult]]:
    """Cells per env, in document order."""
    grouped: dict[str, list[CellResult]] = {}
    for cell in document.policies:
        grouped.setdefault(cell.env, []).append(cell)
    return grouped


def _plots(out_dir: Path, document: EstimateDocument) -> dict[str, str]:
    names = {}
    for index, (env, cells) in enumerate(envs(document).items()):
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", env).strip("_")[-40:] or "env"
        name = f"intervals_env{index:02d}_{slug}.png"
        interval_figure(cells, env, document.confidence).savefig(out_dir / name, dpi=100)
        names[env] = name
    return names


def _r(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _page(document: EstimateDocument, plots: dict[str, str], out_dir: Path) -> str:
    e = html.escape
    family = document.family
    head = (
        "<tr><th>policy</th><th>env</th><th>real</th><th>twin</th><th>agree</th><th>twin r</th>"
        "<th>Wilson</th><th>exact</th><th>PPI++</th><th>PPI betting</th>"
        "<th>saved (asympt.)</th><th>saved (finite)</th></tr>"
    )

    def span(b: object) -> str:
        return f"{b.estimate:.2f} [{b.low:.2f}, {b.high:.2f}]"  # type: ignore[attr-defined]

    rows = "".join(
        f"<tr><td>{e(c.policy)}</td><td>{e(c.env)}</td><td>{c.n_real}</td><td>{c.n_sim}</td>"
        f"<td>{c.agreement:.0%}</td><td>{_r(c.trial_correlation)}</td>"
        f"<td>{span(c.wilson)}</td><td>{span(c.exact)}</td>"
        f"<td>{span(c.ppi_clt)}</td><td>{span(c.ppi_betting)}</td>"
        f"<td>{c.real_trials_saved['asymptotic']}</td><td>{c.real_trials_saved['finite-sample']}</td></tr>"
        for c in document.policies
    )
    pairs = "".join(
        f"<tr><td>{e(p.env)}</td><td>{e(p.better)}</td><td>{e(p.worse)}</td>"
        f"<td>{p.difference:+.2f} [{p.low:+.2f}, {p.high:+.2f}]</td><td>{'yes' if p.settled else 'no'}</td></tr>"
        for p in document.pairs
    )
    figures = "".join(
        f"<figure><img alt='{e(env)} intervals' src='data:image/png;base64,"
        f"{base64.b64encode((out_dir / name).read_bytes()).decode('ascii')}'>"
        f"<figcaption><a href='{e(name)}'>{e(name)}</a></figcaption></figure>"
        for env, name in plots.items()
    )
    plan = ""
    if document.plan:
        plan = (
            "<h2>Plan</h2><table><tr><th>policy</th><th>env</th><th>width</th><th>more real</th><th>more twin</th><th>real-only needed</th></tr>"
            + "".join(
                f"<tr><td>{e(p.policy)}</td><td>{e(p.env)}</td><td>{p.width:g}</td><td>{p.more_real}</td><td>{p.more_twin}</td><td>{p.real_only_needed}</td></tr>"
                for p in document.plan
            )
            + "</table>"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in document.notes)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>twinbench estimate</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .6em}</style></head><body>"
        f"<h1>Real success rates: a few real trials plus the twin</h1>"
        f"<p>real: <code>{e(document.inputs.real.source)}</code> · twin: "
        f"<code>{e(document.inputs.sim.source)}</code> · {document.confidence:.0%} intervals · "
        f"pairs and summary use the {e(family)} family · the twin predicts with its "
        f"{e(document.twin_score)}{' pooled over policies' if document.pooled else ''} · twinbench {e(document.twinbench_version)}</p>"
        f"<table>{head}{rows}</table>{figures}"
        "<h2>Pairwise differences</h2><table><tr><th>env</th><th>better</th><th>worse</th>"
        f"<th>difference</th><th>settled</th></tr>{pairs}</table>{plan}"
        f"<ul>{notes}</ul></body></html>\n"
    )
