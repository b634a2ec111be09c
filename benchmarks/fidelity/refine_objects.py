"""What the twin's locators would read if its objects' splats were trained again at the phone's
full resolution: a measurement, not a way to build a twin.

    python -m benchmarks.fidelity.refine_objects --twin tabletop_twin --out runs/refined

``reconstruct.refine_objects`` (the objects stage's ``refine`` step) applied to a bundled twin
after the fact: its objects' Gaussians optimised again on 128 px crops around each object of
the phone's frames at the video's own 480x360, the scene's frozen behind them, and written as
a copy of the package (objects' splats replaced, everything else kept). The frames are the
source world drawn from the simulated phone's true path (no blur, noise or exposure drift), so
this needs a twin built by ``reconstruct.synthetic.build`` (its ``build.json`` holds the path)
and uses what only such a twin has: the true cameras, and the objects where the source put
them at initial condition 0. Compare the copy with ``locator_proxy``.

One JSON line per figure: crop PSNR on held-out frames before and after, Gaussians per object,
seconds. ``OUT.png``: held-out crops, phone frame | as built | refined.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from benchmarks.fidelity.gap import Report
from reconstruct.refine_objects import (
    CropViews,
    RefineConfig,
    Refined,
    activated,
    crop_psnr,
    crop_windows,
    refine_objects,
    render_crop,
)
from reconstruct.synthetic.scan import PhoneRenderer, ScanConfig, camera_path, phone_intrinsics
from reconstruct.views import View
from sim_env.cameras import quat_to_mat
from sim_env.package import EnvPackage, load_spec_checked
from sim_env.package.loader import save_package
from sim_env.registry import resolve_env
from sim_env.splats import GaussianSet, concat, transform
from sim_env.splats.ply import read_ply, write_ply

FRAMES = 96  # phone frames trained on; as many held out, half a spacing later
STEPS = 3000


@dataclass(frozen=True, eq=False)
class PlacedObjects:
    """The twin's objects' Gaussians where initial condition 0 puts them (world frame)."""

    names: tuple[str, ...]
    gaussians: GaussianSet
    labels: np.ndarray  # [N] index into names
    poses: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (rotation [3, 3], position [3] m)

    def points(self) -> list[np.ndarray]:
        """Each object's Gaussians' centres [N_i, 3]."""
        return [self.gaussians.means[self.labels == i] for i in range(len(self.names))]


def placed_objects(twin: EnvPackage) -> PlacedObjects:
    first = twin.spec.initial_conditions[0]
    sets, labels, poses = [], [], {}
    for i, obj in enumerate(twin.spec.objects):
        pose = first.objects[obj.name]
        rot, pos = quat_to_mat(np.asarray(pose.quat)), np.asarray(pose.pos, float)
        poses[obj.name] = (rot, pos)
        sets.append(transform(read_ply(twin.path(obj.splats)), rot, pos))
        labels.append(np.full(len(sets[-1]), i))
    names = tuple(o.name for o in twin.spec.objects)
    return PlacedObjects(names, concat(sets), np.concatenate(labels), poses)


def picture_gaussians(twin: EnvPackage, spacing: float = 0.004) -> GaussianSet:
    """The twin's table picture (``scene.table_texture``, which it must have) as flat opaque
    Gaussians on a grid of ``spacing`` metres, each the mean colour of the texels it covers."""
    texture = twin.spec.scene.table_texture
    assert texture is not None
    rgba = np.asarray(Image.open(twin.path(texture.image)).convert("RGBA"), np.float64) / 255.0
    x_min, _, x_max, y_max = texture.extent
    rows, cols = rgba.shape[:2]
    texel = (x_max - x_min) / cols
    step = max(1, round(spacing / texel))
    rows, cols = rows // step * step, cols // step * step
    blocks = rgba[:rows, :cols].reshape(rows // step, step, cols // step, step, 4).mean((1, 3))
    keep = blocks[..., 3] >= 0.5
    i, j = np.nonzero(keep)
    size = step * texel
    x = x_min + (j + 0.5) * size
    y = y_max - (i + 0.5) * size  # row 0 at y_max
    means = np.c_[x, y, np.full(len(x), texture.height)]
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (len(x), 1))
    scales = np.tile([size / 2, size / 2, size / 100], (len(x), 1))
    return GaussianSet.from_colors(means, quats, scales, np.full(len(x), 0.99), blocks[keep, :3])


def static_scene(twin: EnvPackage) -> GaussianSet:
    """What stands behind the objects in the crops: the static splats, and the table picture
    where the twin draws its table as one (its splats hold no table then: crops drawn over
    nothing were black where the phone saw the table, and any training that widened the
    objects raised their held-out PSNR)."""
    static = read_ply(twin.path(twin.spec.scene.splats))
    if twin.spec.scene.table_texture is None:
        return static
    return concat([static, picture_gaussians(twin)])


def phone_views(source: EnvPackage, scan: ScanConfig, times: np.ndarray) -> CropViews:
    """The source world from the phone's true path at ``times`` (s), drawn clean."""
    phone = PhoneRenderer(source, scan)
    views = []
    try:
        for t, cam in zip(times, camera_path(times, scan), strict=True):
            viewmat = np.eye(4)
            viewmat[:3] = cam
            views.append(View(f"{t:.3f}", phone.render(cam), phone_intrinsics(scan), viewmat))
    finally:
        phone.close()
    return CropViews.of(views)


