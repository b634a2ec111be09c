"""Stage ``frames``: turn the scan (a video or a folder of photos) into SfM input images.

Writes ``images/`` (the picked video frames as ``frame_<index>.jpg``, or the photos upright
under their own names, HEIC as JPEG) at the working size, and a summary with the source, the
image names in capture order, whether one camera took them all (``single_camera``), the
working size and how it was chosen, the counts and per-frame records. Blurred frames and
photos are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct import resources
from reconstruct.errors import ReconstructError
from reconstruct.photos import (
    PHOTO_SUFFIXES,
    blurred_photos,
    import_photos,
    list_photos,
    photos_digest,
)
from reconstruct.stage import Stage, StageContext
from reconstruct.video import choose_frames, measure_video, write_frames
from twinbench.digests import file_digest

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm"})
MIN_FRAMES = 5  # fewer views cannot give a reliable reconstruction
STATIC_MOTION = 0.2  # total image motion (in image diagonals) below which the camera "did not move"
CAPTURE_ADVICE = (
    "film 20-60 s walking slowly around the table, keeping the table in view, in good light"
)


@dataclass(frozen=True)
class FramesOutputs:
    """What the frames stage writes (its summary lists the names, in order)."""

    images: Path  # folder of the picked frames, upright, as SfM reads them

    @classmethod
    def at(cls, folder: Path) -> FramesOutputs:
        return cls(folder / "images")


@dataclass(frozen=True)
class FramesConfig:
    """How frames are picked from a video (photos are all kept).

    Attributes:
        max_frames: at most this many frames (SfM time grows with the count).
        step_motion: image motion between picks, as a fraction of the image diagonal.
        min_motion: picks closer than this (fraction of the diagonal) are near-duplicates.
        min_per_second: at least this many picks per second while the camera moves.
        blur_ratio: a frame sharper than this fraction of its neighbours' median is not blurred.
        photo_blur_ratio: the same for photos (their neighbours differ more than a video's).
        max_image_size: longest side (px) of the written frames and photos (the working
            size); 0 chooses it from the memory available (``resources.working_size``:
            1920 px with 4 GB or more, down to 800 px).
    """

    max_frames: int = 150
    step_motion: float = 0.05
    min_motion: float = 0.01
    min_per_second: float = 2.0
    blur_ratio: float = 0.5
    photo_blur_ratio: float = 0.35
    max_image_size: int = 0

    def __post_init__(self) -> None:
        checks = {
            "max_frames": self.max_frames >= MIN_FRAMES,
            "step_motion": self.step_motion > 0,
            "min_motion": 0 <= self.min_motion <= self.step_motion,
            "min_per_second": self.min_per_second >= 0,
            "blur_ratio": 0 <= self.blur_ratio < 1,
            "photo_blur_ratio": 0 <= self.photo_blur_ratio < 1,
            "max_image_size": self.max_image_size == 0 or self.max_image_size >= 64,
        }
        for name, ok in checks.items():
            if not ok:
                raise ReconstructError(
                    f"invalid value {getattr(self, name)!r} (max_frames >= {MIN_FRAMES}, "
                    "0 < step_motion, 0 <= min_motion <= step_motion, min_per_second >= 0, "
                    "0 <= blur_ratio < 1, 0 <= photo_blur_ratio < 1, max_image_size 0 "
                    "(automatic) or >= 64)",
                    field=f"frames.{name}",
                )


def scan_digest(scan: Path) -> str:
    """Digest of what this stage reads from the scan (the video's bytes, or the photos')."""
    if scan.is_dir():
        return photos_digest(scan)
    if scan.is_file():
        return file_digest(scan)
    raise ReconstructError(
        "the scan does not exist; give a video (mp4/mov) or a folder of photos (jpg/png)", file=scan
    )


def working_size(config: FramesConfig) -> tuple[int, str]:
    """The longest side (px) of the written images, and how it was chosen."""
    if config.max_image_size:
        return config.max_image_size, "set (max_image_size)"
    memory, cores = resources.available_memory(), resources.cpu_count()
    size = resources.working_size(memory, cores)
    return size, f"automatic: {memory / resources.GB:.1f} GB available, {cores} cores"


def run_frames(ctx: StageContext, config: FramesConfig) -> dict[str, Any]:
    """Write the SfM input images of ``ctx.scan`` to ``FramesOutputs.images``."""
    images = FramesOutputs.at(ctx.out_dir).images
    images.mkdir()
    size, rule = working_size(config)
    summary = extract_images(ctx.scan, images, ctx, config, size)
    return {**summary, "working_size": size, "working_size_rule": rule}


def extract_images(
    scan: Path, images: Path, ctx: StageContext, config: FramesConfig, size: int
) -> dict[str, Any]:
    """Write the picked frames of a video (or the sharp photos of a folder) ``scan`` into
    ``images`` at ``size`` px on the longest side; their summary."""
    if scan.is_dir():
        return _from_photos(scan, images, ctx, config, size)
    if scan.suffix.lower() in VIDEO_SUFFIXES:
        return _from_video(scan, images, ctx, config, size)
    accepted = ", ".join(sorted(VIDEO_SUFFIXES | PHOTO_SUFFIXES))
    raise ReconstructError(
        f"unsupported scan type '{scan.suffix}'; give a video or a folder of photos ({accepted})",
        file=scan,
    )


def _from_photos(
    folder: Path, images: Path, ctx: StageContext, config: FramesConfig, size: int
) -> dict[str, Any]:
    photos = list_photos(folder)
    if len(photos) < MIN_FRAMES:
        raise ReconstructError(
            f"found {len(photos)} photo(s) (jpg/png/heic); at least {MIN_FRAMES} overlapping "
            "views are needed, 20-50 are better: walk around the table taking a photo every few "
            "steps, each overlapping the previous by about two thirds",
            file=folder,
        )
    records = import_photos(photos, images, ctx.report, size)
    sharpness = np.array([float(r["sharpness"]) for r in records])
    blurred = blurred_photos(sharpness, config.photo_blur_ratio)
    if len(records) - blurred.sum() < MIN_FRAMES:
        blurred[:] = False  # too few left: blurred views are better than none
    for record, blur in zip(records, blurred, strict=True):
        record["blurred"] = bool(blur)
        if blur:
            (images / str(record["name"])).unlink()
    kept = [r for r in records if not r["blurred"]]
    return {
        "source": "photos",
        "single_camera": len({r["camera"] for r in kept}) == 1,
        "count": len(kept),
        "images": [str(r["name"]) for r in kept],
        "frames": records,
        "blurred": [str(r["name"]) for r in records if r["blurred"]],
        "orientations": sorted(
            {"portrait" if r["height"] > r["width"] else "landscape" for r in kept}
        ),
    }


def _from_video(
    video: Path, images: Path, ctx: StageContext, config: FramesConfig, size: int
) -> dict[str, Any]:
    stats = measure_video(video, ctx.report)
    usable = stats.usable
    if not usable.any():
        raise ReconstructError(
            f"none of the {len(usable)} frames is usable: they are black, over-exposed or "
            f"featureless (mean grey level {np.median(stats.brightness):.0f}/255); "
            f"{CAPTURE_ADVICE}",
            file=video,
        )
    selection = choose_frames(
        stats,
        max_frames=config.max_frames,
        step_motion=config.step_motion,
        min_motion=config.min_motion,
        min_per_second=config.min_per_second,
        blur_ratio=config.blur_ratio,
    )
    if selection.total_motion < STATIC_MOTION:
        raise ReconstructError(
            f"the camera barely moves (image motion {selection.total_motion:.2f} image diagonals "
            f"over {stats.times[-1]:.1f} s); SfM needs views from different places: "
            f"{CAPTURE_ADVICE}",
            file=video,
        )
    if len(selection.indices) < MIN_FRAMES:
        raise ReconstructError(
            f"only {len(selection.indices)} usable distinct frames (need at least {MIN_FRAMES}; "
            f"{int(usable.sum())} of {len(usable)} frames usable, {int(selection.blurred.sum())} "
            f"blurred); {CAPTURE_ADVICE}",
            file=video,
        )
    names = write_frames(video, selection.indices, images, max_size=size, report=ctx.report)
    picked = [
        {
            "name": name,
            "index": int(i),
            "time_s": round(float(stats.times[i]), 4),
            "sharpness": round(float(stats.sharpness[i]), 2),
        }
        for name, i in zip(names, selection.indices, strict=True)
    ]
    return {
        "source": "video",
        "single_camera": True,
        "count": len(names),
        "images": names,
        "frames": picked,
        "decoded": len(usable),
        "usable": int(usable.sum()),
        "blurred": int(selection.blurred.sum()),
        "duration_s": round(float(stats.times[-1]), 3),
        "total_motion": round(selection.total_motion, 4),
        "rotation": stats.rotation,
        "source_size": [stats.width, stats.height],
    }


STAGE = Stage(
    name="frames",
    config_type=FramesConfig,
    run=run_frames,
    scan_digest=scan_digest,
    description="pick sharp, well-spread frames",
    outputs_at=FramesOutputs.at,
)
