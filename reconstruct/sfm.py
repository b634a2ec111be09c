"""Stage ``sfm``: camera poses and a sparse point cloud from the frames, with pycolmap.

SIFT features (denser, affine-adapted and domain-size pooled for small photo sets, where each
view must count), guided matching (exhaustive for small sets; for videos, a sliding window of
neighbours plus keyframe-to-keyframe pairs that close loops without a vocabulary tree),
incremental mapping with relaxed inlier thresholds, then a final bundle adjustment. The
result is checked for coverage, not only reprojection error: repeated textures can give a
small error on a wrong model. Writes ``sparse/`` (COLMAP binary) and the summary.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycolmap

from reconstruct import frames
from reconstruct.colmap_model import model_stats, save_model
from reconstruct.errors import ReconstructError
from reconstruct.stage import Stage, StageContext, read_summary

logger = logging.getLogger(__name__)

CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
MATCHING = ("auto", "exhaustive", "sequential")
ADVICE = (
    "film more slowly with more overlap between views, add texture to the table (a newspaper or "
    "printed patterns), use more light, and avoid plain or repeated surfaces filling the view"
)


@dataclass(frozen=True)
class SfmOutputs:
    """What the sfm stage writes."""

    model: Path  # COLMAP binary model (cameras, images, points3D), SfM's own frame and units

    @classmethod
    def at(cls, folder: Path) -> SfmOutputs:
        return cls(folder / "sparse")


@dataclass(frozen=True)
class SfmConfig:
    """Structure-from-motion settings (defaults hold for phone videos and small photo sets).

    Attributes:
        camera_model: COLMAP camera model; one camera is shared by all frames of a video
            (and by photos from one camera), otherwise one per image.
        max_image_size: longest side (px) features are extracted at.
        max_features: SIFT features per image for large sets.
        dense_max_images: sets of at most this many images get dense features.
        dense_features: SIFT features per image for small sets (with affine shape and DSP).
        matching: "exhaustive" (every pair), "sequential" (neighbours plus keyframe pairs) or
            "auto" (exhaustive up to ``exhaustive_max_images``, else sequential).
        exhaustive_max_images: the largest set matched exhaustively under "auto".
        sequential_overlap: each image is matched with this many following ones.
        keyframe_every: every n-th image is also matched with every other such keyframe
            (loop closure without a vocabulary tree).
        vocab_tree: a local COLMAP vocabulary-tree file; when given, sequential matching
            finds loops with it instead of keyframe pairs (nothing is downloaded).
        min_registered_ratio: the model must register at least this fraction of the images.
        min_mean_track_length: points must be seen, on average, in at least this many images.
        max_mean_reprojection_error: px.
        min_coverage: mean fraction of an 8x8 image grid holding observations.
        seed: random seed of RANSAC and the mapper.
    """

    camera_model: str = "SIMPLE_RADIAL"
    max_image_size: int = 1600
    max_features: int = 8192
    dense_max_images: int = 40
    dense_features: int = 16384
    matching: str = "auto"
    exhaustive_max_images: int = 60
    sequential_overlap: int = 10
    keyframe_every: int = 10
    vocab_tree: str = ""
    min_registered_ratio: float = 0.8
    min_mean_track_length: float = 2.5
    max_mean_reprojection_error: float = 2.0
    min_coverage: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        choices = {"camera_model": CAMERA_MODELS, "matching": MATCHING}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ReconstructError(
                    f"unknown value {getattr(self, name)!r}; choose one of {', '.join(valid)}",
                    field=f"sfm.{name}",
                )
        positive = ("max_image_size", "max_features", "dense_features", "sequential_overlap")
        for name in (*positive, "keyframe_every"):
            if getattr(self, name) < 1:
                raise ReconstructError(
                    f"must be at least 1, got {getattr(self, name)}", field=f"sfm.{name}"
                )
        if self.vocab_tree and not Path(self.vocab_tree).is_file():
            raise ReconstructError(
                "no vocabulary tree file here; give a local file or leave it empty",
                file=self.vocab_tree,
                field="sfm.vocab_tree",
            )
        if not 0 < self.min_registered_ratio <= 1:
            raise ReconstructError("must be in (0, 1]", field="sfm.min_registered_ratio")


def sequential_pairs(count: int, overlap: int, keyframe_every: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, i < j, for an ordered sequence of ``count`` images: each image
    with its next ``overlap`` ones, and every ``keyframe_every``-th image with all other such
    keyframes (loop closure when the camera comes back to where it started)."""
    pairs = {(i, j) for i in range(count) for j in range(i + 1, min(i + overlap + 1, count))}
    keys = range(0, count, keyframe_every)
    pairs.update((i, j) for i in keys for j in keys if i < j)
    return sorted(pairs)


