"""Decode a phone video with PyAV and pick sharp, well-spread frames for structure from motion.

Two passes over the video: the first measures every frame on small grey images (sharpness,
exposure, texture, image motion since the previous frame), ``choose_frames`` picks indices
from those numbers alone, and the second pass writes only the picked frames at full size.
That keeps memory bounded for long 4K videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.stage import Reporter

ANALYSIS_SIZE = 640  # longest side (px) of the grey image scored for sharpness (flow: half that)
MIN_TEXTURE = 20  # trackable corners a usable frame must have on the half-size image
MIN_BRIGHTNESS, MAX_BRIGHTNESS = 20.0, 240.0  # mean grey level of a usable frame
MIN_CONTRAST = 8.0  # std of grey levels of a usable frame
MOVING = 0.0005  # per-frame image motion (fraction of the diagonal) above sensor noise
BLUR_WINDOW_S = 1.0  # half-width of the window whose median sharpness a frame is judged by
DECODE_ADVICE = "the file may be truncated or corrupt: copy it from the phone again or re-export it"


@dataclass(frozen=True, eq=False)
class VideoStats:
    """Per-frame measurements of a video, in display orientation. Arrays are ``[N]``."""

    times: np.ndarray  # s since the first frame
    sharpness: np.ndarray  # contrast_sharpness at ANALYSIS_SIZE (exposure-independent)
    motion: np.ndarray  # median optical flow from the previous frame, fraction of the diagonal
    brightness: np.ndarray  # mean grey level, 0..255
    contrast: np.ndarray  # std of grey levels
    texture: np.ndarray  # trackable corners on the half-size analysis image
    width: int  # full-size frame width, px, after rotation
    height: int
    rotation: int  # degrees counter-clockwise applied to decoded frames
    expected_frames: int  # frame count from the container (0 when unknown)

    @property
    def usable(self) -> np.ndarray:
        """``[N]`` bool: exposed, contrasted and textured enough for SfM."""
        return (
            (self.brightness >= MIN_BRIGHTNESS)
            & (self.brightness <= MAX_BRIGHTNESS)
            & (self.contrast >= MIN_CONTRAST)
            & (self.texture >= MIN_TEXTURE)
        )


@dataclass(frozen=True, eq=False)
class Selection:
    """The frames ``choose_frames`` picked and why others were not."""

    indices: np.ndarray  # [K] picked frame indices, increasing
    blurred: np.ndarray  # [N] bool, sharpness well below its neighbours'
    total_motion: float  # summed image motion, in image diagonals


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise ReconstructError(
            f"cannot open the video ({exc}); {DECODE_ADVICE}", file=path
        ) from exc
    if not container.streams.video:
        container.close()
        raise ReconstructError(
            "the file has no video stream; give a video or a photo folder", file=path
        )
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container


MIN_SIDE = (
    64  # px, as --max-image-size: SIFT finds nothing on smaller images (pycolmap crashes on 1x1)
)


def check_size(width: int, height: int, path: Path) -> None:
    """Refuse an image or video too small for structure from motion."""
    if min(width, height) < MIN_SIDE:
        raise ReconstructError(
            f"{width}x{height} px is too small for structure from motion "
            f"(at least {MIN_SIDE} px a side; phone photos and videos are 720 px or more)",
            file=path,
        )


def check_video(path: Path) -> None:
    """Refuse a file that is not a video, or one too small, reading only its container header."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        check_size(stream.codec_context.width, stream.codec_context.height, path)
    finally:
        container.close()


def _scaled_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """Even (width, height) with the longest side at most ``longest`` px."""
    factor = min(1.0, longest / max(width, height))
    return max(2, round(width * factor / 2) * 2), max(2, round(height * factor / 2) * 2)


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, k=round(rotation / 90) % 4))


