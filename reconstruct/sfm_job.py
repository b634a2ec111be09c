"""The pycolmap side of the sfm stage, run in a child process (``reconstruct.isolated``).

``reconstruct(request, report)`` extracts features, keeps at most ``plan.keypoints`` per
image, matches, maps, checks and writes the model; it returns the summary fields with the
time and peak memory of each step. ``reconstruct.sfm.run_sfm`` builds the request.
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pycolmap

from reconstruct import resources
from reconstruct.colmap_model import model_stats, save_model
from reconstruct.isolated import own_peak_bytes
from reconstruct.sfm import SfmConfig, SfmPlan, check_models, check_quality, sequential_pairs
from reconstruct.stage import Reporter

logger = logging.getLogger(__name__)


def extraction_options(config: SfmConfig, plan: SfmPlan) -> pycolmap.FeatureExtractionOptions:
    """pycolmap's extraction options for ``plan`` (the keypoint cap is applied afterwards:
    SIFT's own ``max_num_features`` keeps whole octaves and may give twice as many)."""
    options = pycolmap.FeatureExtractionOptions()
    options.max_image_size = plan.image_size
    options.num_threads = plan.extract_threads
    options.sift.max_num_features = plan.keypoints
    options.sift.estimate_affine_shape = plan.dense
    options.sift.domain_size_pooling = plan.dense
    return options


def keypoint_scale(keypoints: np.ndarray) -> np.ndarray:
    """``[N]`` scale (px) of COLMAP keypoints ``[N, 4]`` (x, y, scale, orientation) or
    ``[N, 6]`` (x, y and the affine shape a11 a12 a21 a22)."""
    if keypoints.shape[1] >= 6:
        det = keypoints[:, 2] * keypoints[:, 5] - keypoints[:, 3] * keypoints[:, 4]
        return np.sqrt(np.abs(det))
    return keypoints[:, 2]


def keep_largest(keypoints: np.ndarray, cap: int) -> np.ndarray:
    """Indices (increasing) of the ``cap`` keypoints of largest scale, as SIFT's own cap
    means to keep (small-scale features are the least repeatable across views)."""
    if len(keypoints) <= cap:
        return np.arange(len(keypoints))
    return np.sort(np.argsort(-keypoint_scale(keypoints), kind="stable")[:cap])


def cap_keypoints(db: Path, cap: int) -> tuple[int, int, int]:
    """Keep at most ``cap`` keypoints (and their descriptors) per image of the database.

    Returns the keypoint totals ``(detected, kept)`` and the most any image kept.
    """
    kept: dict[int, tuple[np.ndarray, pycolmap.FeatureDescriptors]] = {}
    detected = 0
    with pycolmap.Database.open(db) as database:
        for image in database.read_all_images():
            keypoints = np.asarray(database.read_keypoints(image.image_id), np.float32)
            detected += len(keypoints)
            if len(keypoints) <= cap:
                continue
            descriptors = database.read_descriptors(image.image_id)
            keep = keep_largest(keypoints, cap)
            data = np.ascontiguousarray(np.asarray(descriptors.data)[keep])
            kept[image.image_id] = (
                np.ascontiguousarray(keypoints[keep]),
                pycolmap.FeatureDescriptors(descriptors.type, data),
            )
        if kept:
            # descriptors cannot be updated in place: rewrite both tables
            others = {
                i.image_id: (
                    np.asarray(database.read_keypoints(i.image_id), np.float32),
                    database.read_descriptors(i.image_id),
                )
                for i in database.read_all_images()
                if i.image_id not in kept
            }
            kept.update(others)
            database.clear_keypoints()
            database.clear_descriptors()
            for image_id, (keypoints, descriptors) in kept.items():
                database.write_keypoints(image_id, keypoints)
                database.write_descriptors(image_id, descriptors)
        total = database.num_keypoints()
        most = max(
            (database.num_keypoints_for_image(i.image_id) for i in database.read_all_images()),
            default=0,
        )
    return detected, total, most


def image_pairs(config: SfmConfig, plan: SfmPlan, count: int) -> int:
    """How many image pairs ``plan`` matches (vocabulary-tree loops not counted)."""
    if plan.matching == "exhaustive":
        return count * (count - 1) // 2
    if config.vocab_tree:
        return count * config.sequential_overlap
    return len(sequential_pairs(count, config.sequential_overlap, config.keyframe_every))


def use_guided(config: SfmConfig, plan: SfmPlan, count: int, mean: float, most: int) -> bool:
    """Guided matching when every image holds few keypoints (at most ``most``, dense matrix
    memory) and the estimated CPU time (``mean`` keypoints, the planned pairs) is small."""
    if not 0 < most <= config.guided_max_keypoints:
        return False
    cost = resources.guided_cpu_seconds(image_pairs(config, plan, count), mean)
    return cost <= config.guided_max_cpu_s


def match(
    db: Path, names: list[str], config: SfmConfig, plan: SfmPlan, scratch: Path, guided: bool
) -> None:
    """Match the database's images as ``plan.matching`` says, on ``plan.match_threads``."""
    matching = pycolmap.FeatureMatchingOptions()
    matching.guided_matching = guided
    matching.num_threads = plan.match_threads
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = config.seed
    if plan.matching == "exhaustive":
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