@contextlib.contextmanager
def _colmap_quiet() -> Iterator[None]:
    """COLMAP's glog lines drown the progress display; keep warnings unless debugging."""
    previous = pycolmap.logging.minloglevel
    if not logger.isEnabledFor(logging.DEBUG):
        pycolmap.logging.minloglevel = 1
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


def _extraction_options(config: SfmConfig, count: int) -> pycolmap.FeatureExtractionOptions:
    options = pycolmap.FeatureExtractionOptions()
    options.max_image_size = config.max_image_size
    dense = count <= config.dense_max_images
    options.sift.max_num_features = config.dense_features if dense else config.max_features
    options.sift.estimate_affine_shape = dense
    options.sift.domain_size_pooling = dense
    return options


def _match(db: Path, names: list[str], method: str, config: SfmConfig, scratch: Path) -> None:
    matching = pycolmap.FeatureMatchingOptions()
    matching.guided_matching = True
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = config.seed
    if method == "exhaustive":
        pycolmap.match_exhaustive(db, matching_options=matching, verification_options=verification)
        return
    if config.vocab_tree:
        sequential = pycolmap.SequentialPairingOptions()
        sequential.overlap = config.sequential_overlap
        sequential.loop_detection = True
        sequential.vocab_tree_path = config.vocab_tree
        pycolmap.match_sequential(
            db,
            matching_options=matching,
            pairing_options=sequential,
            verification_options=verification,
        )
        return
    pairs_file = scratch / "pairs.txt"
    pairs = sequential_pairs(len(names), config.sequential_overlap, config.keyframe_every)
    pairs_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in pairs))
    pairing = pycolmap.ImportedPairingOptions()
    pairing.match_list_path = str(pairs_file)
    pycolmap.match_image_pairs(
        db, matching_options=matching, pairing_options=pairing, verification_options=verification
    )


def _mapper_options(config: SfmConfig) -> pycolmap.IncrementalPipelineOptions:
    options = pycolmap.IncrementalPipelineOptions()
    options.random_seed = config.seed
    options.min_model_size = 3  # keep small fragments, so a split scene is reported as one
    options.mapper.init_min_num_inliers = 50
    options.mapper.abs_pose_min_num_inliers = 15
    options.mapper.abs_pose_min_inlier_ratio = 0.15
    return options


def check_models(
    models: list[pycolmap.Reconstruction], names: list[str], config: SfmConfig, image_dir: Path
) -> pycolmap.Reconstruction:
    """The largest model, if it covers the scene; otherwise a ReconstructError with advice."""
    total = len(names)
    if not models:
        raise ReconstructError(
            f"structure from motion found no consistent camera geometry in {total} images: they "
            f"share too few features (unrelated views, or plain surfaces); {ADVICE}",
            file=image_dir,
        )
    models = sorted(models, key=lambda m: m.num_reg_images(), reverse=True)
    best = models[0]
    in_best = {best.images[i].name for i in best.reg_image_ids()}
    split = [
        m
        for m in models[1:]
        if len({m.images[i].name for i in m.reg_image_ids()} - in_best) >= max(3, 0.1 * total)
    ]
    if split:
        sizes = ", ".join(str(m.num_reg_images()) for m in [best, *split])
        raise ReconstructError(
            f"the scene split into {len(split) + 1} separate models ({sizes} of {total} images): "
            f"some stretch of the capture does not overlap the rest; {ADVICE}",
            file=image_dir,
        )
    if len(in_best) < config.min_registered_ratio * total:
        missing = [n for n in names if n not in in_best]
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise ReconstructError(
            f"only {len(in_best)} of {total} images registered (need "
            f"{config.min_registered_ratio:.0%}); not placed: {shown}; {ADVICE}",
            file=image_dir,
        )
    return best


