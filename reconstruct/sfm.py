"""Stage ``sfm``: camera poses and a sparse point cloud from the frames, with pycolmap.

SIFT features (denser, affine-adapted and domain-size pooled for small photo sets, where each
view must count), capped per image; matching exhaustive for small photo sets and, for videos,
a sliding window of neighbours plus keyframe-to-keyframe pairs that close loops without a
vocabulary tree; incremental mapping with relaxed inlier thresholds, then a final bundle
adjustment. The result is checked for coverage, not only reprojection error: repeated
textures can give a small error on a wrong model. Writes ``sparse/`` (COLMAP binary) and the
summary, with the time and peak memory of each step.

The pycolmap work (``reconstruct.sfm_job``) runs in a child process whose memory is watched
(``reconstruct.isolated``): its threads are planned from the memory available
(``plan_sfm``), and a child past the limit, or killed by the system, ends in an error that
says what to lower instead of taking the run down.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycolmap
from PIL import Image

from reconstruct import frames, resources
from reconstruct.errors import ReconstructError
from reconstruct.isolated import ChildFailed, Limits, run_child
from reconstruct.stage import Stage, StageContext, read_summary

logger = logging.getLogger(__name__)

CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
MATCHING = ("auto", "exhaustive", "sequential")
ADVICE = (
    "film more slowly with more overlap between views, add texture to the table (a newspaper or "
    "printed patterns), use more light, and avoid plain or repeated surfaces filling the view"
)
MEMORY_SHARE = 0.8  # of the memory available when the stage starts, planned for threads
MEMORY_LIMIT_SHARE = 0.9  # past this share the child is stopped (before the kernel kills it)
JOB = "reconstruct.sfm_job:reconstruct"


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
        camera_model: COLMAP camera model; one camera is shared by all frames of a video,
            and by the photos of each camera group (``camera_groups``: one size, camera
            model and focal length).
        max_image_size: longest side (px) features are extracted at (the frames are at most
            their working size already).
        max_features: keypoints kept per image (the largest scales) for large sets. SIFT
            detects more (each point may get two orientations); matching time grows with
            this, and guided matching's memory with its square.
        dense_max_images: sets of at most this many images get dense features.
        dense_features: keypoints kept per image for small sets (affine shape and DSP).
        guided_max_keypoints: pairs are re-matched along their epipolar geometry (guided
            matching) only when every image holds at most this many keypoints (0: never).
            On CPU it holds a keypoints x keypoints matrix per pair and thread (12 bytes each:
            0.45 GB at 6k keypoints, 6 GB at 23k) and takes 30 s a pair at 14k; with few
            keypoints it registers more of a small set (Buddha: 13 of 13 rather than 12).
        guided_max_cpu_s: ... and only when its estimated CPU time
            (``resources.guided_cpu_seconds``: pairs x keypoints^2) stays under this. A
            150-frame video of 3.9k keypoints a frame (1536 pairs) is matched guided in 10
            CPU-minutes, unguided in 2, but its weak links then break more easily.
        matching: "exhaustive" (every pair), "sequential" (neighbours plus keyframe pairs) or
            "auto" (videos sequential; photos exhaustive up to ``exhaustive_max_images``).
        exhaustive_max_images: the largest photo set matched exhaustively under "auto".
        sequential_overlap: each image is matched with this many following ones.
        keyframe_every: every n-th image is also matched with every other such keyframe
            (loop closure without a vocabulary tree).
        vocab_tree: a local COLMAP vocabulary-tree file; when given, sequential matching
            finds loops with it instead of keyframe pairs (nothing is downloaded).
        threads: threads for extraction and matching; 0: as many as the cores and the
            memory allow (``plan_sfm``).
        memory_limit_mb: SfM is stopped past this resident memory; 0: 90% of the memory
            available when the stage starts.
        time_limit_s: SfM is stopped after this long.
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
    dense_features: int = 8192
    guided_max_keypoints: int = 6144
    guided_max_cpu_s: float = 1200.0
    matching: str = "auto"
    exhaustive_max_images: int = 60
    sequential_overlap: int = 10
    keyframe_every: int = 10
    vocab_tree: str = ""
    threads: int = 0
    memory_limit_mb: int = 0
    time_limit_s: float = 7200.0
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
        for name in ("threads", "memory_limit_mb", "guided_max_keypoints", "guided_max_cpu_s"):
            if getattr(self, name) < 0:
                raise ReconstructError(
                    f"must be 0 (automatic) or more, got {getattr(self, name)}",
                    field=f"sfm.{name}",
                )
        if not self.time_limit_s > 0:
            raise ReconstructError(
                f"must be positive, got {self.time_limit_s}", field="sfm.time_limit_s"
            )
        if self.vocab_tree and not Path(self.vocab_tree).is_file():
            raise ReconstructError(
                "no vocabulary tree file here; give a local file or leave it empty",
                file=self.vocab_tree,
                field="sfm.vocab_tree",
            )
        if not 0 < self.min_registered_ratio <= 1:
            raise ReconstructError("must be in (0, 1]", field="sfm.min_registered_ratio")


@dataclass(frozen=True)
class SfmPlan:
    """How one SfM run goes, decided before it starts (recorded in the summary).

    Attributes:
        matching: "exhaustive" or "sequential".
        dense: affine-adapted, domain-size pooled features (small sets).
        keypoints: keypoints kept per image.
        image_size: longest side (px) features are extracted at.
        extract_threads, match_threads: threads for each step.
        memory_limit: bytes of resident memory past which the run is stopped.
    """

    matching: str
    dense: bool
    keypoints: int
    image_size: int
    extract_threads: int
    match_threads: int
    memory_limit: int


def plan_sfm(
    config: SfmConfig, count: int, source: str, image_size: int, memory: int, cores: int
) -> SfmPlan:
    """The plan for ``count`` images from ``source`` ("video" or "photos") whose longest side
    is ``image_size`` px, on a machine with ``memory`` bytes available and ``cores`` cores.

    Videos are matched sequentially (neighbours in time overlap; loops close through
    keyframes), photo sets exhaustively up to ``exhaustive_max_images``. Threads are as many
    as the cores, fewer when their peak memory (``reconstruct.resources``) would not fit in
    ``MEMORY_SHARE`` of ``memory``.
    """
    method = config.matching
    if method == "auto":
        small = source != "video" and count <= config.exhaustive_max_images
        method = "exhaustive" if small else "sequential"
    dense = count <= config.dense_max_images
    keypoints = config.dense_features if dense else config.max_features
    size = min(config.max_image_size, image_size) if image_size > 0 else config.max_image_size
    budget = int(MEMORY_SHARE * memory)
    if config.threads:
        extract = match = config.threads
    else:
        extract = resources.threads_for(resources.extraction_bytes(size), budget, cores)
        per_match = max(
            resources.matching_bytes(keypoints, guided=False),
            resources.matching_bytes(min(keypoints, config.guided_max_keypoints), guided=True),
        )
        match = resources.threads_for(per_match, budget, cores)
    limit = config.memory_limit_mb * resources.MB or int(MEMORY_LIMIT_SHARE * memory)
    return SfmPlan(method, dense, keypoints, size, extract, match, limit)


def sequential_pairs(count: int, overlap: int, keyframe_every: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, i < j, for an ordered sequence of ``count`` images: each image
    with its next ``overlap`` ones, and every ``keyframe_every``-th image with all other such
    keyframes (loop closure when the camera comes back to where it started)."""
    pairs = {(i, j) for i in range(count) for j in range(i + 1, min(i + overlap + 1, count))}
    keys = range(0, count, keyframe_every)
    pairs.update((i, j) for i in keys for j in keys if i < j)
    return sorted(pairs)


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


