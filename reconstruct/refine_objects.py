"""The objects' Gaussians trained again on full-resolution crops of the frames, the static
scene's held fixed behind them.

The splats stage trains the whole scene at one width (240 px by default), so a 5 cm box gets a
couple of hundred Gaussians about 5 mm across, which draw it squat and wide. Once the objects
stage knows which Gaussians are the objects, only those are optimised again, on square crops
covering each object in the frames at twice the splats' width: L1 + D-SSIM as the splats stage
trains, the same densification splitting them down to ``max_size``. On the bundled twins (true
cameras, 3,000 steps, 4-5 min on 2 cores) held-out crops gain 4.6 dB (tabletop) and 5.8 dB
(kitchen; ``benchmarks/fidelity/refine_objects.py``). From 11 photos it overfits (the Buddha's
held-out crops lost 0.8 dB), so where a frame is held out the objects are kept as trained
unless its crops gain.

Arrays: positions in world units; crops are ``(view index, x0, y0)`` pixel windows of the
views' images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.spatial import cKDTree

from reconstruct.colmap_model import load_model
from reconstruct.errors import ReconstructError
from reconstruct.train import losses
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.cpu_rasterization import rasterization_cpu
from reconstruct.train.densify import DensifyState, refine
from reconstruct.train.params import FIELDS, SplatParams
from reconstruct.units import Units, in_units
from reconstruct.views import View, load_views
from sim_env.splats import GaussianSet, concat

Window = tuple[int, int, int]  # (view index, x0, y0)
Progress = Callable[[float, str], None]
SH_DEGREE = 1  # the CPU trainer's
_LR_NAME = {"log_scales": "scales", "logit_opacities": "opacities", "sh_rest": "shN"}


@dataclass(frozen=True)
class RefineConfig:
    """Attributes (lengths in metres):
    steps: optimisation steps, one crop each; 0 leaves the objects as the splats stage made them.
    image_width: the frames' width for the crops, never more than their own (0: twice the
        splats stage's training width).
    crop: the square crops' side, pixels.
    max_size: Gaussians larger than this are split.
    lr_means: the means' learning rate (a length per step).
    max_gaussians: the objects' Gaussians together stop growing at this count.
    min_opacity: Gaussians fainter than this are dropped at the end.
    seed: crop order and split noise.
    reshape_steps: the objects' solids are shaped again from the refined Gaussians (the
        objects stage's ``reshaped``) when at least this many steps refined them (150 steps
        left the reduced build's green box's Gaussians spread around it: shaped from them it
        came out 0.7-1.3 cm wrong; 3,000 put the kitchen's boxes within 1 mm); 0: never.
    """

    LENGTHS: ClassVar[tuple[str, ...]] = ("max_size", "lr_means")
    steps: int = 0
    image_width: int = 0
    crop: int = 128
    max_size: float = 0.003
    lr_means: float = 2e-4
    max_gaussians: int = 20_000
    min_opacity: float = 0.02
    seed: int = 0
    reshape_steps: int = 1000

    def __post_init__(self) -> None:
        for name in ("steps", "image_width", "reshape_steps"):
            if getattr(self, name) < 0:
                raise ReconstructError("must be 0 or more", field=f"objects.refine.{name}")
        if self.crop < 16:
            raise ReconstructError("must be at least 16 pixels", field="objects.refine.crop")
        if not self.max_size > 0:
            raise ReconstructError("must be positive (m)", field="objects.refine.max_size")

    def in_units(self, units: Units) -> RefineConfig:
        return in_units(self, self.LENGTHS, units.per_metre)


@dataclass(frozen=True, eq=False)
class CropViews:
    """The frames as tensors: images [H, W, 3] in [0, 1], world-to-camera [4, 4], K [3, 3]."""

    images: list[torch.Tensor]
    viewmats: list[torch.Tensor]
    Ks: list[np.ndarray]

    @classmethod
    def of(cls, views: Sequence[View]) -> CropViews:
        return cls(
            [torch.as_tensor(v.image, dtype=torch.float32) for v in views],
            [torch.tensor(v.viewmat, dtype=torch.float32) for v in views],
            [np.asarray(v.K, float) for v in views],
        )

    def target(self, window: Window, crop: int) -> torch.Tensor:
        f, x0, y0 = window
        return self.images[f][y0 : y0 + crop, x0 : x0 + crop]


def _starts(lo: float, hi: float, crop: int, size: int) -> list[int]:
    """Crop origins along one image axis covering [lo, hi] px with half-crop overlap (one
    centred crop where the span is shorter than a crop), inside [0, size - crop]."""
    lo, hi = float(np.floor(lo)), float(np.ceil(hi))
    span = hi - lo
    if span <= crop:
        starts = [round((lo + hi) / 2 - crop / 2)]
    else:
        count = int(np.ceil((span - crop) / (crop / 2))) + 1
        starts = np.linspace(lo, hi - crop, count).round().astype(int).tolist()
    return sorted({int(np.clip(x, 0, size - crop)) for x in starts})


def crop_windows(objects: Sequence[np.ndarray], views: CropViews, crop: int) -> list[Window]:
    """Crops covering each object ([N_i, 3] points: its Gaussians' centres) in every view that
    has its middle in front and in frame: one centred on it where it is smaller than a crop,
    else tiles over its extent (2nd to 98th percentile of its points) overlapping by half;
    pushed inside the image where they would overhang."""
    out = []
    for f, (image, view, k) in enumerate(zip(views.images, views.viewmats, views.Ks, strict=True)):
        h, w = image.shape[:2]
        if w < crop or h < crop:
            raise ReconstructError(
                f"the frames are {w}x{h}, smaller than a {crop} px crop; lower crop or raise "
                "image_width",
                field="objects.refine.crop",
            )
        m = view.numpy().astype(float)
        for points in objects:
            cam = np.asarray(points, float).reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
            middle = cam.mean(0)
            if middle[2] <= 0:
                continue
            u0 = k[0, 0] * middle[0] / middle[2] + k[0, 2]
            v0 = k[1, 1] * middle[1] / middle[2] + k[1, 2]
            if not (0 <= u0 < w and 0 <= v0 < h):
                continue
            front = cam[cam[:, 2] > 0]
            u = k[0, 0] * front[:, 0] / front[:, 2] + k[0, 2]
            v = k[1, 1] * front[:, 1] / front[:, 2] + k[1, 2]
            (ul, uh), (vl, vh) = np.percentile(u, [2, 98]), np.percentile(v, [2, 98])
            ul, uh = max(ul, 0.0), min(uh, float(w))
            vl, vh = max(vl, 0.0), min(vh, float(h))
            for y0 in _starts(vl, vh, crop, h):
                out.extend((f, x0, y0) for x0 in _starts(ul, uh, crop, w))
    return out


def render_crop(
    fixed: Sequence[torch.Tensor],
    moving: Sequence[torch.Tensor],
    views: CropViews,
    window: Window,
    crop: int,
) -> tuple[torch.Tensor, dict]:
    """[crop, crop, 3] of the activated (means, quats, scales, opacities, sh) of ``fixed`` and
    ``moving`` together, and the rasterizer's info (``means2d`` over both, fixed first)."""
    f, x0, y0 = window
    k = views.Ks[f]
    kc = torch.tensor(
        [[k[0, 0], 0, k[0, 2] - x0], [0, k[1, 1], k[1, 2] - y0], [0, 0, 1]], dtype=torch.float32
    )
    render, _, info = rasterization_cpu(
        *(torch.cat([a, b]) for a, b in zip(fixed, moving, strict=True)),
        viewmats=views.viewmats[f][None], Ks=kc[None], width=crop, height=crop,
        sh_degree=SH_DEGREE,
    )  # fmt: skip
    return render[0], info


def activated(gs: GaussianSet) -> tuple[torch.Tensor, ...]:
    """Constant rasterizer inputs of ``gs``."""
    with torch.no_grad():
        return tuple(t.detach() for t in SplatParams.from_gaussians(gs, SH_DEGREE).activated())


def crop_psnr(
    static: GaussianSet,
    objects: GaussianSet,
    views: CropViews,
    windows: Sequence[Window],
    crop: int,
) -> float:
    """PSNR (dB) over the crops of the static scene and ``objects`` drawn together."""
    fixed, moving = activated(static), activated(objects)
    with torch.no_grad():
        errors = [
            float(torch.mean((render_crop(fixed, moving, views, w, crop)[0].clamp(0, 1)
                              - views.target(w, crop)) ** 2))
            for w in windows
        ]  # fmt: skip
    return float(-10 * np.log10(max(np.mean(errors), 1e-12)))


@dataclass(frozen=True, eq=False)
class Refined:
    gaussians: GaussianSet
    labels: np.ndarray  # [N] the object each Gaussian belongs to
    losses: list[float]  # per step


def refine_objects(
    static: GaussianSet,
    objects: GaussianSet,
    labels: np.ndarray,
    views: CropViews,
    windows: Sequence[Window],
    config: RefineConfig,
    report: Progress | None = None,
) -> Refined:
    """``objects`` ([N], ``labels`` [N] saying whose) optimised on ``windows``, ``static``
    fixed; a split or cloned Gaussian belongs to the object its parent did."""
    if not windows:
        raise ReconstructError("no frame shows an object to refine on", field="objects.refine")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    train = TrainConfig()
    rates = train.learning_rates(1.0) | {"means": config.lr_means}
    fixed = activated(static)
    params = SplatParams.from_gaussians(objects, SH_DEGREE)
    labels = np.asarray(labels).copy()

    def adam(p: SplatParams) -> torch.optim.Adam:
        groups = [{"params": [getattr(p, n)], "lr": rates[_LR_NAME.get(n, n)]} for n in FIELDS]
        return torch.optim.Adam(groups, eps=1e-15)

    optimizer = adam(params)
    densify = DensifyConfig(
        start=100, stop=int(config.steps * 0.7), every=100,
        grow_scale=config.max_size, max_size=1.6 * config.max_size,
        prune_scale=16 * config.max_size,  # 4.8 cm at the default: haze, not an object's part
        max_gaussians=config.max_gaussians,
    )  # fmt: skip
    state = DensifyState.zeros(len(params))
    history: list[float] = []
    n_fixed = len(fixed[0])
    for step in range(config.steps):
        window = windows[rng.integers(len(windows))]
        render, info = render_crop(fixed, params.activated(), views, window, config.crop)
        info["means2d"].retain_grad()
        loss = losses.photometric(render, views.target(window, config.crop), train.ssim_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        grad = info["means2d"].grad
        if step < densify.stop and grad is not None:
            visible = info["radii"][0, n_fixed:] > 0
            visible = visible.all(-1) if visible.ndim == 2 else visible
            state.accumulate(grad[0, n_fixed:], visible, config.crop, config.crop)
        if densify.start <= step < densify.stop and (step - densify.start) % densify.every == 0:
            before = params.means.detach().numpy().copy()
            params, source, _ = refine(params, state, densify, 1.0, generator)
            parent = source.numpy()
            _, nearest = cKDTree(before).query(params.means.detach().numpy())
            labels = labels[np.where(parent >= 0, parent, nearest)]
            optimizer = adam(params)
            state = DensifyState.zeros(len(params))
        if report is not None and (step % 50 == 0 or step == config.steps - 1):
            recent = history[-50:]
            report(
                (step + 1) / config.steps,
                f"refining objects: step {step + 1}/{config.steps}, "
                f"loss {np.mean(recent):.4f}, {len(params)} Gaussians",
            )
    final = params.to_gaussians()
    keep = np.nonzero(final.opacities > config.min_opacity)[0]
    return Refined(final.subset(keep), labels[keep], history)


def frame_views(model_dir: Path, images_dir: Path, width: int) -> list[View]:
    """The registered frames at ``width`` px, or as they are where narrower."""
    rec = load_model(model_dir)
    widest = max(c.width for c in rec.cameras.values())
    return load_views(model_dir, images_dir, width if width < widest else None)


def refine_from_frames(
    static: GaussianSet,
    objects: Sequence[GaussianSet],
    views: Sequence[View],
    held_out: set[str],
    config: RefineConfig,
    report: Progress | None = None,
) -> tuple[list[GaussianSet], dict[str, Any]]:
    """Each of ``objects`` (world frame) refined on the ``views`` not ``held_out``. Where some
    view is held out, the summary gives its crops' PSNR before and after, and the objects are
    kept as they were if refining lowered it (``kept`` says which)."""
    started = time.monotonic()
    labels = np.concatenate([np.full(len(gs), i) for i, gs in enumerate(objects)])
    together = concat(list(objects))
    points = [gs.means for gs in objects]
    train = CropViews.of([v for v in views if v.name not in held_out])
    test = CropViews.of([v for v in views if v.name in held_out])
    windows = crop_windows(points, train, config.crop)
    refined = refine_objects(static, together, labels, train, windows, config, report)
    parts = [
        refined.gaussians.subset(np.nonzero(refined.labels == i)[0]) for i in range(len(objects))
    ]
    summary: dict[str, Any] = {
        "steps": config.steps,
        "image_size": list(train.images[0].shape[1::-1]),
        "crops": len(windows),
        "gaussians_before": [len(gs) for gs in objects],
        "gaussians_refined": [len(gs) for gs in parts],
        "final_loss": float(np.mean(refined.losses[-50:])),
    }
    held_windows = crop_windows(points, test, config.crop) if test.images else []
    if held_windows:
        summary["heldout_crop_psnr_before"] = crop_psnr(
            static, together, test, held_windows, config.crop
        )
        summary["heldout_crop_psnr_after"] = crop_psnr(
            static, refined.gaussians, test, held_windows, config.crop
        )
    summary["kept"] = "refined"
    if summary.get("heldout_crop_psnr_after", np.inf) < summary.get("heldout_crop_psnr_before", 0):
        summary["kept"] = "as trained: refining lowered the held-out crops' PSNR (too few frames?)"
        parts = list(objects)
    summary["seconds"] = round(time.monotonic() - started, 2)
    return parts, summary
