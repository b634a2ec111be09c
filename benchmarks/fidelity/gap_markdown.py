"""The gap report's markdown: one table per cause, every twin look side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.fidelity.gap_locator import task_objects
from studies.fidelity.gap_metrics import BANDS

CAUSES = [  # (section, figure, [(row label, key pattern, format)])
    (
        "Colour and exposure",
        "colour.png",
        [
            (
                "mean twin / source (scene pixels), {camera} {size}",
                "gain/{camera}/{size}",
                "{:.3f}",
            ),
            (
                "RMS twin - source (scene pixels, 0-255), {camera} {size}",
                "rms/{camera}/{size}",
                "{:.1f}",
            ),
        ],
    ),
    (
        "Sharpness",
        "sharpness.png",
        [
            (
                f"power twin / source, {band} band, {{camera}} {{size}}",
                f"power_{band}/{{camera}}/{{size}}",
                "{:.2f}",
            )
            for band in BANDS
        ],
    ),
    (
        "Aliasing and edges",
        "aliasing.png",
        [
            ("RMS 160x90 vs box(320x180), source, {camera}", "alias_source/{camera}", "{:.1f}"),
            ("RMS 160x90 vs box(320x180), twin, {camera}", "alias_twin/{camera}", "{:.1f}"),
            ("edge F1 twin vs source, {camera} {size}", "edge_f1/{camera}/{size}", "{:.2f}"),
        ],
    ),
    (
        "Floaters and holes",
        "floaters.png",
        [
            ("floater pixels, {camera} {size}", "floaters/{camera}/{size}", "{:.4f}"),
            ("hole pixels, {camera} {size}", "holes/{camera}/{size}", "{:.4f}"),
        ],
    ),
    (
        "Robot-splat compositing and shadows",
        "compositing.png",
        [
            ("robot pixels IoU, {camera} {size}", "robot_iou/{camera}/{size}", "{:.3f}"),
            (
                "source: RMS with vs without robot, 1 px off it (shadows), {camera} {size}",
                "shadow/{camera}/{size}",
                "{:.2f}",
            ),
        ],
    ),
]


def _rows(rows: dict, templates, cameras: list[str]) -> list[str]:
    looks = list(rows)
    lines = ["| figure | " + " | ".join(looks) + " |", "|---" * (len(looks) + 1) + "|"]
    for label, key, fmt in templates:
        for camera in cameras:
            for size in ("160", "320") if "{size}" in key else ("",):
                k = key.format(camera=camera, size=size)
                name = label.format(camera=camera, size=f"{size}px" if size else "")
                values = [fmt.format(rows[look][k]) if k in rows[look] else "-" for look in looks]
                lines.append(f"| {name} | " + " | ".join(values) + " |")
    return lines


def write_markdown(
    path: Path,
    rows: dict,
    locator: dict,
    proxy: dict,
    maps: dict,
    args: argparse.Namespace,
    seconds: float,
) -> None:
    cameras = sorted(maps)
    lines = [
        "# The twin's visual gap, cause by cause",
        "",
        f"`python -m benchmarks.fidelity.gap --source {args.source} --twin {args.twin} "
        f"--states {args.states} --locator-states {args.locator_states} --ladder {args.ladder}` "
        f"({seconds:.0f} s).",
        "Looks: `as-built` (classic rasterizer, trained colours), `antialiased` (gsplat's "
        "antialiased mode), `colour` (per-camera colour map fitted on state 0), `both`.",
        "",
        "Fitted colour maps (M | b, twin colour -> source colour, in [0, 1]):",
        "",
    ]
    for camera, matrix in maps.items():
        lines.append(
            f"- `{camera}`: " + "; ".join(" ".join(f"{x:+.3f}" for x in row) for row in matrix)
        )
    for title, figure, templates in CAUSES:
        lines += ["", f"## {title}", "", f"![{title}]({figure})", ""]
        lines += _rows(rows, templates, cameras)
    lines += [
        "",
        "## The locator (what decides the study's outcomes)",
        "",
        "![locator](locator.png)",
        "",
    ]
    worlds = list(locator)
    obj, container = task_objects(locator)
    named = (obj.replace("_", " "), container.replace("_", " "))
    lines.append(
        "| policy | "
        + " | ".join(f"{w}: {named[0]} / {named[1]} cm, located" for w in worlds)
        + " |"
    )
    lines.append("|---" * (len(worlds) + 1) + "|")
    for bundle in locator[worlds[0]]:
        cells = [
            f"{locator[w][bundle][obj]:.1f} / {locator[w][bundle][container]:.1f}, "
            f"{locator[w][bundle]['grasp']:.2f}"
            for w in worlds
        ]
        lines.append(f"| {bundle} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Located: the {named[0]} within 2 cm and the {named[1]} within 3 cm (median errors"
        " in cm). The",
        "located fractions ranked like success rates, twin look against the source world:",
        "",
        "| twin look | Pearson, all | MMRV, all | Pearson, src-* | MMRV, src-* |",
        "|---|---|---|---|---|",
    ]
    for world, row in proxy.items():
        cells = [f"{row[k]:.3f}" for k in ("pearson_all", "mmrv_all", "pearson_src", "mmrv_src")]
        lines.append(f"| {world} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")
