"""Where a twin's lean comes from, pixel by pixel: integrated gradients of each locator's
located object over the path from the source world's frame to the twin's.

    python -m benchmarks.fidelity.gap_attribution --states 100 --bundles 'src-s1000' --out DIR

``gap_causes`` swaps one cause at a time and watches the locator; a swap can only test the
causes someone thought of. Here each bundle's lean (the mean over the states of how much
further the twin's frame puts the object than the source's, a vector) is split over every
pixel of the first exterior frames (``studies.locator.attribution``), and the shares are summed
by region: where each object stood during the scan (its footprint, off what stands there now),
each object's own pixels, the robot, the table near the objects, the table away from them, and
what lies beyond the table. The regions cover the frame once, so their shares add up to the
lean (``total``, against the lean itself: the midpoint rule's error). One JSON line per figure
to stdout; ``--out`` also gets ``attribution.md`` and ``attribution.png`` (each bundle's mean
attribution over the source's mean frame, the scan-time footprints outlined).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.fidelity.gap_causes import SEED, Masks
from benchmarks.fidelity.gap_locator import load_ladder, xy_offsets
from benchmarks.figures import emit_rows
from reconstruct.synthetic.spec import WORLDS
from sim_env.render.config import HybridConfig
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.gap_frames import WorldPair
from studies.fidelity.run import check_pair
from studies.locator.attribution import integrated_gradients

MIN_LEAN = 1e-4  # m: a lean shorter than this has no direction to attribute


def regions(masks: Masks, frame) -> dict[str, np.ndarray]:
    """Region name -> ``[H, W]`` bool, disjoint, covering the frame."""
    robot = frame.source_robot | frame.twin_robot
    out = {"robot": robot}
    taken = robot
    for name, mask in masks.objects.items():  # each object's pixels now, with their edge
        out[f"object {name}"] = mask & ~taken
        taken = taken | mask
    for name, mask in masks.footprint_of.items():
        out[f"footprint {name}"] = mask & ~taken
        taken = taken | mask
    on_table = np.isfinite(frame.source_depth)
    out["table near"] = masks.near & ~taken
    taken = taken | masks.near
    out["table away"] = on_table & ~taken
    out["beyond"] = ~on_table & ~taken
    return out


def render_states(source, twin, camera: str, size, count: int):
    """Source and twin frames ``[N, H, W, 3]``, region masks per state, each state's object
    xy, and the footprints of state 0 (for the picture)."""
    conditions = extra_conditions((source, twin), count, SEED)
    pair = WorldPair(source, twin, HybridConfig())
    world = WORLDS.get(source.name)
    src, tw, parts, xy = [], [], [], []
    outline = None
    try:
        for s in range(count):
            pair.set_state(conditions[0][s], conditions[1][s])
            frame = pair.frame(camera, size)
            masks = Masks(pair, frame, camera, conditions[0][0], world)
            src.append(frame.source)
            tw.append(frame.twin)
            parts.append(regions(masks, frame))
            xy.append({n: np.asarray(p.pos[:2]) for n, p in conditions[1][s].objects.items()})
            if outline is None:
                outline = masks.footprint_of
            print(f"rendered state {s + 1}/{count}", file=sys.stderr, flush=True)
    finally:
        pair.close()
    return np.stack(src), np.stack(tw), parts, xy, outline or {}


def attribute(policy, src, tw, parts, xy, obj: str, steps: int) -> dict[str, float]:
    """The lean of ``obj`` (cm, and its direction) and each region's share of it (cm)."""
    objects = list(policy.locator.objects)
    m = objects.index(obj)
    truth = np.array([[row[o] for o in objects] for row in xy])
    change = (xy_offsets(policy, tw, truth) - xy_offsets(policy, src, truth))[:, m]
    lean = change.mean(axis=0)
    length = float(np.linalg.norm(lean))
    row = {"lean": 100 * length, "lean x": 100 * float(lean[0]), "lean y": 100 * float(lean[1])}
    if length < MIN_LEAN:
        return row
    direction = lean / length
    attr = integrated_gradients(
        policy.net, policy.standardisation, src, tw, m, direction, steps=steps
    )
    row["total"] = 100 * float(attr.sum(axis=(1, 2)).mean())
    for name in parts[0]:
        mask = np.stack([p[name] for p in parts])
        row[name] = 100 * float((attr * mask).sum(axis=(1, 2)).mean())
    row["map"] = attr.mean(axis=0)  # not a figure: the picture's
    return row