def contrast_sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian over the variance of the grey levels of ``grey`` ``[H, W]``.

    Both scale with the square of the exposure, so a frame the phone's auto-exposure made
    darker (or a darker photo) is not taken for a blurred one; blur lowers the first far
    more than the second.
    """
    grey_var = float(grey.var())
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()) / max(grey_var, 1.0)


def _corners(grey: np.ndarray) -> np.ndarray | None:
    return cv2.goodFeaturesToTrack(grey, maxCorners=300, qualityLevel=0.01, minDistance=7)


def _flow(prev: np.ndarray, corners: np.ndarray | None, cur: np.ndarray) -> float:
    """Median displacement (fraction of the image diagonal) of ``corners`` tracked into ``cur``;
    NaN when too few track."""
    if corners is None or len(corners) < MIN_TEXTURE:
        return float("nan")
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, cur, corners, None, winSize=(21, 21), maxLevel=3
    )
    ok = status.ravel() == 1
    if ok.sum() < MIN_TEXTURE:
        return float("nan")
    shift = np.linalg.norm((moved - corners).reshape(-1, 2)[ok], axis=1)
    return float(np.median(shift) / np.hypot(*cur.shape))


def measure_video(path: Path, report: Reporter) -> VideoStats:
    """First pass: measure every frame. Raises ``ReconstructError`` on unreadable files."""
    rows: list[tuple[float, float, float, float, float, int]] = []
    container = _open(path)
    stream = container.streams.video[0]
    expected = int(stream.frames or 0)
    rate = float(stream.average_rate or stream.guessed_rate or 30)
    prev: tuple[np.ndarray, np.ndarray | None] | None = None
    rotation, full_size = 0, (0, 0)
    try:
        for index, frame in enumerate(container.decode(stream)):
            rotation = int(frame.rotation or 0)
            size = _scaled_size(frame.width, frame.height, ANALYSIS_SIZE)
            grey = _rotate(frame.to_ndarray(format="gray", width=size[0], height=size[1]), rotation)
            small = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            corners = _corners(small)
            motion = 0.0 if prev is None else _flow(prev[0], prev[1], small)
            prev = (small, corners)
            time_s = float(frame.time) if frame.time is not None else index / rate
            sharp = contrast_sharpness(grey)
            texture = 0 if corners is None else len(corners)
            rows.append((time_s, sharp, motion, float(grey.mean()), float(grey.std()), texture))
            full_size = (
                (frame.width, frame.height) if rotation % 180 == 0 else (frame.height, frame.width)
            )
            if expected and index % 10 == 0:
                report(0.7 * min(index / expected, 1.0), f"measuring frame {index}/{expected}")
    except av.error.FFmpegError as exc:
        raise ReconstructError(
            f"decoding stopped after {len(rows)} frames ({exc}); {DECODE_ADVICE}", file=path
        ) from exc
    finally:
        container.close()
    if not rows:
        raise ReconstructError(f"the video has no decodable frames; {DECODE_ADVICE}", file=path)
    if expected and len(rows) < 0.9 * expected:
        raise ReconstructError(
            f"the video ends after {len(rows)} of its {expected} frames; {DECODE_ADVICE}", file=path
        )
    cols = np.asarray(rows, float).T
    return VideoStats(
        times=cols[0] - cols[0, 0],
        sharpness=cols[1],
        motion=cols[2],
        brightness=cols[3],
        contrast=cols[4],
        texture=cols[5].astype(int),
        width=full_size[0],
        height=full_size[1],
        rotation=rotation,
        expected_frames=expected,
    )


def _local_median(times: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median of ``values[valid]`` within ±BLUR_WINDOW_S of each frame (NaN if none)."""
    lo = np.searchsorted(times, times - BLUR_WINDOW_S, side="left")
    hi = np.searchsorted(times, times + BLUR_WINDOW_S, side="right")
    out = np.full(len(times), np.nan)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        window = values[a:b][valid[a:b]]
        if len(window):
            out[i] = np.median(window)
    return out


def choose_frames(
    stats: VideoStats,
    *,
    max_frames: int,
    step_motion: float,
    min_motion: float,
    min_per_second: float,
    blur_ratio: float,
) -> Selection:
    """Pick the sharpest usable frame in each stretch of camera motion.

    The video is cut into consecutive bins, each spanning ``step_motion`` of image motion
    (fraction of the diagonal) or ``1 / min_per_second`` seconds of moving camera, whichever
    comes first; bins are widened evenly if there would be more than ``max_frames``. Within a
    bin the sharpest usable, unblurred frame is picked (none if there is none). Picks closer
    than ``min_motion`` to the previous pick are near-duplicates and dropped.
    """
    usable = stats.usable
    local = _local_median(stats.times, stats.sharpness, usable)
    blurred = usable & (stats.sharpness < blur_ratio * np.nan_to_num(local, nan=0.0))
    eligible = usable & ~blurred
    finite = np.isfinite(stats.motion)
    fill = float(np.median(stats.motion[finite])) if finite.any() else 0.0
    motion = np.where(finite, stats.motion, fill)
    dt = np.diff(stats.times, prepend=stats.times[0])
    by_time = np.where(motion > MOVING, dt * min_per_second, 0.0)
    progress = np.cumsum(np.maximum(motion / step_motion, by_time))
    if progress[-1] > max_frames - 1:
        progress *= (max_frames - 1) / progress[-1]
    bins = np.minimum(np.floor(progress + 1e-9).astype(int), max_frames - 1)
    travelled = np.cumsum(motion)
    kept: list[int] = []
    for b in np.unique(bins):
        members = np.flatnonzero((bins == b) & eligible)
        if kept:  # prefer frames at least half a bin past the previous pick: keeps picks spread
            spread = members[progress[members] - progress[kept[-1]] >= 0.5]
            members = spread if len(spread) else members
        if not len(members):
            continue
        best = int(members[np.argmax(stats.sharpness[members])])
        if not kept or travelled[best] - travelled[kept[-1]] >= min_motion:
            kept.append(best)
    return Selection(np.asarray(kept, int), blurred, float(travelled[-1]))


def write_frames(
    path: Path, indices: np.ndarray, out_dir: Path, *, max_size: int, report: Reporter
) -> list[str]:
    """Second pass: write the frames at ``indices`` as JPEG files, longest side <= max_size.

    Returns the file names, in ``indices`` order (``frame_<index>.jpg``).
    """
    wanted = {int(i): n for n, i in enumerate(indices)}
    names: list[str] = []
    container = _open(path)
    stream = container.streams.video[0]
    try:
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                size = _scaled_size(frame.width, frame.height, max_size)
                rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                name = f"frame_{index:05d}.jpg"
                image = cv2.cvtColor(_rotate(rgb, int(frame.rotation or 0)), cv2.COLOR_RGB2BGR)
                if not cv2.imwrite(str(out_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"cannot write {out_dir / name}")
                names.append(name)
                report(
                    0.7 + 0.3 * len(names) / len(wanted),
                    f"writing frame {len(names)}/{len(wanted)}",
                )
                if len(names) == len(wanted):
                    break
    except av.error.FFmpegError as exc:
        raise ReconstructError(
            f"decoding failed on the second pass ({exc}); {DECODE_ADVICE}", file=path
        ) from exc
    finally:
        container.close()
    if len(names) != len(wanted):
        raise ReconstructError(
            f"the video gave {len(names)} of the {len(wanted)} frames picked on the first pass; "
            f"{DECODE_ADVICE}",
            file=path,
        )
    return names
