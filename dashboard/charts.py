"""The dashboard's charts (Altair specs): rates with error bars, sim against real, and an
episode's rubric progress over time."""

from __future__ import annotations

import altair as alt
import pandas as pd

AGREE_COLOUR = "#1f77b4"
DIFFER_COLOUR = "#d62728"


def rate_bars(table: pd.DataFrame, rate: str, low: str, high: str, title: str) -> alt.LayerChart:
    """Bars grouped by environment, one per policy, each with its interval as an error bar.

    Args:
        table: leaderboard rows (policy, env and the three named rate columns, in [0, 1]).
    """
    base = alt.Chart(table).encode(
        x=alt.X("env:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=400)),
        xOffset=alt.XOffset("policy:N"),
        color=alt.Color("policy:N", legend=alt.Legend(orient="top", title=None)),
    )
    bars = base.mark_bar(opacity=0.85).encode(
        y=alt.Y(f"{rate}:Q", title=title, scale=alt.Scale(domain=[0, 1])),
        tooltip=[
            "policy",
            "env",
            "episodes",
            alt.Tooltip(f"{rate}:Q", format=".3f"),
            alt.Tooltip(f"{low}:Q", format=".3f", title="CI low"),
            alt.Tooltip(f"{high}:Q", format=".3f", title="CI high"),
        ],
    )
    errors = base.mark_rule(color="black", strokeWidth=1.5).encode(
        y=f"{low}:Q", y2=f"{high}:Q", color=alt.value("black")
    )
    return alt.layer(bars, errors).properties(height=320)


def sim_real_scatter(points: pd.DataFrame, quantity: str, real_label: str) -> alt.LayerChart:
    """Sim rate against real rate per policy with both intervals, y = x for reference, and the
    policies whose sim and real ranks differ in red.

    Args:
        points: :func:`dashboard.comparison.points_table` rows.
    """
    data = points.assign(
        ranks=points["rank_differs"].map({True: "ranks differ", False: "ranks agree"})
    )
    axis = alt.Scale(domain=[0, 1])
    x = alt.X("real:Q", title=f"{real_label} {quantity} rate", scale=axis)
    y = alt.Y("sim:Q", title=f"sim {quantity} rate", scale=axis)
    colour = alt.Color(
        "ranks:N",
        scale=alt.Scale(
            domain=["ranks agree", "ranks differ"], range=[AGREE_COLOUR, DIFFER_COLOUR]
        ),
        legend=alt.Legend(title=None, orient="bottom-right"),
    )
    diagonal = (
        alt.Chart(pd.DataFrame({"real": [0.0, 1.0], "sim": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x=x, y=y)
    )
    base = alt.Chart(data).encode(x=x, y=y, color=colour)
    real_bars = base.mark_rule().encode(x=alt.X("real_low:Q", scale=axis), x2="real_high:Q")
    sim_bars = base.mark_rule().encode(y=alt.Y("sim_low:Q", scale=axis), y2="sim_high:Q")
    dots = base.mark_circle(size=90, opacity=1).encode(
        tooltip=[
            "policy",
            alt.Tooltip("sim:Q", format=".3f"),
            alt.Tooltip("real:Q", format=".3f", title=real_label),
            "sim_rank",
            "real_rank",
        ]
    )
    labels = base.mark_text(align="left", dx=7, dy=-7).encode(text="policy:N")
    return alt.layer(diagonal, real_bars, sim_bars, dots, labels).properties(height=380)


def criteria_chart(progress: pd.DataFrame, timeline: pd.DataFrame) -> alt.LayerChart:
    """Criteria reached over the episode as a step line, with a labelled point per criterion.

    Args:
        progress: :func:`dashboard.data.criteria_progress` rows (step, reached).
        timeline: :func:`dashboard.data.criteria_timeline` rows (criterion, step, reached).
    """
    reached = timeline[timeline["reached"]].reset_index(drop=True)
    marks = pd.DataFrame(
        {
            "criterion": reached["criterion"],
            "step": reached["step"].astype(int),
            "reached": range(1, len(reached) + 1),
        }
    )
    x = alt.X("step:Q", title="control step")
    y = alt.Y(
        "reached:Q",
        title="criteria reached",
        scale=alt.Scale(domain=[0, max(len(timeline), 1)]),
        axis=alt.Axis(tickMinStep=1),
    )
    line = alt.Chart(progress).mark_line(interpolate="step-after").encode(x=x, y=y)
    dots = (
        alt.Chart(marks)
        .mark_point(filled=True, size=70)
        .encode(x=x, y=y, tooltip=["criterion", "step"])
    )
    labels = (
        alt.Chart(marks).mark_text(align="left", dx=6, dy=-8).encode(x=x, y=y, text="criterion:N")
    )
    return alt.layer(line, dots, labels).properties(height=260)
