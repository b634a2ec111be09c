"""The objects' own look in a twin: their Gaussians, how the scan saw them, how they look.

    python -m benchmarks.fidelity.gap_objects --twin tabletop_twin --out DIR
    python -m benchmarks.fidelity.gap_objects --twin runs/x/tabletop_twin --work runs/x/work

``gap_causes`` found the objects' own look the largest cause the locators feel (the tray's
most). This says what is wrong with it, per object of the source world's description:

- shape: the twin's Gaussians in the object's true box at the scan arrangement (its walls
  and upper half apart), their 98th-percentile height against the true one, and those the
  object carries outside that box (the table it took along);
- kept (``--work``: a synthetic build's work folder): the splats stage's Gaussians in the
  box against those in the object and those left in the static scene; the rest the objects
  stage dropped (floaters);
- scan: frames that see the object, its median pixel count at the training width, the
  closest and lowest views (``--work``'s ``scan_truth.json``, else the default phone);
- look: the exterior camera's mean luminance, contrast (std) and high-frequency power
  (mean |Laplacian|) over its own pixels, source and twin, at the study's size and twice it
  (until session 9 over them grown by a pixel: the ring of table lifted the source's tray
  from 99 to 105 at 160x90);
  ``--out`` gets ``objects.md`` and ``objects.png`` (source | twin crops).

One JSON line per figure to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import mujoco
import numpy as np

from benchmarks.fidelity.gap_causes import SEED, Masks
from benchmarks.figures import emit_rows
from reconstruct.synthetic.scan import PHONE, PhoneRenderer, ScanConfig, camera_path
from reconstruct.synthetic.spec import WORLDS, SourceObject
from sim_env.cameras import mat_to_quat, opencv_to_mujoco_quat, quat_to_mat
from sim_env.package import EnvPackage, Pose
from sim_env.render.config import HybridConfig
from sim_env.splats import GaussianSet, read_ply, transform
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.gap_frames import WorldPair
from studies.fidelity.run import check_pair
from studies.locator.net import LocatorConfig

BENCH = "fidelity_gap_objects"
BOX_MARGIN = 0.012  # m: the true box grows by this (reconstruction error, splat extent)
WALL = 0.01  # m: the synthetic tray's wall (``world.py``)
OPAQUE = 0.5
SEEN_PX = 50  # an object covering fewer pixels of a scan frame is not counted as seen


def box_regions(obj: SourceObject, pose: Pose, gs: GaussianSet) -> dict[str, float]:
    """Counts of ``gs`` (world frame) in ``obj``'s true box at ``pose``, by region."""
    local = (gs.means - np.asarray(pose.pos)) @ quat_to_mat(np.asarray(pose.quat))
    half = np.array(obj.size[:2]) * (1.0 if obj.kind == "can" else 0.5)
    height = obj.size[2]
    x, y, z = np.abs(local[:, 0]), np.abs(local[:, 1]), local[:, 2]
    inside = (x < half[0] + BOX_MARGIN) & (y < half[1] + BOX_MARGIN) & (z > 0.004)
    inside &= z < height + 2 * BOX_MARGIN
    opaque = inside & (gs.opacities > OPAQUE)
    out = {
        "gaussians": float(inside.sum()),
        "opaque": float(opaque.sum()),
        "opaque upper half": float((opaque & (z > height / 2)).sum()),
        "outside box": float((~inside).sum()),
        "z98 cm": float(np.percentile(z[opaque], 98) * 100) if opaque.any() else float("nan"),
        "true height cm": height * 100,
    }
    if obj.kind == "tray":
        walls = ~((x < half[0] - WALL - 0.004) & (y < half[1] - WALL - 0.004))
        out["opaque walls"] = float((opaque & walls).sum())
    return out


def in_world(package: EnvPackage, name: str | None) -> GaussianSet:
    """The package's splats of object ``name`` (or of the static scene: ``None``), posed as
    its first initial condition places it."""
    if name is None:
        return read_ply(package.root / package.spec.scene.splats)
    spec = next(o for o in package.spec.objects if o.name == name)
    pose = package.spec.initial_conditions[0].objects[name]
    return transform(read_ply(package.root / spec.splats), quat_to_mat(pose.quat), pose.pos)


