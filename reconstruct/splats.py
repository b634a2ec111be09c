"""Stage ``splats``: Gaussian splats of the scene in the aligned world frame.

Three trainers: ``gsplat`` (CUDA: gsplat's rasterizer), ``cpu`` (the differentiable
torch/numba rasterizer on small images), both the same training loop with every
``TrainConfig`` setting, and ``nerfstudio-import`` (splats trained with nerfstudio, mapped
into the world frame). Training starts from the aligned SfM
points. Every 8th frame (by name) is held out; PSNR and SSIM on those are measured with
``sim_env.splats.rasterize``, the renderer the simulator uses, for the initialisation and the
result. Writes ``SplatsOutputs``: ``scene_splats.ply`` (SH degree <= ``sh_degree``, nearly
transparent Gaussians pruned) and ``holdout/*.png`` (rendered | captured).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reconstruct import align, frames, nerfstudio
from reconstruct.colmap_model import load_model
from reconstruct.errors import ReconstructError
from reconstruct.geometry import Similarity
from reconstruct.stage import Stage, StageContext, read_summary
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.init import InitConfig, gaussians_from_points, table_samples
from reconstruct.units import Units
from reconstruct.views import View, holdout_split, load_views
from sim_env.errors import SplatFileError
from sim_env.splats import GaussianSet, rasterize, read_ply, write_ply

TRAINERS = ("cpu", "gsplat", "nerfstudio-import")
REAL_CAPTURE_TRAINING = TrainConfig(
    iterations=1500,
    sh_degree_step=750,
    densify=DensifyConfig(start=100, stop=1200, every=100, max_gaussians=80_000),
)
"""The default training, measured on the 13 real Buddha photos at 456 px (held-out PSNR / SSIM,
two photos never trained on): 600 steps grown to 60k, 15.7-16.4 dB / 0.69-0.72; 1,500 steps
grown to 80k (52k kept), 19.1 dB / 0.77, about 15 min on 2 cores. Fewer steps stay blurred;
the scene needs the growth for the statue's texture."""


@dataclass(frozen=True)
class SplatsOutputs:
    """What the splats stage writes (its summary holds the held-out PSNR / SSIM)."""

    splats: Path  # the scene's Gaussians, world frame (sim_env.splats PLY)
    holdout: Path  # folder of held-out renders beside their frames (png)

    @classmethod
    def at(cls, folder: Path) -> SplatsOutputs:
        return cls(folder / "scene_splats.ply", folder / "holdout")


@dataclass(frozen=True)
class SplatsConfig:
    """How the splats are made.

    Attributes:
        trainer: ``cpu``, ``gsplat`` or ``nerfstudio-import``.
        image_width: training and evaluation image width, px (456: a third of a 1368 px photo;
            200 px cannot resolve a real scene's texture, the Buddha photos' held-out PSNR
            stays below 16 dB).
        holdout_every: every n-th frame is held out for evaluation (<= 1: none).
        train: optimisation settings (iterations, SH degree, learning rates, densification).
        init: initialisation from the SfM points (and, for a real table SfM leaves almost
            without points, ``table_points`` seeds on z = 0).
        min_opacity: Gaussians below this opacity are dropped from the output.
        max_gaussians: the output keeps at most this many (the most opaque x largest).
        min_point_height: SfM points lower than this (m, world z) are not used (under the table).
        import_ply, dataparser_transforms, transforms: nerfstudio's export, its
            dataparser_transforms.json and (recommended) the transforms.json it trained on.
        import_digest: sha256 of the imported files (set by the CLI, so edits re-run the stage).
    """

    trainer: str = "cpu"
    image_width: int = 456
    holdout_every: int = 8
    train: TrainConfig = field(default_factory=lambda: REAL_CAPTURE_TRAINING)
    init: InitConfig = field(default_factory=lambda: InitConfig(opacity=0.3, table_points=20_000))
    min_opacity: float = 0.02
    max_gaussians: int = 200_000
    min_point_height: float = -0.1
    import_ply: str = ""
    dataparser_transforms: str = ""
    transforms: str = ""
    import_digest: str = ""

    def in_units(self, units: Units) -> SplatsConfig:
        """These settings with their lengths (``min_point_height``, ``init.max_scale``) in the
        world's units; the training's own lengths are fractions of the scene's size."""
        per_metre = units.per_metre
        init = replace(self.init, max_scale=self.init.max_scale * per_metre)
        return replace(self, init=init, min_point_height=self.min_point_height * per_metre)

    def with_steps(self, steps: int) -> SplatsConfig:
        """These settings trained for ``steps`` (a quick look, or longer): the SH switch and the
        densification window keep their place in the schedule."""
        if steps < 10:
            raise ReconstructError(
                f"train for at least 10 steps, got {steps}", field="splats.train.iterations"
            )
        train, f = self.train, steps / self.train.iterations
        densify = replace(
            train.densify,
            start=max(1, round(train.densify.start * f)),
            stop=round(train.densify.stop * f),
            every=max(1, round(train.densify.every * f)),
        )
        scaled = replace(
            train, iterations=steps, sh_degree_step=round(train.sh_degree_step * f), densify=densify
        )
        return replace(self, train=scaled)

    def with_mip(self) -> SplatsConfig:
        """These settings trained through mip-splatting's 3D and 2D filters (the package then
        renders antialiased)."""
        return replace(self, train=replace(self.train, antialiased=True, smoothing_3d=True))

    def __post_init__(self) -> None:
        if self.trainer not in TRAINERS:
            raise ReconstructError(
                f"unknown trainer {self.trainer!r}; choose one of {', '.join(TRAINERS)}",
                field="splats.trainer",
            )
        if self.trainer == "nerfstudio-import" and not (
            self.import_ply and self.dataparser_transforms
        ):
            raise ReconstructError(
                "nerfstudio-import needs the exported PLY and its dataparser_transforms.json",
                field="splats.import_ply",
            )
        if self.image_width < 16:
            raise ReconstructError("must be at least 16 px", field="splats.image_width")


