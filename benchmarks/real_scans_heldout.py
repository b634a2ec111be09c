"""Where a real scan's held-out PSNR is lost (issue 21, the Buddha photos): per held-out view,
the error split into the pixels the training photos saw and those none saw, and into the
object, the table and the background; the training views' own PSNR (the fit); optionally a
training first (the splats stage's recipe on the same frames), e.g. the "oracle" trained on
every photo, held-out ones included, which bounds what this representation reaches at this
size and step count.

    python -m benchmarks.real_scans_heldout WORK                    # score WORK/splats
    python -m benchmarks.real_scans_heldout WORK --train all --out DIR      # the oracle
    python -m benchmarks.real_scans_heldout WORK --train heldout --width 228 --steps 500 \\
        --set appearance_lr=0.001 --out DIR                         # a probe of one change

``WORK`` is a ``twinbench reconstruct`` work folder (frames, align, mesh; splats and objects
when present). The geometry is the mesh stage's fused scene mesh, ray-cast (the splats' own
expected depth floats above a plain table), and the splats' depth where the mesh has holes. A held-out pixel is *seen* when the surface point
its ray hits projects inside at least ``--min-seen`` training frames and is not hidden there
(within 2% + 5 mm of that frame's ray-cast depth); a ray that hits nothing is unseen. Regions
come from that point: the *object* is above 1 cm within the objects stage's boxes (grown by
2 cm), the *table* within the table's box below 3 cm, the *background* the rest (off the
table, or no surface).
Writes ``regions.jpg`` (photo | render | error with the unseen pixels outlined | regions) to
``--out`` and prints one JSON line per figure: {"bench": "real_scans_heldout", "case",
"metric", "value", "unit"}.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d

from benchmarks import figures
from reconstruct.splats import (
    SplatsConfig,
    initial_gaussians,
    prune,
    render_view,
    scene_scale,
)
from reconstruct.train.config import TrainConfig
from reconstruct.train.metrics import psnr
from reconstruct.units import Units
from reconstruct.views import View, holdout_split, load_views
from sim_env.splats import GaussianSet, rasterize, read_ply, write_ply

BENCH = "real_scans_heldout"
OBJECT_BASE = 0.01  # m: an object's points stand above this
TABLE_TOP = 0.03  # m: a table point lies below this (the fused table slopes a few degrees)
OBJECT_MARGIN = 0.02  # m: the objects' boxes grown by this
REGIONS = ("object", "table", "background")


@dataclass(frozen=True)
class Work:
    """A reconstruct work folder's views at one width, split as the splats stage splits."""

    model: Path  # aligned COLMAP model
    train: list[View]
    heldout: list[View]
    units: Units
    mesh: o3d.t.geometry.RaycastingScene  # the mesh stage's scene mesh
    boxes: list[tuple[np.ndarray, np.ndarray]]  # objects' (centre xy, half extent xy), world
    table: tuple[np.ndarray, np.ndarray]  # the table's xy box (low, high), world

    @classmethod
    def load(cls, work: Path, width: int) -> Work:
        model = work / "align" / "sparse"
        align = json.loads((work / "align" / "summary.json").read_text())
        views = load_views(model, work / "frames" / "images", width)
        train_ids, test_ids = holdout_split(len(views), SplatsConfig().holdout_every)
        units = Units.from_align(align) or Units()
        scene = o3d.t.geometry.RaycastingScene()
        mesh = o3d.io.read_triangle_mesh(str(work / "mesh" / "scene_mesh.ply"))
        scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
        objects = work / "objects" / "summary.json"
        summary = json.loads(objects.read_text()) if objects.is_file() else {}
        return cls(
            model, [views[i] for i in train_ids], [views[i] for i in test_ids], units, scene,
            object_boxes(summary, units.per_metre), table_box(summary, units.per_metre),
        )  # fmt: skip