def shape(source: EnvPackage, twin: EnvPackage, work: Path | None) -> dict[str, dict]:
    world = WORLDS[source.spec.name]
    scan_ic = source.spec.initial_conditions[0]
    static = in_world(twin, None)
    trained = read_ply(work / "env/work/splats/scene_splats.ply") if work else None
    out = {}
    for obj in world.objects:
        pose = scan_ic.objects[obj.name]
        row = box_regions(obj, pose, in_world(twin, obj.name))
        row["static scene"] = box_regions(obj, pose, static)["gaussians"]
        if trained is not None:
            row["splats stage"] = box_regions(obj, pose, trained)["gaussians"]
            row["dropped"] = row["splats stage"] - row["gaussians"] - row["static scene"]
        out[obj.name] = row
    return out


def coverage(source: EnvPackage, scan: ScanConfig, width: int, every: int = 4) -> dict:
    """Per object: how many of every ``every``-th scan frame see it, how large, how close."""
    phone = PhoneRenderer(source, scan)
    model, scan_ic = phone.model, source.spec.initial_conditions[0]
    names = [o.name for o in WORLDS[source.spec.name].objects]
    geoms = {n: np.flatnonzero(model.geom_bodyid == model.body(f"object/{n}").id) for n in names}
    times = np.arange(round(scan.total_s * scan.fps))[::every] / scan.fps
    size = (width, round(width * scan.size[1] / scan.size[0]))
    rows: dict[str, list[tuple[int, float, float]]] = {n: [] for n in names}
    try:
        for pose in camera_path(times, scan):
            rot, eye = pose[:, :3], -pose[:, :3].T @ pose[:, 3]
            model.cam_pos[phone.camera] = eye
            model.cam_quat[phone.camera] = opencv_to_mujoco_quat(mat_to_quat(rot.T))
            mujoco.mj_forward(model, phone.data)
            seg = phone.renderer.render_layers(
                phone.data, PHONE, size, segmentation=True
            ).segmentation
            for n in names:
                d = eye - np.asarray(scan_ic.objects[n].pos)
                elevation = float(np.degrees(np.arcsin(d[2] / np.linalg.norm(d))))
                rows[n].append((int(np.isin(seg, geoms[n]).sum()), np.linalg.norm(d), elevation))
    finally:
        phone.close()
    out = {}
    for n, r in rows.items():
        px, dist, elev = (np.array(c) for c in zip(*r, strict=True))
        seen = px > SEEN_PX
        out[n] = {
            "frames": float(len(px)),
            "frames seen": float(seen.sum()),
            "median px": float(np.median(px[seen])) if seen.any() else 0.0,
            "closest m": float(dist[seen].min()) if seen.any() else float("nan"),
            "lowest elevation deg": float(elev[seen].min()) if seen.any() else float("nan"),
        }
    return out


def look(pair: WorldPair, conditions, states: int, size: tuple[int, int]) -> tuple[dict, list]:
    """Per object and world, the mean luminance, contrast and high-frequency power of its
    pixels at the exterior camera (``size`` and twice it); crops of the first states."""
    camera = LocatorConfig().camera  # what the ladder's locators see
    sums: dict[str, dict[str, list[list[float]]]] = {}
    crops = []
    for s in range(states):
        pair.set_state(conditions[0][s], conditions[1][s])
        for scale in (1, 2):
            at = (size[0] * scale, size[1] * scale)
            frame = pair.frame(camera, at)
            found = Masks(pair, frame, camera, conditions[0][0], None)
            masks = found.objects  # grown 1 px: the crops show the edge
            for name, mask in found.own.items():  # the figures: its own pixels, no table ring
                mask = mask & ~frame.source_robot & ~frame.twin_robot
                if mask.sum() < 10:
                    continue
                for world, image in (("source", frame.source), ("twin", frame.twin)):
                    lum = (image.astype(np.float32) @ LUMA).astype(np.float32)
                    high = np.abs(cv2.Laplacian(lum, cv2.CV_32F))
                    key = f"{name}@{at[0]}x{at[1]}"
                    row = [
                        float(lum[mask].mean()),
                        float(lum[mask].std()),
                        float(high[mask].mean()),
                    ]
                    sums.setdefault(key, {}).setdefault(world, []).append(row)
            if scale == 2 and s < CROPS:
                crops.append(_crops(frame, masks))
    stats = {
        key: {w: dict(zip(LOOK_FIGURES, np.mean(rows, axis=0).tolist(), strict=True))
              for w, rows in worlds.items()}
        for key, worlds in sums.items()
    }  # fmt: skip
    return stats, crops