def scene_scale(views: list[View]) -> float:
    """gsplat's scene scale: 1.1 x the largest camera distance from the cameras' mean."""
    centres = np.array([v.centre for v in views])
    return 1.1 * float(np.linalg.norm(centres - centres.mean(0), axis=1).max())


def sfm_points(model_dir: Path, min_height: float) -> tuple[np.ndarray, np.ndarray]:
    """Aligned SfM points ``[M, 3]`` (metres) above ``min_height`` and their colours in [0, 1]
    (``model_dir``: ``AlignOutputs.model``)."""
    rec = load_model(model_dir)
    points = [(p.xyz, p.color) for p in rec.points3D.values()]
    xyz = np.array([p[0] for p in points], float).reshape(-1, 3)
    rgb = np.array([p[1] for p in points], float).reshape(-1, 3) / 255.0
    keep = xyz[:, 2] >= min_height
    return xyz[keep], rgb[keep]


def initial_gaussians(model_dir: Path, views: list[View], config: SplatsConfig) -> GaussianSet:
    """The training's start: a Gaussian per aligned SfM point plus the table seeds under
    ``views`` (``config`` already in the world's units)."""
    points, colors = sfm_points(model_dir, config.min_point_height)
    table, table_colors = table_samples(views, points, config.init)
    return gaussians_from_points(np.r_[points, table], np.r_[colors, table_colors], config.init)


def render_view(gs: GaussianSet, view: View, antialiased: bool = False) -> np.ndarray:
    """[H, W, 3] float32 render of ``gs`` at ``view`` by the simulator's rasterizer."""
    w, h = view.size
    rgb, _, _ = rasterize(
        gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view.viewmat, view.K, w, h,
        antialiased=antialiased,
    )  # fmt: skip
    return np.clip(rgb, 0.0, 1.0)