def object_boxes(summary: dict, per_metre: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The objects stage's objects as xy boxes (centre, half extent; world units), axis-aligned
    over their yawed footprint."""
    boxes = []
    for obj in summary.get("objects", []):
        half = 0.5 * np.linalg.norm(obj["extents_m"][:2]) + OBJECT_MARGIN
        boxes.append((np.asarray(obj["centroid_m"][:2]) * per_metre, np.full(2, half * per_metre)))
    return boxes


def table_box(summary: dict, per_metre: float) -> tuple[np.ndarray, np.ndarray]:
    """The objects stage's table box in xy (world units); unbounded without one."""
    box = summary.get("static", {}).get("table_box_m")
    if not box:
        return np.full(2, -np.inf), np.full(2, np.inf)
    return np.asarray(box[0][:2]) * per_metre, np.asarray(box[1][:2]) * per_metre


def train(work: Work, views: list[View], config: SplatsConfig) -> GaussianSet:
    """The splats stage's training on ``views`` (its initialisation, trainer and pruning)."""
    from reconstruct.train.cpu import train_cpu

    config = config.in_units(work.units)
    init = initial_gaussians(work.model, views, config)
    last = [-1]

    def report(fraction: float, note: str) -> None:
        if int(fraction * 20) > last[0]:
            last[0] = int(fraction * 20)
            print(f"[{BENCH}] {fraction:4.0%} {note}", file=sys.stderr, flush=True)

    result = train_cpu(init, views, config.train, scene_scale(views), report)
    figures.emit(BENCH, "train", "seconds", result.seconds, "s", 1)
    return prune(result.gaussians, config.min_opacity, config.max_gaussians, config.train.sh_degree)


def surface(work: Work, gs: GaussianSet, view: View) -> tuple[np.ndarray, np.ndarray]:
    """The scene's surface seen from ``view``: depth [H, W] along the optical axis and the
    world points [H, W, 3] there; the scene mesh's where a ray hits it, else the splats'
    expected depth where they are opaque (alpha >= 0.5), else inf / NaN."""
    w, h = view.size
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    k = view.K
    cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1)
    dirs = cam @ view.viewmat[:3, :3]  # R^T x: unit depth along the optical axis
    rays = np.concatenate([np.broadcast_to(view.centre, dirs.shape), dirs], -1)
    hits = work.mesh.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))
    depth = hits["t_hit"].numpy().astype(np.float64)
    _, splat_depth, alpha = rasterize(
        gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, view.K, w, h
    )
    splat = np.where(alpha >= 0.5, splat_depth / np.maximum(alpha, 1e-6), np.inf)
    depth = np.where(np.isfinite(depth), depth, splat)
    with np.errstate(invalid="ignore"):
        points = view.centre + depth[..., None] * dirs
    points[~np.isfinite(depth)] = np.nan
    return depth, points


