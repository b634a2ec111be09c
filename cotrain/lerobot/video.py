"""mp4 video for LeRobot datasets with PyAV: encode an episode, append episodes into one file,
count and decode frames by timestamp.

Every episode is encoded on its own first (in the worker that rendered it), then its packets
are copied, not re-encoded, into the dataset's shared file with their timestamps shifted: the
same two-step scheme LeRobot's recorder uses. A keyframe every ``gop`` frames and no B-frames
keep packet order equal to frame order and make any frame quick to seek to during training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cotrain.errors import DatasetError


@dataclass(frozen=True)
class VideoConfig:
    """Encoder settings; H.264 in yuv420p needs even widths and heights."""

    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    crf: int = 23  # constant quality: lower is better and bigger
    gop: int = 2  # frames between keyframes (LeRobot encodes with g=2 for fast random access)
    preset: str = "veryfast"


def encode_video(path: Path, frames: np.ndarray, fps: int, config: VideoConfig) -> None:
    """Write uint8 frames [T, H, W, 3] to ``path`` at ``fps``, frame i at time i / fps."""
    import av

    count, height, width, _ = frames.shape
    if count == 0 or height % 2 or width % 2:
        raise DatasetError(
            f"cannot encode {count} frames of {width}x{height}: need >= 1 frame, even sizes",
            file=path,
        )
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(config.codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, config.pix_fmt
        stream.options = {
            "crf": str(config.crf),
            "preset": config.preset,
            "g": str(config.gop),
            "bf": "0",
        }
        stream.codec_context.thread_count = 1  # generation already runs one worker per core
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


class VideoAppender:
    """One dataset mp4 that episodes are appended to; ``append`` returns where each landed."""

    def __init__(self, path: Path, fps: int):
        self.path, self.fps = path, fps
        self.frames = 0
        self.bytes = 0
        self._container: Any = None
        self._stream: Any = None

    def append(self, episode_video: Path) -> tuple[float, float]:
        """Copy an episode's packets to the end; returns its (from, to) timestamps [s]."""
        import av

        start = self.frames
        with av.open(str(episode_video)) as source:
            stream = source.streams.video[0]
            if self._container is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._container = av.open(str(self.path), mode="w")
                self._stream = self._container.add_stream_from_template(stream)
            offset = round(start / self.fps / stream.time_base)
            for packet in source.demux(stream):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.pts += offset
                packet.dts += offset
                packet.stream = self._stream
                self.bytes += packet.size
                self._container.mux(packet)
                self.frames += 1
        return start / self.fps, self.frames / self.fps

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def probe_video(path: Path) -> dict[str, Any]:
    """The ``info`` block LeRobot keeps for a video feature in ``meta/info.json``."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "video.height": stream.codec_context.height,
            "video.width": stream.codec_context.width,
            "video.codec": stream.codec_context.name,
            "video.pix_fmt": stream.codec_context.format.name,
            "video.is_depth_map": False,
            "video.fps": float(stream.average_rate),
            "video.channels": 3,
            "has_audio": len(container.streams.audio) > 0,
        }


def frame_indices(path: Path, fps: int) -> np.ndarray:
    """Every frame's index (timestamp x fps, rounded) in file order, from packets alone."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [
            float(packet.pts * stream.time_base)
            for packet in container.demux(stream)
            if packet.pts is not None
        ]
    return np.rint(np.asarray(times) * fps).astype(np.int64)


def decode_frames(path: Path, fps: int) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, uint8 [H, W, 3]) for every frame of ``path``, in order."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield round(frame.time * fps), frame.to_ndarray(format="rgb24")
