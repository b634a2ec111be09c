"""What the twin's locators would read if its objects' splats were trained again at the phone's
full resolution: a measurement, not a way to build a twin.

    python -m benchmarks.fidelity.refine_objects --twin tabletop_twin --out runs/refined

The splats stage trains the whole scene at 240 px wide, so a 5 cm box gets a couple of hundred
Gaussians about 5 mm across, which draw it squat and wide. Here only the objects' Gaussians are
optimised again (split down to ``max_size``) on 128 px crops around each object of the phone's
frames at the video's own 480x360, the scene's Gaussians frozen behind them, and the result is
written as a copy of the package (objects' splats replaced, everything else kept). The frames
are the source world drawn from the simulated phone's true path (no blur, noise or exposure
drift), so this needs a twin built by ``reconstruct.synthetic.build`` (its ``build.json``
holds the path) and uses what only such a twin has: the true cameras, and the objects where
the source put them at initial condition 0. Compare the copy with ``locator_proxy``.

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
import torch
import yaml
from scipy.spatial import cKDTree

from benchmarks.fidelity.gap import Report
from reconstruct.synthetic.scan import PhoneRenderer, ScanConfig, camera_path, phone_intrinsics
from reconstruct.train import losses
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu_rasterization import rasterization_cpu
from reconstruct.train.densify import DensifyState, refine
from reconstruct.train.params import FIELDS, SplatParams
from sim_env.cameras import quat_to_mat
from sim_env.package import EnvPackage, load_spec_checked
from sim_env.package.loader import save_package
from sim_env.registry import resolve_env
from sim_env.splats import GaussianSet, transform
from sim_env.splats.ply import read_ply, write_ply

SH_DEGREE = 1  # the CPU trainer's
GS_FIELDS = ("means", "quats", "scales", "opacities", "sh")
_LR_NAME = {"log_scales": "scales", "logit_opacities": "opacities", "sh_rest": "shN"}


@dataclass(frozen=True)
class RefineConfig:
    """steps: optimisation steps, one crop each; frames: phone frames trained on (as many
    held out, half a spacing later); crop: square crop side, pixels; max_size: Gaussians
    larger than this (m) are split; lr_means: the means' rate (m); max_gaussians: objects'
    cap; min_opacity: dropped when written; seed: crop order and split noise."""

    steps: int = 3000
    frames: int = 96
    crop: int = 128
    max_size: float = 0.003
    lr_means: float = 2e-4
    max_gaussians: int = 20_000
    min_opacity: float = 0.02
    seed: int = 0


@dataclass(frozen=True, eq=False)
class PlacedObjects:
    """The twin's objects' Gaussians where initial condition 0 puts them (world frame)."""

    names: tuple[str, ...]
    gaussians: GaussianSet
    labels: np.ndarray  # [N] index into names
    poses: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (rotation [3, 3], position [3] m)


@dataclass(frozen=True, eq=False)
class PhoneFrames:
    images: list[torch.Tensor]  # [H, W, 3] in [0, 1]
    viewmats: list[torch.Tensor]  # [4, 4] world -> OpenCV camera
    K: np.ndarray  # [3, 3]
    size: tuple[int, int]  # (W, H)


def concatenate(sets: list[GaussianSet]) -> GaussianSet:
    return GaussianSet(*(np.concatenate([getattr(g, f) for g in sets]) for f in GS_FIELDS))


def placed_objects(twin: EnvPackage) -> PlacedObjects:
    first = twin.spec.initial_conditions[0]
    sets, labels, poses = [], [], {}
    for i, obj in enumerate(twin.spec.objects):
        pose = first.objects[obj.name]
        rot, pos = quat_to_mat(np.asarray(pose.quat)), np.asarray(pose.pos, float)
        poses[obj.name] = (rot, pos)
        sets.append(transform(read_ply(twin.path(obj.splats)), rot, pos))
        labels.append(np.full(len(sets[-1].means), i))
    names = tuple(o.name for o in twin.spec.objects)
    return PlacedObjects(names, concatenate(sets), np.concatenate(labels), poses)


def phone_frames(source: EnvPackage, scan: ScanConfig, times: np.ndarray) -> PhoneFrames:
    """The source world from the phone's true path at ``times`` (s), drawn clean."""
    cams = camera_path(times, scan)  # [F, 3, 4]
    phone = PhoneRenderer(source, scan)
    try:
        images = [torch.as_tensor(phone.render(c)) for c in cams]
    finally:
        phone.close()
    viewmats = []
    for c in cams:
        m = np.eye(4)
        m[:3] = c
        viewmats.append(torch.tensor(m, dtype=torch.float32))
    return PhoneFrames(images, viewmats, phone_intrinsics(scan), scan.size)