def picture(src: np.ndarray, rows: dict[str, dict], outline: dict, path: Path) -> None:
    """Each bundle's mean attribution (red: towards the lean, blue: against) over the
    source's mean frame, the scan-time footprints outlined, 4x."""
    base = src.mean(axis=0) / 255.0
    tiles = []
    for name, row in rows.items():
        if "map" not in row:
            continue
        a = row["map"] / (np.abs(row["map"]).max() + 1e-12)
        tint = np.stack([np.clip(a, 0, 1), np.zeros_like(a), np.clip(-a, 0, 1)], axis=-1)
        tile = np.clip(0.35 * base + 0.65 * np.clip(3 * tint, 0, 1), 0, 1)
        tile = cv2.resize(
            (tile * 255).astype(np.uint8), None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST
        )
        for mask in outline.values():
            contours, _ = cv2.findContours(
                cv2.resize(mask.astype(np.uint8), None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST),
                cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE,
            )  # fmt: skip
            cv2.drawContours(tile, contours, -1, (0, 255, 255), 1)
        cv2.putText(tile, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        tiles.append(tile)
    if tiles:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(tiles, axis=0), cv2.COLOR_RGB2BGR))


def markdown(rows: dict[str, dict], args: argparse.Namespace, seconds: float) -> str:
    first = next((r for r in rows.values() if "total" in r), None)
    names = [k for k in (first or {}) if k not in ("lean", "lean x", "lean y", "total", "map")]
    lines = [
        "# Where the twin's lean comes from",
        "",
        f"`python -m benchmarks.fidelity.gap_attribution --source {args.source} --twin "
        f"{args.twin} --states {args.states} --ladder {args.ladder} --bundles '{args.bundles}'"
        f" --object {args.object}` ({seconds:.0f} s). Lean: the mean over the states of how much "
        f"further the twin's first exterior frame ({args.size}) puts the {args.object} than the "
        "source's (cm, x / y); total: the regions' shares added (integrated gradients, "
        f"{args.steps} steps); then each region's share (cm, along the lean; negative: "
        "against it).",
        "",
        "| bundle | lean (x / y) | total | " + " | ".join(names) + " |",
        "|---" * (len(names) + 3) + "|",
    ]
    for bundle, row in rows.items():
        lean = f"{row['lean']:.2f} ({row['lean x']:+.2f} / {row['lean y']:+.2f})"
        if "total" not in row:
            lines.append(f"| {bundle} | {lean} | – |" + " – |" * len(names))
            continue
        cells = " | ".join(f"{row[n]:+.2f}" for n in names)
        lines.append(f"| {bundle} | {lean} | {row['total']:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--states", type=int, default=100)
    parser.add_argument("--ladder", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--bundles", default="src-*", help="bundle names (shell pattern)")
    parser.add_argument("--object", default=None, help="default: the locators' first")
    parser.add_argument("--steps", type=int, default=24, help="integration steps")
    parser.add_argument("--out", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    if args.states < 1 or args.steps < 1:
        parser.error("--states and --steps take a count >= 1")
    started = time.perf_counter()
    source, twin = check_pair(args.source, args.twin)
    bundles, view = load_ladder(args.ladder, source, args.bundles)
    args.object = args.object or view.objects[0]
    if args.object not in view.objects:
        parser.error(f"--object {args.object}: the locators find {', '.join(view.objects)}")
    args.size = f"{view.image_size[0]}x{view.image_size[1]}"
    src, tw, parts, xy, outline = render_states(
        source, twin, view.camera, tuple(view.image_size), args.states
    )
    rows = {
        name: attribute(policy, src, tw, parts, xy, args.object, args.steps)
        for name, policy in bundles.items()
    }
    for name, row in rows.items():
        figures = {k: v for k, v in row.items() if k != "map"}
        emit_rows("fidelity_gap", f"attribution/{name}", {args.object: figures}, "cm")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        text = markdown(rows, args, time.perf_counter() - started)
        (args.out / "attribution.md").write_text(text)
        picture(src, rows, outline, args.out / "attribution.png")


if __name__ == "__main__":
    main()
