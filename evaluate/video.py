"""Episode videos: the policy's camera views side by side, H.264 in an mp4 (PyAV).

H.264 with yuv420p plays in every browser (the dashboard embeds these files), which needs
even frame sizes: frames are padded by one black row or column when needed. The file is
opened at the first frame, so an episode that fails before rendering leaves no empty file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from evaluate.errors import EvaluateError
from twinbench.errors import disk_full_is_an_error

CODEC = "libx264"


def side_by_side(views: Sequence[np.ndarray]) -> np.ndarray:
    """[H, sum W, 3] uint8: views left to right, shorter ones padded black at the bottom,
    then padded to even height and width."""
    if not views:
        raise EvaluateError("a video frame needs at least one camera view")
    height = max(view.shape[0] for view in views)
    padded = [np.pad(v, ((0, height - v.shape[0]), (0, 0), (0, 0))) for v in views]
    frame = np.concatenate(padded, axis=1)
    return np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)))


class VideoWriter:
    """Append frames (lists of camera views) to an mp4 at ``fps``; ``close()`` finishes it."""

    def __init__(self, path: Path, fps: int = 15, crf: int = 23):
        self.path, self.fps, self.crf = Path(path), fps, crf
        self.frames = 0
        self._container = None
        self._stream = None

    def add(self, views: Sequence[np.ndarray]) -> None:
        import av

        frame = side_by_side(views)
        with disk_full_is_an_error(self.path):
            self._add(av, frame)
        self.frames += 1

    def _add(self, av: ModuleType, frame: np.ndarray) -> None:
        if self._container is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), mode="w")
            self._stream = self._container.add_stream(CODEC, rate=self.fps)
            self._stream.width, self._stream.height = frame.shape[1], frame.shape[0]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            self._stream.codec_context.thread_count = 1  # workers already use every core
        elif (frame.shape[1], frame.shape[0]) != (self._stream.width, self._stream.height):
            raise EvaluateError(
                f"frame size changed from {self._stream.width}x{self._stream.height} to "
                f"{frame.shape[1]}x{frame.shape[0]}",
                file=self.path,
            )
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file; a writer with no frames wrote nothing."""
        if self._container is None:
            return
        container, self._container = self._container, None
        with disk_full_is_an_error(self.path):
            for packet in self._stream.encode():
                container.mux(packet)
            container.close()