def seen_count(
    points: np.ndarray,  # [H, W, 3] world
    others: list[tuple[View, np.ndarray]],  # training views with their rendered depth [h, w]
    per_metre: float,
) -> np.ndarray:
    """[H, W] how many of ``others`` see each point: inside the frame, in front, not hidden
    behind what that frame's render shows there."""
    count = np.zeros(points.shape[:2], np.int32)
    flat = points.reshape(-1, 3)
    valid = np.isfinite(flat).all(axis=1)
    for view, depth in others:
        cam = flat @ view.viewmat[:3, :3].T + view.viewmat[:3, 3]
        z = cam[:, 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            u = view.K[0, 0] * cam[:, 0] / z + view.K[0, 2]
            v = view.K[1, 1] * cam[:, 1] / z + view.K[1, 2]
        w, h = view.size
        inside = valid & (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        ui = np.clip(np.nan_to_num(u).astype(int), 0, w - 1)
        vi = np.clip(np.nan_to_num(v).astype(int), 0, h - 1)
        front = depth[vi, ui]
        visible = inside & (z <= front * 1.02 + 0.005 * per_metre)
        count += visible.reshape(count.shape)
    return count


def regions(points: np.ndarray, work: Work) -> dict[str, np.ndarray]:
    """[H, W] bool masks: object, table, background (see the module's docstring)."""
    per_metre = work.units.per_metre
    z = points[..., 2]
    finite = np.isfinite(z)
    above = finite & (z > OBJECT_BASE * per_metre)
    on_object = np.zeros(z.shape, bool)
    for centre, half in work.boxes:
        on_object |= above & np.all(np.abs(points[..., :2] - centre) <= half, axis=-1)
    low, high = work.table
    on_table = np.all((points[..., :2] >= low) & (points[..., :2] <= high), axis=-1)
    table = finite & on_table & (z <= TABLE_TOP * per_metre) & ~on_object
    return {"object": on_object, "table": table, "background": ~(on_object | table)}


def _db(mse: float) -> float:
    return 10.0 * float(np.log10(1.0 / max(float(mse), 1e-12)))


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) over the pixels in ``mask``; NaN when it is empty."""
    if not mask.any():
        return float("nan")
    mse = float(np.mean((a[mask] - b[mask]) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def psnr_without(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Whole-image PSNR with the error on ``mask``'s pixels set to zero: what a perfect
    rendering of those pixels alone would give."""
    sq = ((a - b) ** 2).mean(axis=-1)
    return 10.0 * np.log10(1.0 / max(float(np.where(mask, 0.0, sq).mean()), 1e-12))


def error_panel(rendered: np.ndarray, image: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """uint8 BGR: |error| (mean over channels, 0..0.25 mapped to a colour ramp), the
    unseen pixels' outline in white."""
    err = np.abs(rendered - image).mean(axis=-1)
    ramp = cv2.applyColorMap(np.clip(err / 0.25 * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    contours, _ = cv2.findContours((~seen).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return cv2.drawContours(ramp, contours, -1, (255, 255, 255), 1)


def region_panel(masks: dict[str, np.ndarray], seen: np.ndarray) -> np.ndarray:
    """uint8 BGR: object red, table green, background blue; unseen pixels darkened."""
    colours = {"object": (60, 60, 230), "table": (60, 200, 60), "background": (220, 120, 40)}
    panel = np.zeros((*seen.shape, 3), np.uint8)
    for name, colour in colours.items():
        panel[masks[name]] = colour
    panel[~seen] //= 3
    return panel


def score_heldout(gs: GaussianSet, work: Work, min_seen: int, out: Path | None) -> None:
    """Emit each held-out view's PSNR by region; write ``regions.jpg`` to ``out``."""
    train_depths = [(view, surface(work, gs, view)[0]) for view in work.train]
    rows: list[np.ndarray] = []
    totals: dict[str, list[np.ndarray]] = {}
    for view in work.heldout:
        rgb = render_view(gs, view)
        points = surface(work, gs, view)[1]
        seen = seen_count(points, train_depths, work.units.per_metre) >= min_seen
        masks = regions(points, work)
        case = Path(view.name).stem
        figures.emit(BENCH, case, "psnr", psnr(rgb, view.image), "dB")
        figures.emit(BENCH, case, "seen_fraction", seen.mean(), "fraction")
        for name, mask in {"seen": seen, "unseen": ~seen}.items():
            figures.emit(BENCH, case, f"psnr_{name}", masked_psnr(rgb, view.image, mask), "dB")
            figures.emit(
                BENCH, case, f"psnr_{name}_perfect", psnr_without(rgb, view.image, mask), "dB"
            )
        for name in REGIONS:
            mask = masks[name]
            figures.emit(BENCH, case, f"{name}_fraction", mask.mean(), "fraction")
            figures.emit(BENCH, case, f"psnr_{name}", masked_psnr(rgb, view.image, mask), "dB")
            figures.emit(
                BENCH, case, f"psnr_{name}_seen", masked_psnr(rgb, view.image, mask & seen), "dB"
            )
        sq = ((rgb - view.image) ** 2).mean(axis=-1)
        for name, mask in {
            "all": np.ones_like(seen),
            "seen": seen,
            "unseen": ~seen,
            **masks,
        }.items():
            totals.setdefault(name, []).append(sq[mask])
        bgr = lambda a: cv2.cvtColor((a * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)  # noqa: E731
        rows.append(np.concatenate(
            [bgr(view.image), bgr(rgb), error_panel(rgb, view.image, seen), region_panel(masks, seen)],
            axis=1,
        ))  # fmt: skip
    if not rows:
        return
    pixels = sum(len(part) for part in totals["all"])
    for name, parts in totals.items():
        error = np.concatenate(parts)
        figures.emit(BENCH, "heldout", f"pooled_psnr_{name}", _db(error.mean()), "dB")
        if name != "all":
            figures.emit(
                BENCH, "heldout", f"pooled_{name}_fraction", len(error) / pixels, "fraction"
            )
            rest = (sum(float(p.sum()) for p in totals["all"]) - float(error.sum())) / pixels
            figures.emit(BENCH, "heldout", f"pooled_psnr_{name}_perfect", _db(rest), "dB")
    if out is not None:
        cv2.imwrite(
            str(out / "regions.jpg"), np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )


def score_fit(gs: GaussianSet, work: Work) -> None:
    """Emit the training views' PSNR, each and their mean (how well the splats fit what they
    trained on)."""
    values = [psnr(render_view(gs, v), v.image) for v in work.train]
    for view, value in zip(work.train, values, strict=True):
        figures.emit(BENCH, Path(view.name).stem, "train_psnr", value, "dB")
    figures.emit(BENCH, "train_views", "psnr", float(np.mean(values)), "dB")


def training_config(width: int, steps: int | None, settings: list[str]) -> SplatsConfig:
    """The splats stage's defaults at ``width`` (and ``steps``), with ``field=value``
    overrides of its ``TrainConfig`` (numbers only)."""
    config = SplatsConfig(image_width=width)
    if steps is not None:
        config = config.with_steps(steps)
    names = {f.name: f.type for f in fields(TrainConfig)}
    changes: dict[str, float] = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if name not in names or name == "densify":
            raise SystemExit(f"--set {setting}: not a TrainConfig number ({', '.join(names)})")
        changes[name] = int(value) if names[name] == "int" else float(value)
    return replace(config, train=replace(config.train, **changes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a reconstruct work folder")
    parser.add_argument("--splats", type=Path, help="PLY to score (default WORK/splats/...)")
    parser.add_argument("--train", choices=("heldout", "all"), help="train first: without the "
                        "held-out photos (as the stage does) or on all of them (the oracle)")  # fmt: skip
    parser.add_argument("--width", type=int, default=SplatsConfig().image_width)
    parser.add_argument("--steps", type=int, help="training steps (default: the stage's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--min-seen", type=int, default=2, help="training frames that must see it")
    parser.add_argument("--out", type=Path, help="folder for regions.jpg and a trained PLY")
    args = parser.parse_args(argv)
    work = Work.load(args.work, args.width)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    if args.train:
        views = work.train + (work.heldout if args.train == "all" else [])
        gs = train(work, views, training_config(args.width, args.steps, args.set))
        if args.out is not None:
            write_ply(args.out / "scene_splats.ply", gs)
    else:
        gs = read_ply(args.splats or args.work / "splats" / "scene_splats.ply")
    figures.emit(BENCH, "splats", "gaussians", len(gs), "count", None)
    score_fit(gs, work)
    score_heldout(gs, work, args.min_seen, args.out)


if __name__ == "__main__":
    main()