def check_quality(stats: dict[str, Any], config: SfmConfig, image_dir: Path) -> None:
    """Refuse a model whose tracks, reprojection error or image coverage (``model_stats``)
    say it is unreliable, naming every failed check."""
    problems = []
    if stats["mean_track_length"] < config.min_mean_track_length:
        problems.append(
            f"points are seen in {stats['mean_track_length']:.2f} images on average "
            f"(need {config.min_mean_track_length}): consecutive views overlap too little"
        )
    if stats["mean_reprojection_error"] > config.max_mean_reprojection_error:
        problems.append(
            f"mean reprojection error {stats['mean_reprojection_error']:.2f} px (at most "
            f"{config.max_mean_reprojection_error}): blurred frames or a moving scene"
        )
    if stats["mean_coverage"] < config.min_coverage:
        problems.append(
            f"3D points cover {stats['mean_coverage']:.0%} of each image on average (need "
            f"{config.min_coverage:.0%}): too little texture, or a repeated pattern matched wrongly"
        )
    if problems:
        raise ReconstructError(
            "unreliable reconstruction: " + "; ".join(problems) + f"; {ADVICE}", file=image_dir
        )


def run_sfm(ctx: StageContext, config: SfmConfig) -> dict[str, Any]:
    """Reconstruct the frames stage's images; write ``SfmOutputs.model``, return the summary."""
    image_dir = ctx.input(frames.STAGE).images
    picked = read_summary(ctx.inputs[frames.STAGE.name]) or {}
    names: list[str] = list(picked.get("images", []))
    single = bool(picked.get("single_camera", False))
    method = config.matching
    if method == "auto":
        method = "exhaustive" if len(names) <= config.exhaustive_max_images else "sequential"
    db = ctx.scratch_dir / "database.db"
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = config.camera_model
    pycolmap.set_random_seed(config.seed)
    with _colmap_quiet():
        ctx.report(0.05, f"extracting features from {len(names)} images")
        pycolmap.extract_features(
            db,
            image_dir,
            image_names=names,
            camera_mode=pycolmap.CameraMode.SINGLE if single else pycolmap.CameraMode.PER_IMAGE,
            reader_options=reader,
            extraction_options=_extraction_options(config, len(names)),
        )
        ctx.report(0.4, f"matching ({method})")
        _match(db, names, method, config, ctx.scratch_dir)
        with pycolmap.Database.open(db) as database:
            keypoints = database.num_keypoints()
            verified = database.num_verified_image_pairs()
        ctx.report(0.7, "incremental mapping")
        registered = 0

        def next_image() -> None:
            nonlocal registered
            registered += 1
            ctx.report(
                0.7 + 0.25 * min(registered / max(len(names), 1), 1.0), f"registered {registered}"
            )

        mapped = pycolmap.incremental_mapping(
            db,
            image_dir,
            ctx.scratch_dir,
            options=_mapper_options(config),
            next_image_callback=next_image,
        )
        models = list(mapped.values())
        best = check_models(models, names, config, image_dir)
        ctx.report(0.95, "bundle adjustment")
        adjust = pycolmap.BundleAdjustmentOptions()
        adjust.print_summary = False
        pycolmap.bundle_adjustment(best, adjust)
    stats = model_stats(best)
    check_quality(stats, config, image_dir)
    save_model(best, SfmOutputs.at(ctx.out_dir).model)
    in_best = {best.images[i].name for i in best.reg_image_ids()}
    cameras = [
        {
            "model": c.model.name,
            "width": c.width,
            "height": c.height,
            "params": [float(v) for v in c.params],
        }
        for c in best.cameras.values()
    ]
    return {
        **stats,
        "total": len(names),
        "models": len(models),
        "model_sizes": sorted((m.num_reg_images() for m in models), reverse=True),
        "unregistered": [n for n in names if n not in in_best],
        "matching": method,
        "verified_pairs": verified,
        "mean_keypoints": round(keypoints / max(len(names), 1), 1),
        "cameras": cameras,
    }


STAGE = Stage(
    name="sfm",
    config_type=SfmConfig,
    run=run_sfm,
    inputs=(frames.STAGE.name,),
    description="camera poses and sparse points (pycolmap)",
    outputs_at=SfmOutputs.at,
)