def _longest_side(image_dir: Path, names: list[str]) -> int:
    """The longest image side (px) among ``names`` (0 when none can be read)."""
    longest = 0
    for name in names:
        try:
            with Image.open(image_dir / name) as image:
                longest = max(longest, *image.size)
        except (OSError, SyntaxError):
            continue
    return longest


def _failure(exc: ChildFailed, plan: SfmPlan, count: int, image_dir: Path) -> ReconstructError:
    """The user's error for an SfM child that returned nothing: what happened, what to lower."""
    peak = exc.peak_bytes / resources.GB
    lower = (
        f"lower --max-image-size (now {plan.image_size} px) or --max-features (now "
        f"{plan.keypoints} per image), or give fewer frames ({count} now: --max-frames for a "
        "video, fewer photos)"
    )
    if exc.kind == "time":
        what = f"structure from motion took too long ({exc.detail}) during '{exc.note}'"
    elif exc.kind in ("memory", "out_of_memory"):
        what = (
            f"structure from motion ran out of memory during '{exc.note}' (peak {peak:.1f} GB; "
            f"{exc.detail})"
        )
    else:
        what = (
            f"structure from motion was killed during '{exc.note}' at {peak:.1f} GB of memory, "
            f"most likely by the system for lack of memory ({exc.detail})"
        )
    return ReconstructError(f"{what}; {lower}", file=image_dir)