LUMA = np.array([0.299, 0.587, 0.114], np.float32)
LOOK_FIGURES = ("mean", "contrast", "high frequency")
CROPS = 3  # states drawn in the picture
ZOOM = 5


def _crops(frame, masks: dict[str, np.ndarray]) -> np.ndarray:
    """One row: per object, its source crop beside its twin crop, enlarged."""
    tiles = []
    for mask in masks.values():
        ys, xs = np.nonzero(mask)
        if len(ys) < 10:
            continue
        y0, y1 = max(ys.min() - 4, 0), ys.max() + 5
        x0, x1 = max(xs.min() - 4, 0), xs.max() + 5
        for image in (frame.source, frame.twin):
            tile = cv2.resize(image[y0:y1, x0:x1], None, fx=ZOOM, fy=ZOOM,
                              interpolation=cv2.INTER_NEAREST)  # fmt: skip
            tiles.append(np.pad(tile, ((0, 0), (0, 6), (0, 0)), constant_values=255))
    height = max(t.shape[0] for t in tiles)
    return np.concatenate([np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)),
                                  constant_values=255) for t in tiles], axis=1)  # fmt: skip


def picture(path: Path, rows: list[np.ndarray]) -> None:
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR))


def markdown(result: dict, args: argparse.Namespace) -> str:
    lines = [
        "# The objects' own look",
        "",
        f"`python -m benchmarks.fidelity.gap_objects --twin {args.twin}"
        + (f" --work {args.work}" if args.work else "")
        + f" --states {args.states}`. Gaussians in each object's true box at the scan "
        "arrangement (shape; `kept` with the splats stage's count), the scan's views of it, "
        "and its look at the exterior camera (luminance mean / contrast / high frequency, "
        "source vs twin). Picture: `objects.png` (per object: source | twin).",
        "",
    ]
    for section, rows in result.items():
        if not rows:
            continue
        names = list(rows)
        figures = list(dict.fromkeys(f for row in rows.values() for f in row))  # a tray's too
        lines += [f"## {section}", "", "| | " + " | ".join(names) + " |",
                  "|---" * (len(names) + 1) + "|"]  # fmt: skip
        for f in figures:
            cells = [_cell(rows[n].get(f)) for n in names]
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, dict):
        return " / ".join(f"{v:.1f}" for v in value.values())
    return "" if value is None else f"{value:.4g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--work", type=Path, default=None, help="the twin's build work folder")
    parser.add_argument("--states", type=int, default=10)
    parser.add_argument("--size", default="160x90", help="the study's image size")
    parser.add_argument("--out", type=Path, default=None, help="write objects.md/.png here")
    args = parser.parse_args(argv)
    source, twin = check_pair(args.source, args.twin)
    if source.spec.name not in WORLDS:
        raise SystemExit(f"--source {args.source}: not a synthetic world ({sorted(WORLDS)})")
    size = tuple(int(v) for v in args.size.split("x"))
    truth = args.work / "scan_truth.json" if args.work else None
    scan = _scan_config(truth) if truth and truth.is_file() else ScanConfig()
    width = json.loads((twin.root / "build.json").read_text())["splats"]["image_size"][0] \
        if (twin.root / "build.json").is_file() else 240  # fmt: skip
    print("measuring shapes and the scan's views", file=sys.stderr, flush=True)
    result = {"shape": shape(source, twin, args.work), "scan": coverage(source, scan, width)}
    print(f"rendering {args.states} states", file=sys.stderr, flush=True)
    conditions = extra_conditions((source, twin), args.states, SEED)
    pair = WorldPair(source, twin, HybridConfig())
    try:
        stats, crops = look(pair, conditions, args.states, size)
    finally:
        pair.close()
    result["look"] = stats
    for section in ("shape", "scan"):
        emit_rows(BENCH, section, result[section], "count")
    for key, worlds in stats.items():
        emit_rows(BENCH, f"look/{key}", worlds, "luminance")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "objects.md").write_text(markdown(result, args))
        picture(args.out / "objects.png", crops)


def _scan_config(truth: Path) -> ScanConfig:
    """The phone settings a build recorded with its scan (``ScanTruth.save``)."""
    return ScanConfig.from_record(json.loads(truth.read_text())["config"])


if __name__ == "__main__":
    main()