def mapper_options(config: SfmConfig) -> pycolmap.IncrementalPipelineOptions:
    options = pycolmap.IncrementalPipelineOptions()
    options.random_seed = config.seed
    options.min_model_size = 3  # keep small fragments, so a split scene is reported as one
    options.mapper.init_min_num_inliers = 50
    options.mapper.abs_pose_min_num_inliers = 15
    options.mapper.abs_pose_min_inlier_ratio = 0.15
    return options


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Steps:
    """Per step: wall and CPU seconds, and the peak resident memory so far (MB) at its end."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self._started, self._cpu = time.monotonic(), _cpu_seconds()

    def done(self, name: str) -> None:
        now, cpu = time.monotonic(), _cpu_seconds()
        self.seconds[name] = round(now - self._started, 2)
        self.cpu_seconds[name] = round(cpu - self._cpu, 2)
        self.peak_mb[name] = round(own_peak_bytes() / (1 << 20), 1)
        self._started, self._cpu = now, cpu


def camera_folders(
    image_dir: Path, names: list[str], groups: list[int], folder: Path
) -> tuple[Path, list[str]]:
    """Links to the images in one subfolder of ``folder`` per camera group (``groups[i]`` is
    ``names[i]``'s), so that COLMAP's per-folder mode gives each group one camera: photos of
    one size from one camera share their intrinsics, a portrait photo never shares a
    landscape one's. Returns the folder and the images' names under it."""
    linked = []
    for name, group in zip(names, groups, strict=True):
        rel = f"camera_{group}/{name}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).symlink_to((image_dir / name).resolve())
        linked.append(rel)
    return folder, linked


def camera_mode(request: dict[str, Any]) -> pycolmap.CameraMode:
    """One camera for a video, one per camera group for photos (``camera_folders``)."""
    if request["single"]:
        return pycolmap.CameraMode.SINGLE
    return (
        pycolmap.CameraMode.PER_FOLDER if request.get("groups") else pycolmap.CameraMode.PER_IMAGE
    )


def rename_images(models: list[pycolmap.Reconstruction], names: dict[str, str]) -> None:
    """Give the models' images their own names again (``names``: linked name -> name)."""
    for model in models:
        for image in model.images.values():
            image.name = names.get(image.name, image.name)


def reconstruct(request: dict[str, Any], report: Reporter) -> dict[str, Any]:
    """Run SfM on the request's images and write the model; the summary fields."""
    config = SfmConfig(**request["config"])
    plan = SfmPlan(**request["plan"])
    image_dir, scratch = Path(request["image_dir"]), Path(request["scratch"])
    names: list[str] = list(request["names"])
    own_names = names
    if request.get("groups") and not request["single"]:
        image_dir, names = camera_folders(image_dir, names, request["groups"], scratch / "cameras")
    db = scratch / "database.db"
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = config.camera_model
    pycolmap.set_random_seed(config.seed)
    pycolmap.logging.minloglevel = 0 if request.get("verbose") else 1
    steps = _Steps()
    report(0.05, f"extracting features from {len(names)} images")
    pycolmap.extract_features(
        db,
        image_dir,
        image_names=names,
        camera_mode=camera_mode(request),
        reader_options=reader,
        extraction_options=extraction_options(config, plan),
    )
    detected, kept, most = cap_keypoints(db, plan.keypoints)
    steps.done("features")
    guided = use_guided(config, plan, len(names), kept / max(len(names), 1), most)
    report(0.4, f"matching ({plan.matching}{', guided' if guided else ''})")
    match(db, names, config, plan, scratch, guided)
    with pycolmap.Database.open(db) as database:
        verified = database.num_verified_image_pairs()
    steps.done("matching")
    report(0.7, "incremental mapping")
    registered = 0

    def next_image() -> None:
        nonlocal registered
        registered += 1
        report(0.7 + 0.25 * min(registered / max(len(names), 1), 1.0), f"registered {registered}")

    mapped = pycolmap.incremental_mapping(
        db, image_dir, scratch, options=mapper_options(config), next_image_callback=next_image
    )
    models = list(mapped.values())
    rename_images(models, dict(zip(names, own_names, strict=True)))
    names, image_dir = own_names, Path(request["image_dir"])
    steps.done("mapping")
    best = check_models(models, names, config, image_dir)
    report(0.95, "bundle adjustment")
    adjust = pycolmap.BundleAdjustmentOptions()
    adjust.print_summary = False
    pycolmap.bundle_adjustment(best, adjust)
    stats = model_stats(best)
    steps.done("bundle_adjustment")
    check_quality(stats, config, image_dir)
    save_model(best, Path(request["model"]))
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
    count = max(len(names), 1)
    return {
        **stats,
        "total": len(names),
        "models": len(models),
        "model_sizes": sorted((m.num_reg_images() for m in models), reverse=True),
        "unregistered": [n for n in names if n not in in_best],
        "matching": plan.matching,
        "guided_matching": guided,
        "verified_pairs": verified,
        "mean_keypoints_detected": round(detected / count, 1),
        "mean_keypoints": round(kept / count, 1),
        "max_keypoints": most,
        "cameras": cameras,
        "step_seconds": steps.seconds,
        "step_cpu_seconds": steps.cpu_seconds,
        "step_peak_memory_mb": steps.peak_mb,
    }