def write_refined(twin: EnvPackage, objects: PlacedObjects, out: Path) -> EnvPackage:
    """A copy of ``twin`` at ``out`` with each object's splats replaced (body frame)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(twin.root, out)
    for i, obj in enumerate(twin.spec.objects):
        rot, pos = objects.poses[obj.name]
        placed = objects.gaussians.subset(np.nonzero(objects.labels == i)[0])
        write_ply(out / obj.splats, transform(placed, rot.T, -rot.T @ pos))
    data = yaml.safe_load((out / "env.yaml").read_text())
    return save_package(data, out)


def sheet(static, before, after, views: CropViews, windows, crop: int, path: Path) -> None:
    """Held-out crops, one per row: phone frame | as built | refined."""
    from PIL import Image

    fixed = activated(static)
    rows = []
    for window in windows:
        tiles = [views.target(window, crop).numpy()]
        for gs in (before, after):
            tiles.append(render_crop(fixed, activated(gs), views, window, crop)[0].detach().numpy())
        rows.append(np.concatenate(tiles, 1))
    image = (np.clip(np.concatenate(rows, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(image).save(path)


def run(
    source_id: str, twin_id: str, out: Path, config: RefineConfig, frames: int, report: Report
) -> EnvPackage:
    twin = load_spec_checked(resolve_env(twin_id))
    source = load_spec_checked(resolve_env(source_id))
    build = twin.root / "build.json"
    if not build.is_file():
        raise SystemExit(f"{twin.root}: no build.json; only a synthetic twin has the phone's path")
    scan = ScanConfig.from_record(json.loads(build.read_text())["config"]["scan"])
    spacing = (scan.total_s - 1 / scan.fps) / frames
    times = np.arange(frames) * spacing
    started = time.monotonic()
    train, held = phone_views(source, scan, times), phone_views(source, scan, times + spacing / 2)
    static = static_scene(twin)
    objects = placed_objects(twin)
    windows = crop_windows(objects.points(), train, config.crop)
    held_windows = crop_windows(objects.points(), held, config.crop)
    before = crop_psnr(static, objects.gaussians, held, held_windows, config.crop)
    report.add("refine/as-built", "held_out_crop_psnr", before, "dB")
    refined: Refined = refine_objects(
        static, objects.gaussians, objects.labels, train, windows, config
    )
    after = crop_psnr(static, refined.gaussians, held, held_windows, config.crop)
    report.add("refine/refined", "held_out_crop_psnr", after, "dB")
    report.add("refine/refined", "loss_first_100", float(np.mean(refined.losses[:100])), "loss")
    report.add("refine/refined", "loss_last_100", float(np.mean(refined.losses[-100:])), "loss")
    for i, name in enumerate(objects.names):
        report.add(
            f"refine/as-built/{name}", "gaussians", int(np.sum(objects.labels == i)), "count"
        )
        report.add(f"refine/refined/{name}", "gaussians", int(np.sum(refined.labels == i)), "count")
    report.add("refine", "seconds", time.monotonic() - started, "s")
    rng = np.random.default_rng(config.seed)
    picks = [
        held_windows[k]
        for k in rng.choice(len(held_windows), min(6, len(held_windows)), replace=False)
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet(
        static,
        objects.gaussians,
        refined.gaussians,
        held,
        picks,
        config.crop,
        out.with_suffix(".png"),
    )
    placed = PlacedObjects(objects.names, refined.gaussians, refined.labels, objects.poses)
    return write_refined(twin, placed, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--out", type=Path, required=True, help="the refined copy's folder")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--max-size-mm", type=float, default=RefineConfig.max_size * 1000)
    args = parser.parse_args(argv)
    config = RefineConfig(steps=args.steps, max_size=args.max_size_mm / 1000)
    run(args.source, args.twin, args.out, config, args.frames, Report())


if __name__ == "__main__":
    main()