def camera_groups(picked: dict[str, Any], names: list[str]) -> list[int] | None:
    """For each image, the index of its camera group: photos of one size taken by one camera
    model at one focal length (the frames stage's ``camera`` key of each photo) share a set
    of intrinsics, so a portrait photo never shares a landscape one's. None without keys
    (a video: one camera)."""
    keys = {str(f["name"]): str(f["camera"]) for f in picked.get("frames", []) if "camera" in f}
    if not names or any(n not in keys for n in names):
        return None
    order = list(dict.fromkeys(keys[n] for n in names))
    return [order.index(keys[n]) for n in names]


def run_sfm(ctx: StageContext, config: SfmConfig) -> dict[str, Any]:
    """Reconstruct the frames stage's images in a child process; write ``SfmOutputs.model``
    and return the summary, with the plan, each step's time and the peak memory."""
    image_dir = ctx.input(frames.STAGE).images
    picked = read_summary(ctx.inputs[frames.STAGE.name]) or {}
    names: list[str] = list(picked.get("images", []))
    memory, cores = resources.available_memory(), resources.cpu_count()
    plan = plan_sfm(
        config,
        len(names),
        str(picked.get("source", "photos")),
        _longest_side(image_dir, names),
        memory,
        cores,
    )
    request = {
        "config": dataclasses.asdict(config),
        "plan": dataclasses.asdict(plan),
        "image_dir": str(image_dir),
        "names": names,
        "single": bool(picked.get("single_camera", False)),
        "groups": camera_groups(picked, names),
        "scratch": str(ctx.scratch_dir),
        "model": str(SfmOutputs.at(ctx.out_dir).model),
        "verbose": logger.isEnabledFor(logging.DEBUG),
    }
    limits = Limits(memory_bytes=plan.memory_limit, seconds=config.time_limit_s)
    try:
        done = run_child(
            JOB, request, limits=limits, report=ctx.report, log=ctx.scratch_dir / "colmap.log"
        )
    except ChildFailed as exc:
        if exc.kind == "crashed":  # a bug in pycolmap or here: one line, the log for the rest
            what = exc.detail.split("; log:")[0].splitlines()[0] if exc.detail else "no detail"
            raise ReconstructError(
                f"the SfM child crashed during '{exc.note}' ({what}): a bug in pycolmap or "
                "twinbench; please report it with the photos' sizes and formats",
                file=image_dir,
            ) from exc
        raise _failure(exc, plan, len(names), image_dir) from exc
    summary = dict(done.result)
    summary["plan"] = dataclasses.asdict(plan)
    summary["memory"] = {
        "peak_mb": round(done.peak_bytes / resources.MB, 1),
        "limit_mb": round(plan.memory_limit / resources.MB, 1),
        "available_mb": round(memory / resources.MB, 1),
        "cores": cores,
    }
    return summary


STAGE = Stage(
    name="sfm",
    config_type=SfmConfig,
    run=run_sfm,
    inputs=(frames.STAGE.name,),
    description="camera poses and sparse points (pycolmap)",
    outputs_at=SfmOutputs.at,
)
