"""The trial-gap report (``benchmarks.fidelity.trial_gap``): its figures as JSON lines, the
markdown tables and the picture of lost conditions with the locator's reading marked."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mujoco
import numpy as np
import pandas as pd

from benchmarks import figures
from sim_env.cameras import Intrinsics
from sim_env.overlay import Pinhole
from sim_env.package import EnvPackage
from sim_env.scene import build_scene

BENCH = "trial_gap"
STAGE_ORDER = ("reach/grasp", "lift", "transport/place")
REPLAY_CAUSES = ("vision", "physics/geometry", "not reproduced")
ERROR_CAUSES = ("physics/geometry", "unclear", "vision")
PICTURE_ROWS = 6


def _lost(gap) -> pd.DataFrame:
    d = gap.diagnosis
    return d[d["direction"] == "lost"] if not d.empty else d


def gap_figures(gap) -> list[dict]:
    """One figure per number the report quotes, for one rung (a ``trial_gap.RungGap``)."""
    out: list[dict] = []

    def add(case: str, metric: str, value: float, unit: str) -> None:
        out.append(figures.figure(BENCH, f"{gap.rung}/{case}", metric, value, unit))

    pairs, d, lost = gap.pairs, gap.diagnosis, _lost(gap)
    add("outcomes", "conditions", len(pairs), "initial conditions")
    add("outcomes", "source_rate", pairs["source_success"].mean(), "rate")
    add("outcomes", "twin_rate", pairs["twin_success"].mean(), "rate")
    add("outcomes", "lost", len(lost), "conditions")
    add(
        "outcomes", "gained", int((d["direction"] == "gained").sum()) if len(d) else 0, "conditions"
    )
    obj, container = gap.objects
    for m, name in enumerate((obj, container)):
        add(f"thresholds/{name}", "physics_below", 100 * gap.thresholds[m].physics_below, "cm")
        add(f"thresholds/{name}", "vision_above", 100 * gap.thresholds[m].vision_above, "cm")
    if lost.empty:
        return out
    for stage in STAGE_ORDER:
        k = int((lost["stage"] == stage).sum())
        add(f"lost/stage/{stage}", "count", k, "conditions")
        add(f"lost/stage/{stage}", "share", k / len(lost), "fraction")
    for name, k in lost["first_missed"].value_counts().items():
        add(f"lost/first_missed/{name}", "count", int(k), "conditions")
    for column, causes in (("cause", ERROR_CAUSES), ("replay_cause", REPLAY_CAUSES)):
        if column not in lost:
            continue
        for cause in causes:
            k = int((lost[column] == cause).sum())
            add(f"lost/{column}/{cause}", "count", k, "conditions")
            add(f"lost/{column}/{cause}", "share", k / len(lost), "fraction")
    add("lost/lag", "median_lag_on_shared", float(lost["lag_steps"].median()), "steps")
    if "replay_cause" in lost:
        agree, decided = _agreement(lost)
        add("lost/cause_vs_replay", "agree", agree, "conditions")
        add("lost/cause_vs_replay", "decided", decided, "conditions")
    offsets = _placement_offsets(gap)
    for m, name in enumerate((obj, container)):
        for world in ("source", "twin"):
            add(f"lost/{name}", f"{world}_error_median", lost[f"{world}_err{m}_cm"].median(), "cm")
        won = gap.located["source"].error[pairs.index[pairs["source_success"].to_numpy(bool)], m]
        add(f"source_successes/{name}", "error_median", 100 * float(np.median(won)), "cm")
        add(f"placement/{name}", "twin_minus_source_median", offsets[m], "cm")
    for world in ("source", "twin"):
        e = gap.located[world].error[pairs.index, 0]
        s = pairs[f"{world}_success"].to_numpy(bool)
        for low, high in ((0, 2), (2, 3), (3, 100)):
            band = (100 * e >= low) & (100 * e < high)
            if band.any():
                case = f"success_by_{obj}_error/{world}/{low}-{high}cm"
                add(case, "success_rate", s[band].mean(), "rate")
                add(case, "conditions", int(band.sum()), "initial conditions")
    return out


def _agreement(lost: pd.DataFrame) -> tuple[int, int]:
    """(conditions where the error thresholds and the replay name the same cause, conditions
    where the thresholds decide at all: not unclear, and the replay reproduced)."""
    decided = lost[(lost["cause"] != "unclear") & (lost["replay_cause"] != "not reproduced")]
    return int((decided["cause"] == decided["replay_cause"]).sum()), len(decided)


def _placement_offsets(gap) -> list[float]:
    """Per locator object, the median xy distance [cm] between where the twin and the source
    place it at the paired conditions (the reconstruction's placement)."""
    index = gap.pairs.index.to_numpy()
    twin, source = gap.located["twin"].views.xy[index], gap.located["source"].views.xy[index]
    return [100 * float(np.median(d)) for d in np.linalg.norm(twin - source, axis=-1).T]


def _count_table(lost: pd.DataFrame, column: str, causes: tuple[str, ...]) -> list[str]:
    head = "| first criterion missed (stage) | lost | " + " | ".join(causes) + " |"
    lines = [head, "|---" * (len(causes) + 2) + "|"]
    keys = lost[["first_missed", "stage"]].drop_duplicates().itertuples(index=False)
    order = sorted(keys, key=lambda k: STAGE_ORDER.index(k.stage))
    for name, stage in [*order, ("all", "")]:
        rows = lost if name == "all" else lost[lost["first_missed"] == name]
        cells = [f"{int((rows[column] == c).sum())}" for c in causes]
        label = f"**all** ({len(rows)})" if name == "all" else f"`{name}` ({stage})"
        share = f"{len(rows)} ({len(rows) / len(lost):.0%})"
        lines.append(f"| {label} | {share} | " + " | ".join(cells) + " |")
    return lines


def _rung_section(gap) -> list[str]:
    pairs, d, lost = gap.pairs, gap.diagnosis, _lost(gap)
    obj, container = gap.objects
    src, twn = pairs["source_success"].mean(), pairs["twin_success"].mean()
    gained = int((d["direction"] == "gained").sum()) if len(d) else 0
    lines = [
        f"## {gap.rung}: {src:.2f} in the source world, {twn:.2f} in the twin",
        "",
        f"{len(pairs)} paired conditions; the source succeeds and the twin fails at "
        f"**{len(lost)}** (lost), the reverse at {gained} (gained).",
        "",
    ]
    if lost.empty:
        return lines
    t = gap.thresholds
    lines += [
        f"Thresholds from the source's own {int(pairs['source_success'].sum())} successes: "
        f"{obj} {100 * t[0].physics_below:.1f} cm (90th percentile of their errors) / "
        f"{100 * t[0].vision_above:.1f} cm (largest), {container} "
        f"{100 * t[1].physics_below:.1f} / {100 * t[1].vision_above:.1f} cm.",
        "",
    ]
    if "replay_cause" in lost:
        reproduced = int((lost["replay_cause"] != "not reproduced").sum())
        lines += [
            f"**Lost trials by stage and by the swapped-eyes replay** (the twin's own reading "
            f"repeats the stored failure at {reproduced} of {len(lost)}):",
            "",
            *_count_table(lost, "replay_cause", REPLAY_CAUSES),
            "",
        ]
        agree, decided = _agreement(lost)
        thresholds_line = (
            f"The error thresholds below name the replay's cause at {agree} of the {decided} "
            "lost conditions they decide (the rest are unclear); the replay also covers the "
            "object's yaw, and a place loss can come from a box grasped off its centre."
        )
        lines += [thresholds_line, ""]
    lines += [
        f"**By the locator's error on what the stage needs** ({obj} for reach and lift, "
        f"{container} for transport/place):",
        "",
        *_count_table(lost, "cause", ERROR_CAUSES),
        "",
        "**Median locator error over the lost conditions** [cm] (source successes: "
        + ", ".join(
            f"{name} {100 * float(np.median(gap.located['source'].error[pairs.index[pairs['source_success'].to_numpy(bool)], m])):.1f}"
            for m, name in enumerate(gap.objects)
        )
        + "):",
        "",
        "| world | " + " | ".join(f"{n} xy | {n} yaw [deg]" for n in gap.objects) + " |",
        "|---" * 5 + "|",
    ]
    for world in ("source", "twin"):
        cells = [
            f"{lost[f'{world}_err{m}_cm'].median():.1f} | {lost[f'{world}_yaw{m}_deg'].median():.0f}"
            for m in range(2)
        ]
        lines.append(f"| {world} | " + " | ".join(cells) + " |")
    lines += ["", f"**Success by the {obj}'s locator error** (all {len(pairs)} conditions):", ""]
    lines += ["| world | < 2 cm | 2-3 cm | >= 3 cm |", "|---|---|---|---|"]
    for world in ("source", "twin"):
        e = 100 * gap.located[world].error[pairs.index, 0]
        s = pairs[f"{world}_success"].to_numpy(bool)
        cells = []
        for low, high in ((0, 2), (2, 3), (3, 100)):
            band = (e >= low) & (e < high)
            cells.append(f"{s[band].mean():.2f} ({band.sum()})" if band.any() else "–")
        lines.append(f"| {world} | " + " | ".join(cells) + " |")
    offsets = _placement_offsets(gap)
    lines += [
        "",
        "The twin places the objects "
        + ", ".join(f"{n} {o:.1f} cm" for n, o in zip(gap.objects, offsets, strict=True))
        + " (median) from where the source does at the same condition.",
    ]
    lines += ["", "Lag on the criteria both reached (twin step − source step): median "
              f"{lost['lag_steps'].median():.0f}, range {lost['lag_steps'].min()}..{lost['lag_steps'].max()}.", ""]  # fmt: skip
    return lines


def write_report(out: Path, gaps: list, command: str, seconds: float) -> None:
    """``out``/trial-gap.md, ``out``/trial-gap.png and ``out``/trial-gap.csv (one row per
    condition the worlds disagree on, per rung)."""
    load = os.getloadavg()[0]
    lines = [
        "# Where the twin loses the source-only policies' trials",
        "",
        f"`{command}` ({seconds:.0f} s, load {load:.1f} at the end). The episodes are the "
        "store's; the locator's reading is its own on each world's first exterior frame "
        "(160x90). Swapped-eyes replay: the episode run again in the losing world with the "
        "winning world's reading moved to where the objects stand there (vision loss if it "
        "then succeeds, physics/geometry if it fails again).",
        "",
    ]
    for gap in gaps:
        lines += _rung_section(gap)
    lines += ["![lost conditions](trial-gap.png)", "", _caption(gaps[0]), ""]
    (out / "trial-gap.md").write_text("\n".join(lines))
    frames = [g.diagnosis.assign(rung=g.rung) for g in gaps if not g.diagnosis.empty]
    if frames:
        table = pd.concat(frames)
        table = table[["rung", *[c for c in table.columns if c != "rung"]]]
        table.to_csv(out / "trial-gap.csv", index=False, float_format="%.2f")
    _picture(out / "trial-gap.png", gaps[0])


def _caption(gap) -> str:
    return (
        f"*{gap.rung}: lost conditions, the source world's first exterior frame (left) and the "
        f"twin's (right) at 160x90; circles: true {gap.objects[0]} (red) and {gap.objects[1]} "
        "(cyan), crosses: where the locator put them.*"
    )


def _picked(lost: pd.DataFrame) -> pd.DataFrame:
    """Up to :data:`PICTURE_ROWS` lost conditions, both replay causes where there are both."""
    if "replay_cause" not in lost:
        return lost.head(PICTURE_ROWS)
    parts = [lost[lost["replay_cause"] == c] for c in REPLAY_CAUSES]
    take = [p.head(PICTURE_ROWS // 2) for p in parts]
    picked = pd.concat(take)
    rest = lost.drop(picked.index).head(PICTURE_ROWS - len(picked))
    return pd.concat([picked, rest]).sort_values("condition")


def _pinhole(package: EnvPackage, camera: str, size: tuple[int, int]) -> Pinhole:
    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    mujoco.mj_forward(scene.model, data)
    spec = next(c for c in package.spec.cameras if c.name == camera)
    return Pinhole.at(data, scene.cameras[camera], Intrinsics.of(spec).scaled(*size))


def _picture(path: Path, gap) -> None:
    rows = _picked(_lost(gap))
    if rows.empty:
        return
    views = {w: gap.located[w] for w in ("source", "twin")}
    height, width = views["source"].views.images.shape[1:3]
    camera = gap.camera
    pinholes = {w: _pinhole(gap.packages[w], camera, (width, height)) for w in views}
    fig, axes = plt.subplots(len(rows), 2, figsize=(7.2, 2.1 * len(rows)), squeeze=False)
    for r, row in enumerate(rows.itertuples()):
        c = row.condition
        for col, world in enumerate(("source", "twin")):
            seen, ax = views[world], axes[r, col]
            ax.imshow(seen.views.images[c], interpolation="nearest")
            for m, colour in enumerate(("red", "cyan")):
                z = 0.0
                truth = pinholes[world].project(np.array([[*seen.views.xy[c, m], z]]))[0]
                guess = pinholes[world].project(np.array([[*seen.xy[c, m], z]]))[0]
                ax.plot(*truth - 0.5, "o", mfc="none", mec=colour, ms=7, mew=1.2)
                ax.plot(*guess - 0.5, "x", color=colour, ms=6, mew=1.5)
            err = getattr(row, f"{world}_err0_cm"), getattr(row, f"{world}_err1_cm")
            title = f"{world}, condition {c}: {err[0]:.1f} / {err[1]:.1f} cm"
            if world == "twin":
                cause = getattr(row, "replay_cause", row.cause)
                title += f"\nmissed {row.first_missed}; {cause}"
            ax.set_title(title, fontsize=7)
            ax.set_xlim(-0.5, width - 0.5)
            ax.set_ylim(height - 0.5, -0.5)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
