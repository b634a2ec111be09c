"""The twin's visual gap, cause by cause: source and twin frames of the same states, measured.

    python -m benchmarks.fidelity.gap                       # tabletop_source vs tabletop_twin
    python -m benchmarks.fidelity.gap --states 4 --locator-states 10   # quicker

States are the fidelity study's initial conditions (the packages' own, then the study's
seeded draws), the arm at the condition's pose and at two others, seen by every camera at the
study's size (160x90) and at the camera's own (320x180). For each cause it writes JSON lines
(``{"bench", "case", "metric", "value", "unit"}``) to stdout and ``OUT/gap.jsonl``, a picture
``OUT/<cause>.png`` and ``OUT/gap.md``:

- colour: per-channel mean/std where both worlds show the scene, and a per-camera affine
  colour map fitted on the first state (``studies.fidelity.calibrate``) with the RMS left
  before and after it on the other states;
- sharpness: the twin's radially averaged power over the source's, per frequency band;
- aliasing: RMS between a frame rendered at 160x90 and the box average of the same frame at
  320x180, per world, and the F1 of the twin's gradient edges against the source's;
- floaters and holes: splat surfaces more than 3 cm in front of the true surface (or in free
  space), and scene pixels the splats leave uncovered;
- compositing: IoU of the robot's pixels in both worlds, and whether the source casts shadows;
- locator: what decides the study's outcomes, the ladder policies' red-box and tray location
  error on the exterior camera's first frame (160x90) in the source, the twin as built, and
  the twin with each fix (``--looks``).

The twin looks measured by default: ``as-built`` (classic rasterizer, trained colours),
``antialiased``, ``colour`` (the fitted per-camera maps) and ``both``; ``--looks`` may add
``smoothing`` (mip-splatting's 3D filter for the package's cameras).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.fidelity.gap_figures import write_figures
from benchmarks.fidelity.gap_locator import locator_errors, proxy_agreement
from benchmarks.fidelity.gap_markdown import write_markdown
from sim_env.package.schema import SplatRenderSpec
from sim_env.render.config import HybridConfig
from studies.fidelity.calibrate import fit_camera_colour, scene_mask, styled_twin
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.gap_frames import WorldPair
from studies.fidelity.gap_metrics import (
    alias_rms,
    band_power_ratio,
    channel_stats,
    dilate,
    edge_f1,
    mask_iou,
    rms,
)
from studies.fidelity.run import check_pair

STUDY_SIZE = (160, 90)
FULL_SIZE = (320, 180)
SEED = 0  # the fidelity study's draws
POSES = {  # joint offsets from the condition's arm pose [rad]
    "start": (0.0,) * 7,
    "reach": (0.35, 0.45, 0.0, 0.5, 0.0, -0.15, 0.0),
    "side": (-0.6, 0.25, 0.0, 0.3, 0.3, 0.0, 0.4),
}
LOOKS = ("as-built", "antialiased", "colour", "both", "smoothing")


class Report:
    """Collects figures (printed as JSON lines as they come) and markdown lines."""

    def __init__(self) -> None:
        self.figures: list[dict] = []
        self.lines: list[str] = []

    def add(self, case: str, metric: str, value: float, unit: str) -> float:
        figure = {"bench": "fidelity_gap", "case": case, "metric": metric}
        figure |= {"value": round(float(value), 4), "unit": unit}
        self.figures.append(figure)
        print(json.dumps(figure), flush=True)
        return float(value)


def render_frames(pair: WorldPair, conditions, cameras, states: int) -> dict:
    """(state, pose, camera, size) -> FramePair for the first ``states`` conditions."""
    frames = {}
    source_ics, twin_ics = conditions
    for s in range(states):
        for pose, offset in POSES.items():
            arm = np.add(source_ics[s].arm_qpos, offset)
            pair.set_state(source_ics[s], twin_ics[s], arm)
            for camera in cameras:
                for size in (STUDY_SIZE, FULL_SIZE):
                    frames[s, pose, camera, size] = pair.frame(camera, size)
        print(f"rendered state {s + 1}/{states}", file=sys.stderr, flush=True)
    return frames


def measure_look(report: Report, look: str, frames: dict, cameras) -> dict:
    """Every image cause for one twin look; returns the figures the markdown tables show."""
    row: dict[str, float] = {}
    for camera in cameras:
        for size in (STUDY_SIZE, FULL_SIZE):
            tag = f"{look}/{camera}/{size[0]}x{size[1]}"
            chosen = [f for (_, _, c, z), f in frames.items() if c == camera and z == size]
            masks = [scene_mask(f) for f in chosen]
            src = channel_stats([f.source for f in chosen], masks)
            twin = channel_stats([f.twin for f in chosen], masks)
            for k, ch in enumerate("rgb"):
                report.add(f"colour/{tag}", f"mean_{ch}_source", src["mean"][k], "0-255")
                report.add(f"colour/{tag}", f"mean_{ch}_twin", twin["mean"][k], "0-255")
            gain = np.divide(twin["mean"], src["mean"]).mean()
            row[f"gain/{camera}/{size[0]}"] = report.add(f"colour/{tag}", "gain", gain, "ratio")
            scene_rms = np.mean(
                [rms(f.source, f.twin, m) for f, m in zip(chosen, masks, strict=True)]
            )
            row[f"rms/{camera}/{size[0]}"] = report.add(
                f"colour/{tag}", "scene_rms", scene_rms, "0-255"
            )
            bands = band_power_ratio([f.twin for f in chosen], [f.source for f in chosen])
            for band, value in bands.items():
                row[f"power_{band}/{camera}/{size[0]}"] = report.add(
                    f"sharpness/{tag}", f"power_ratio_{band}", value, "ratio"
                )
            f1 = np.mean([edge_f1(f.twin, f.source) for f in chosen])
            row[f"edge_f1/{camera}/{size[0]}"] = report.add(
                f"edges/{tag}", "edge_f1", f1, "fraction"
            )
            floaters = np.mean([f.floaters().mean() for f in chosen])
            holes = np.mean([f.holes().mean() for f in chosen])
            row[f"floaters/{camera}/{size[0]}"] = report.add(
                f"floaters/{tag}", "floater_pixels", floaters, "fraction"
            )
            row[f"holes/{camera}/{size[0]}"] = report.add(
                f"floaters/{tag}", "hole_pixels", holes, "fraction"
            )
            iou = np.mean(
                [mask_iou(f.source_robot, f.twin_robot) for f in chosen if f.source_robot.any()]
            )
            row[f"robot_iou/{camera}/{size[0]}"] = report.add(
                f"compositing/{tag}", "robot_iou", iou, "fraction"
            )
            shadow = np.mean(
                [rms(f.source, f.source_no_robot, ~dilate(f.source_robot, 1)) for f in chosen]
            )
            row[f"shadow/{camera}/{size[0]}"] = report.add(
                f"compositing/{tag}", "source_robot_shading_rms", shadow, "0-255"
            )
        keys = [k for k in frames if k[2] == camera and k[3] == STUDY_SIZE]
        for world in ("source", "twin"):
            value = np.mean(
                [
                    alias_rms(
                        getattr(frames[k], world), getattr(frames[(*k[:3], FULL_SIZE)], world)
                    )
                    for k in keys
                ]
            )
            row[f"alias_{world}/{camera}"] = report.add(
                f"aliasing/{look}/{camera}", f"alias_rms_{world}", value, "0-255"
            )
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--states", type=int, default=10, help="states for the image causes")
    parser.add_argument("--locator-states", type=int, default=30, help="states for the locator")
    parser.add_argument("--ladder", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--looks", nargs="+", choices=LOOKS, default=list(LOOKS[:4]))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("gap"))
    parser.add_argument("--work", type=Path, default=Path("runs/fidelity-gap"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    source, twin = check_pair(args.source, args.twin)
    count = max(args.states, args.locator_states, len(source.spec.initial_conditions))
    conditions = extra_conditions((source, twin), count, SEED)
    cameras = [c.name for c in twin.spec.cameras]
    report = Report()

    # the colour maps: fitted on the first state at the start pose, full size, as built
    calibration = WorldPair(source, twin, HybridConfig(antialiased=False, colour_match=False))
    calibration.set_state(conditions[0][0], conditions[1][0])
    maps = {c: fit_camera_colour([calibration.frame(c, FULL_SIZE)]) for c in cameras}
    calibration.close()
    specs = {
        "as-built": SplatRenderSpec(),
        "antialiased": SplatRenderSpec(antialiased=True),
        "colour": SplatRenderSpec(colour=maps),
        "both": SplatRenderSpec(antialiased=True, colour=maps),
        "smoothing": SplatRenderSpec(smoothing_3d=True),
    }
    packages = {look: styled_twin(twin, specs[look], args.work / look) for look in args.looks}
    rows, shown = {}, {}
    for look in args.looks:
        pair = WorldPair(source, packages[look], HybridConfig())
        frames = render_frames(pair, conditions, cameras, args.states)
        pair.close()
        rows[look] = measure_look(report, look, frames, cameras)
        shown[look] = {k: frames[k] for k in frames if k[0] == 1 and k[1] in ("start", "reach")}
    locator = locator_errors(report, source, packages, conditions, args.ladder, args.locator_states)
    proxy = proxy_agreement(report, locator)
    args.out.mkdir(parents=True, exist_ok=True)
    write_figures(args.out, shown, rows, locator, maps)
    (args.out / "gap.jsonl").write_text("".join(json.dumps(f) + "\n" for f in report.figures))
    write_markdown(
        args.out / "gap.md", rows, locator, proxy, maps, args, time.perf_counter() - started
    )


if __name__ == "__main__":
    main()
