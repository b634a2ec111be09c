"""Which of the twin's differences moves the locator: the ladder's locators on the twin's first
exterior frames with one cause at a time replaced by the source world's pixels.

    python -m benchmarks.fidelity.gap_causes --states 30          # tabletop_twin, src-* bundles

The gap report measures each cause in pixels; what decides the fidelity study is the locator
(where the policy thinks the red box and the tray are). Here each cause's pixels in the twin
frame are swapped for the source frame's (a measurement, never a way to render the twin), and
the locators' median errors and located fractions (red box within 2 cm, tray within 3 cm) say
how much of the gap that cause holds:

- footprints: the table where the objects stood during the scan (initial condition 0), off
  the objects' present pixels; floaters: splat surfaces in front of the true surface;
- background: every pixel but the objects' and the robot's (the table's whole look), and
  its two parts: the table within ``NEAR_PX`` pixels of the objects, and the rest;
- each object: its own pixels (its splats' look and place).

The opposite swap, the source's objects on the twin's table, is listed too. Each look also
gets each object's lean (``gap_locator.lean``): the length of the locator's mean offset over
the states, which the twin's lasting differences give and the states' scatter does not. One
JSON line per figure to stdout; ``--out`` also gets ``causes.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.fidelity.gap_locator import lean, load_ladder, located, xy_offsets
from benchmarks.figures import emit_rows
from reconstruct.synthetic.spec import WORLDS, SourceWorldConfig
from sim_env.cameras import Intrinsics, world_to_camera
from sim_env.package import InitialCondition
from sim_env.render.config import HybridConfig
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.gap_frames import FramePair, WorldPair
from studies.fidelity.gap_metrics import dilate
from studies.fidelity.run import check_pair

SEED = 0  # the fidelity study's draws
FOOTPRINT_MARGIN = 0.015  # m: the scan-time footprints grow by this (the fill's edge)
NEAR_PX = 4  # the table "near the objects": this many pixels around them (~4 cm at 160x90)


def swap(base: np.ndarray, other: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``base`` with ``other``'s pixels where ``mask``."""
    out = base.copy()
    out[mask] = other[mask]
    return out


class Masks:
    """Per-frame pixel sets of one state's exterior view at the study's size."""

    def __init__(
        self,
        pair: WorldPair,
        frame: FramePair,
        camera: str,
        scan_ic: InitialCondition,
        world: SourceWorldConfig | None,  # the source world's description (None: unknown)
    ):
        h, w = frame.twin.shape[:2]
        seg = pair.source_renderer.render_layers(
            pair.source_data, camera, (w, h), segmentation=True
        ).segmentation
        model = pair.source_scene.model
        self.own = {  # each object's own pixels
            obj.name: np.isin(seg, self._geoms(model, obj.body_id))
            for obj in pair.source_scene.objects
        }
        self.objects = {name: dilate(mask, 1) for name, mask in self.own.items()}  # + its edge
        anything = np.any(list(self.objects.values()), axis=0)
        robot = frame.source_robot | frame.twin_robot
        self.background = ~anything & ~robot
        self.near = dilate(anything, NEAR_PX) & self.background  # the table around the objects
        self.floaters = dilate(frame.floaters(), 1) & ~anything
        off = ~anything & ~frame.source_robot  # the table there, not what stands on it now
        self.footprint_of = {  # each object's scan-time footprint
            name: mask & off
            for name, mask in footprint_masks(pair, camera, scan_ic, world, (h, w)).items()
        }
        self.footprints = np.any([np.zeros((h, w), bool), *self.footprint_of.values()], axis=0)

    @staticmethod
    def _geoms(model, body: int) -> list[int]:
        return [g for g in range(model.ngeom) if model.geom_bodyid[g] == body]


def footprint_masks(
    pair: WorldPair, camera: str, scan_ic, world, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Object name -> ``[H, W]`` bool: where it stood during the scan, the source world's
    footprint at initial condition 0 (grown by ``FOOTPRINT_MARGIN``) projected from the table
    plane ({} when the source world's description is unknown)."""
    h, w = shape
    if world is None:
        return {}
    k = Intrinsics.scaled(pair.twin_renderer.intrinsics[camera], w, h).matrix()
    view = world_to_camera(pair.twin_data, pair.twin_scene.cameras[camera])
    masks = {}
    for obj in world.objects:
        x, y = scan_ic.objects[obj.name].pos[:2]
        yaw = np.radians(obj.scan_pose[2])
        half = np.array(obj.size[:2]) * (1.0 if obj.kind == "can" else 0.5)
        half = half + FOOTPRINT_MARGIN
        c, s = np.cos(yaw), np.sin(yaw)
        corners = [
            (x + c * dx - s * dy, y + s * dx + c * dy, 0.0)
            for dx, dy in np.array([(1, 1), (-1, 1), (-1, -1), (1, -1)]) * half
        ]
        cam = view[:3, :3] @ np.array(corners).T + view[:3, 3:4]
        uv = (k @ cam)[:2] / cam[2]
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(uv.T - 0.5).astype(np.int32)], 1)
        masks[obj.name] = mask.astype(bool)
    return masks