def evaluate(gs: GaussianSet, views: list[View], antialiased: bool = False) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``gs`` rendered at ``views`` against their images."""
    from reconstruct.train.metrics import psnr, ssim

    if not views:
        return {"psnr": float("nan"), "ssim": float("nan")}
    renders = [render_view(gs, v, antialiased) for v in views]
    return {
        "psnr": float(np.mean([psnr(r, v.image) for r, v in zip(renders, views, strict=True)])),
        "ssim": float(np.mean([ssim(r, v.image) for r, v in zip(renders, views, strict=True)])),
    }


def prune(gs: GaussianSet, min_opacity: float, max_count: int, sh_degree: int) -> GaussianSet:
    """Drop nearly transparent Gaussians, keep at most ``max_count`` (opacity x area first),
    truncate SH to ``sh_degree``."""
    keep = np.flatnonzero(gs.opacities >= min_opacity)
    if len(keep) > max_count:
        weight = gs.opacities[keep] * np.prod(np.sort(gs.scales[keep], axis=1)[:, 1:], axis=1)
        keep = np.sort(keep[np.argsort(-weight)[:max_count]])
    return gs.subset(keep).with_sh_degree(min(sh_degree, gs.sh_degree))


def imported_gaussians(ctx: StageContext, config: SplatsConfig, views: list[View]) -> GaussianSet:
    """nerfstudio's export mapped into the world frame."""
    try:
        exported = read_ply(Path(config.import_ply))
    except SplatFileError as exc:
        raise ReconstructError(str(exc), field="splats.import_ply") from None
    to_data = nerfstudio.dataparser_to_data(Path(config.dataparser_transforms))
    if config.transforms:
        world = {v.name: v.centre for v in views}
        to_world = nerfstudio.data_to_world_from_cameras(
            nerfstudio.data_centres(Path(config.transforms)), world, Path(config.transforms)
        )
    else:
        summary = read_summary(ctx.inputs[align.STAGE.name]) or {}
        sim = summary["world_from_model"]
        to_world = nerfstudio.data_to_world_from_model(
            Similarity(sim["scale"], np.asarray(sim["rotation"]), np.asarray(sim["translation"]))
        )
    return nerfstudio.transform_gaussians(exported, nerfstudio.compose(to_world, to_data))


def run_splats(ctx: StageContext, config: SplatsConfig) -> dict[str, Any]:
    """Train (or import) the scene's splats; write ``SplatsOutputs``."""
    model = ctx.input(align.STAGE).model
    outputs = SplatsOutputs.at(ctx.out_dir)
    units = Units.from_align(read_summary(ctx.inputs[align.STAGE.name])) or Units()
    config = config.in_units(units)
    ctx.report(0.02, "loading frames")
    views = load_views(model, ctx.input(frames.STAGE).images, config.image_width)
    train_ids, test_ids = holdout_split(len(views), config.holdout_every)
    train_views, test_views = [views[i] for i in train_ids], [views[i] for i in test_ids]
    init = initial_gaussians(model, train_views, config)
    antialiased = config.train.antialiased and config.trainer != "nerfstudio-import"
    before = evaluate(init, test_views, antialiased)
    report = lambda f, note: ctx.report(0.05 + 0.85 * f, note)  # noqa: E731
    seconds, losses = 0.0, []
    if config.trainer == "nerfstudio-import":
        trained = imported_gaussians(ctx, config, views)
    else:
        if config.trainer == "gsplat":
            from reconstruct.train.gsplat_trainer import train_gsplat as trainer
        else:
            from reconstruct.train.cpu import train_cpu as trainer
        result = trainer(init, train_views, config.train, scene_scale(train_views), report)
        trained, seconds, losses = result.gaussians, result.seconds, result.losses
    ctx.report(0.92, "evaluating held-out frames")
    gs = prune(trained, config.min_opacity, config.max_gaussians, config.train.sh_degree)
    if len(gs) == 0:
        raise ReconstructError(
            "no Gaussian survived training; check that the frames show the table and that the "
            "sfm stage registered them",
            field="splats",
        )
    write_ply(outputs.splats, gs)
    after = evaluate(gs, test_views, antialiased)
    outputs.holdout.mkdir()
    for view in test_views[:4]:
        pair = np.concatenate([render_view(gs, view, antialiased), view.image], axis=1)
        cv2.imwrite(
            str(outputs.holdout / (Path(view.name).stem + ".png")),
            cv2.cvtColor((pair * 255).astype(np.uint8), cv2.COLOR_RGB2BGR),
        )
    return {
        "trainer": config.trainer,
        "gaussians": len(gs),
        "initial_gaussians": len(init),
        "sh_degree": gs.sh_degree,
        "antialiased": antialiased,  # how they are drawn (the mesh and package stages follow)
        "image_size": list(views[0].size),
        "train_views": len(train_views),
        "heldout_views": [v.name for v in test_views],
        "psnr": after["psnr"],
        "ssim": after["ssim"],
        "psnr_init": before["psnr"],
        "ssim_init": before["ssim"],
        "train_seconds": round(seconds, 2),
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        "file": outputs.splats.name,
    }


STAGE = Stage(
    name="splats",
    config_type=SplatsConfig,
    run=run_splats,
    # 2: the appearance maps' mean folded into the splats (train.appearance.fold_mean)
    # 3: the summary says whether the splats are drawn antialiased (train.antialiased)
    version=3,
    inputs=(frames.STAGE.name, align.STAGE.name),
    description="Gaussian splats of the scene (world frame)",
    outputs_at=SplatsOutputs.at,
    reads_placement=False,
)