def crop_windows(
    objects: PlacedObjects, frames: PhoneFrames, crop: int
) -> list[tuple[int, int, int]]:
    """(frame, x0, y0) of a crop centred on each object wherever its centre is in view."""
    centres = [
        objects.gaussians.means[objects.labels == i].mean(0) for i in range(len(objects.names))
    ]
    (w, h), k = frames.size, frames.K
    out = []
    for f, view in enumerate(frames.viewmats):
        m = view.numpy()
        for c in centres:
            p = m[:3, :3] @ c + m[:3, 3]
            if p[2] <= 0.05:
                continue
            u, v = k[0, 0] * p[0] / p[2] + k[0, 2], k[1, 1] * p[1] / p[2] + k[1, 2]
            if 0 <= u < w and 0 <= v < h:
                x0 = int(np.clip(round(u) - crop // 2, 0, w - crop))
                y0 = int(np.clip(round(v) - crop // 2, 0, h - crop))
                out.append((f, x0, y0))
    return out


def render_crop(frozen, moving, frames: PhoneFrames, window, crop: int) -> torch.Tensor:
    """[crop, crop, 3] the scene (``frozen``) and objects (``moving``) activated tensors."""
    f, x0, y0 = window
    k = frames.K
    kc = torch.tensor(
        [[k[0, 0], 0, k[0, 2] - x0], [0, k[1, 1], k[1, 2] - y0], [0, 0, 1]], dtype=torch.float32
    )
    render, _, info = rasterization_cpu(
        *(torch.cat([a, b]) for a, b in zip(frozen, moving, strict=True)),
        viewmats=frames.viewmats[f][None], Ks=kc[None], width=crop, height=crop,
        sh_degree=SH_DEGREE,
    )  # fmt: skip
    return render[0], info


def crop_psnr(frozen, moving, frames: PhoneFrames, windows, crop: int) -> float:
    with torch.no_grad():
        errors = []
        for window in windows:
            f, x0, y0 = window
            render, _ = render_crop(frozen, moving, frames, window, crop)
            target = frames.images[f][y0 : y0 + crop, x0 : x0 + crop]
            errors.append(float(torch.mean((render.clamp(0, 1) - target) ** 2)))
    return float(-10 * np.log10(np.mean(errors)))


def refine_objects(
    scene: GaussianSet,
    objects: PlacedObjects,
    frames: PhoneFrames,
    windows: list[tuple[int, int, int]],
    config: RefineConfig,
) -> tuple[PlacedObjects, list[float]]:
    """The objects' Gaussians optimised on the crops (L1 + D-SSIM, split and pruned as the
    splats stage's densification does); the scene's are held fixed."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    train = TrainConfig()
    rates = train.learning_rates(1.0) | {"means": config.lr_means}
    with torch.no_grad():
        frozen = [t.detach() for t in SplatParams.from_gaussians(scene, SH_DEGREE).activated()]
    params = SplatParams.from_gaussians(objects.gaussians, SH_DEGREE)
    labels = objects.labels.copy()

    def adam(p: SplatParams) -> torch.optim.Adam:
        groups = [{"params": [getattr(p, n)], "lr": rates[_LR_NAME.get(n, n)]} for n in FIELDS]
        return torch.optim.Adam(groups, eps=1e-15)

    optimizer = adam(params)
    densify = DensifyConfig(
        start=100, stop=int(config.steps * 0.7), every=100,
        grow_scale=config.max_size, max_size=1.6 * config.max_size, prune_scale=0.05,
        max_gaussians=config.max_gaussians,
    )  # fmt: skip
    state = DensifyState.zeros(len(params))
    history = []
    for step in range(config.steps):
        window = windows[rng.integers(len(windows))]
        f, x0, y0 = window
        render, info = render_crop(frozen, params.activated(), frames, window, config.crop)
        info["means2d"].retain_grad()
        target = frames.images[f][y0 : y0 + config.crop, x0 : x0 + config.crop]
        loss = losses.photometric(render[..., :3], target, train.ssim_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        n_scene = len(frozen[0])
        grad = info["means2d"].grad
        if step < densify.stop and grad is not None:
            visible = info["radii"][0, n_scene:] > 0
            visible = visible.all(-1) if visible.ndim == 2 else visible
            state.accumulate(grad[0, n_scene:], visible, config.crop, config.crop)
        if densify.start <= step < densify.stop and (step - densify.start) % densify.every == 0:
            before = params.means.detach().numpy().copy()
            params, source, _ = refine(params, state, densify, 1.0, generator)
            src = source.numpy()
            _, nearest = cKDTree(before).query(params.means.detach().numpy())
            labels = labels[np.where(src >= 0, src, nearest)]  # a child is its parent's
            optimizer = adam(params)
            state = DensifyState.zeros(len(params))
    final = params.to_gaussians()
    keep = final.opacities > config.min_opacity
    out = PlacedObjects(
        objects.names, final.subset(np.nonzero(keep)[0]), labels[keep], objects.poses
    )
    return out, history


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


def sheet(frozen, before, after, frames: PhoneFrames, windows, crop: int, path: Path) -> None:
    from PIL import Image

    rows = []
    with torch.no_grad():
        for window in windows:
            f, x0, y0 = window
            tiles = [frames.images[f][y0 : y0 + crop, x0 : x0 + crop].numpy()]
            tiles += [
                render_crop(frozen, m, frames, window, crop)[0].numpy() for m in (before, after)
            ]
            rows.append(np.concatenate(tiles, 1))
    image = (np.clip(np.concatenate(rows, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(image).save(path)


def run(
    source_id: str, twin_id: str, out: Path, config: RefineConfig, report: Report
) -> EnvPackage:
    twin = load_spec_checked(resolve_env(twin_id))
    source = load_spec_checked(resolve_env(source_id))
    build = twin.root / "build.json"
    if not build.is_file():
        raise SystemExit(f"{twin.root}: no build.json; only a synthetic twin has the phone's path")
    scan = ScanConfig.from_record(json.loads(build.read_text())["config"]["scan"])
    spacing = (scan.total_s - 1 / scan.fps) / config.frames
    times = np.arange(config.frames) * spacing
    started = time.monotonic()
    train_frames = phone_frames(source, scan, times)
    held_frames = phone_frames(source, scan, times + spacing / 2)
    scene = read_ply(twin.path(twin.spec.scene.splats))
    objects = placed_objects(twin)
    windows = crop_windows(objects, train_frames, config.crop)
    held = crop_windows(objects, held_frames, config.crop)
    with torch.no_grad():
        frozen = [t.detach() for t in SplatParams.from_gaussians(scene, SH_DEGREE).activated()]
        before = SplatParams.from_gaussians(objects.gaussians, SH_DEGREE).activated()
    report.add(
        "refine/as-built",
        "held_out_crop_psnr",
        crop_psnr(frozen, before, held_frames, held, config.crop),
        "dB",
    )
    refined, history = refine_objects(scene, objects, train_frames, windows, config)
    with torch.no_grad():
        after = SplatParams.from_gaussians(refined.gaussians, SH_DEGREE).activated()
    report.add(
        "refine/refined",
        "held_out_crop_psnr",
        crop_psnr(frozen, after, held_frames, held, config.crop),
        "dB",
    )
    report.add("refine/refined", "loss_first_100", float(np.mean(history[:100])), "loss")
    report.add("refine/refined", "loss_last_100", float(np.mean(history[-100:])), "loss")
    for i, name in enumerate(objects.names):
        report.add(
            f"refine/as-built/{name}", "gaussians", int(np.sum(objects.labels == i)), "count"
        )
        report.add(f"refine/refined/{name}", "gaussians", int(np.sum(refined.labels == i)), "count")
    report.add("refine", "seconds", time.monotonic() - started, "s")
    rng = np.random.default_rng(config.seed)
    picks = [held[k] for k in rng.choice(len(held), min(6, len(held)), replace=False)]
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet(frozen, before, after, held_frames, picks, config.crop, out.with_suffix(".png"))
    return write_refined(twin, refined, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--out", type=Path, required=True, help="the refined copy's folder")
    parser.add_argument("--steps", type=int, default=RefineConfig.steps)
    parser.add_argument("--frames", type=int, default=RefineConfig.frames)
    parser.add_argument("--max-size-mm", type=float, default=RefineConfig.max_size * 1000)
    args = parser.parse_args(argv)
    config = RefineConfig(steps=args.steps, frames=args.frames, max_size=args.max_size_mm / 1000)
    run(args.source, args.twin, args.out, config, Report())


if __name__ == "__main__":
    main()