def variants(frame: FramePair, masks: Masks) -> dict[str, np.ndarray]:
    """Look name -> the exterior frame the locators see."""
    src, twin = frame.source, frame.twin
    out = {
        "source": src,
        "twin": twin,
        "twin, footprints from source": swap(twin, src, masks.footprints),
        "twin, floaters from source": swap(twin, src, masks.floaters),
        "twin, background from source": swap(twin, src, masks.background),
        "twin, table near the objects from source": swap(twin, src, masks.near),
        "twin, background away from the objects from source": swap(
            twin, src, masks.background & ~masks.near
        ),
        "source, background from twin": swap(src, twin, masks.background),
    }
    for name, mask in masks.objects.items():
        out[f"twin, {name} from source"] = swap(twin, src, mask)
    return out


def render_looks(source, twin, camera: str, size, count: int, progress: Callable[[int], None]):
    """Look name -> images [N, H, W, 3], and the twin's object xy [N, M, 2] per name."""
    conditions = extra_conditions((source, twin), count, SEED)
    pair = WorldPair(source, twin, HybridConfig())
    world = WORLDS.get(source.name)
    looks: dict[str, list[np.ndarray]] = {}
    xy = []
    try:
        for s in range(count):
            pair.set_state(conditions[0][s], conditions[1][s])
            frame = pair.frame(camera, size)
            masks = Masks(pair, frame, camera, conditions[0][0], world)
            for look, image in variants(frame, masks).items():
                looks.setdefault(look, []).append(image)
            xy.append({n: np.asarray(p.pos[:2]) for n, p in conditions[1][s].objects.items()})
            progress(s + 1)
    finally:
        pair.close()
    return {k: np.stack(v) for k, v in looks.items()}, xy


LEAN = " lean"  # suffix of an object's lean figure (gap_locator.lean, cm)


def locate(looks: dict, xy: list[dict], bundles: dict) -> dict[str, dict[str, dict[str, float]]]:
    """look -> bundle -> {object: median xy error [cm] ..., "located": fraction,
    "object lean": its mean offset's length [cm] ...}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for look, images in looks.items():
        out[look] = {}
        for name, policy in bundles.items():
            objects = list(policy.locator.objects)
            truth = np.array([[row[o] for o in objects] for row in xy])
            offsets = xy_offsets(policy, images, truth)
            dist = np.linalg.norm(offsets, axis=-1)
            row = {o: 100 * float(np.median(dist[:, m])) for m, o in enumerate(objects)}
            row["located"] = float(np.mean(located(dist)))
            row |= {o + LEAN: 100 * float(v) for o, v in zip(objects, lean(offsets), strict=True)}
            out[look][name] = row
    return out


def _unit(metric: str) -> str:
    return "fraction" if metric == "located" else "cm"


def markdown(result: dict, args: argparse.Namespace, seconds: float) -> str:
    names = list(next(iter(result.values())))
    first = next(iter(next(iter(result.values())).values()))
    objects = [k for k in first if k != "located" and not k.endswith(LEAN)]
    lines = [
        "# Which twin difference moves the locator",
        "",
        f"`python -m benchmarks.fidelity.gap_causes --source {args.source} --twin {args.twin} "
        f"--states {args.states} --ladder {args.ladder} --bundles '{args.bundles}'` "
        f"({seconds:.0f} s). The twin's first exterior frame ({args.size}) with one cause's "
        "pixels swapped for the source's; "
        f"cells: {' / '.join(objects)} median error (cm), located fraction.",
        "",
        "| look | " + " | ".join(names) + " | mean located |",
        "|---" * (len(names) + 2) + "|",
    ]
    for look, rows in result.items():
        cells = [
            " / ".join(f"{rows[n][o]:.1f}" for o in objects) + f", {rows[n]['located']:.2f}"
            for n in names
        ]
        mean = np.mean([rows[n]["located"] for n in names])
        lines.append(f"| {look} | " + " | ".join(cells) + f" | {mean:.2f} |")
    lines += [
        "",
        "## The lean",
        "",
        f"Cells: {' / '.join(objects)} lean (cm), the length of the locator's mean offset over "
        "the states: what every state gets wrong the same way, which scatter alone does not "
        "give.",
        "",
        "| look | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for look, rows in result.items():
        cells = [" / ".join(f"{rows[n][o + LEAN]:.1f}" for o in objects) for n in names]
        lines.append(f"| {look} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--states", type=int, default=30)
    parser.add_argument("--ladder", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--bundles", default="src-*", help="bundle names (shell pattern)")
    parser.add_argument("--out", type=Path, default=None, help="write causes.md here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    source, twin = check_pair(args.source, args.twin)
    bundles, view = load_ladder(args.ladder, source, args.bundles)
    args.size = f"{view.image_size[0]}x{view.image_size[1]}"

    def progress(done: int) -> None:
        print(f"rendered state {done}/{args.states}", file=sys.stderr, flush=True)

    looks, xy = render_looks(
        source, twin, view.camera, tuple(view.image_size), args.states, progress
    )
    result = locate(looks, xy, bundles)
    for look, rows in result.items():
        emit_rows("fidelity_gap", f"causes/{look}", rows, _unit)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        text = markdown(result, args, time.perf_counter() - started)
        (args.out / "causes.md").write_text(text)


if __name__ == "__main__":
    main()
