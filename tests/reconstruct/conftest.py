"""Synthetic scans built by the tests: textured videos, photo folders, rendered ArUco views."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

BUDDHA = Path("/work/shared/data/scans/buddha_tabletop")


def textured_canvas(width: int, height: int, seed: int) -> np.ndarray:
    """A ``[H, W, 3]`` uint8 image full of corners: random filled shapes over a gradient."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = (60 + 60 * np.sin(xs / 37.0) * np.cos(ys / 23.0)).astype(np.uint8)
    image = np.dstack([base, base[:, ::-1], base[::-1]]).copy()
    for _ in range(width * height // 900):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(3, 14))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), size, colour, -1)
        else:
            cv2.rectangle(image, (x, y), (x + size, y + size), colour, -1)
    return image


def encode_video(
    path: Path, frames: Sequence[np.ndarray], fps: int = 30, rotation: int = 0
) -> None:
    """Encode RGB frames ``[H, W, 3]`` as H.264 in an mp4 (display rotation optional)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def panning_frames(
    count: int,
    *,
    size: tuple[int, int] = (320, 240),
    speed: float = 4.0,
    blurred: Sequence[int] = (),
) -> list[np.ndarray]:
    """A window moving ``speed`` px per frame over a textured canvas; frames in ``blurred``
    are heavily Gaussian-blurred."""
    width, height = size
    canvas = textured_canvas(width + int(speed * count) + 8, height + 40, seed=3)
    out = []
    for i in range(count):
        x = round(speed * i)
        y = round(10 + 8 * np.sin(i / 15))
        frame = canvas[y : y + height, x : x + width].copy()
        if i in blurred:
            frame = cv2.GaussianBlur(frame, (0, 0), 4.0)
        out.append(frame)
    return out


def marker_table(
    marker_id: int = 0,
    *,
    marker_size: float = 0.1,
    centre: Sequence[float] = (0.0, 0.0),
    yaw_deg: float = 0.0,
    half: float = 0.5,
    px: float = 0.001,
) -> tuple[np.ndarray, np.ndarray]:
    """A textured grey square of table (side ``2 * half`` m, ``px`` m per pixel) with an
    ArUco marker (DICT_4X4_50) printed, white margin, at its middle; and the ``[3, 3]`` map
    from texture pixels ``(u, v, 1)`` to table points ``(x, y, 1)`` that puts the marker
    centre at ``centre`` with its x axis at ``yaw_deg`` from the table's x."""
    n = round(2 * half / px)
    texture = cv2.cvtColor(textured_canvas(n, n, seed=11), cv2.COLOR_RGB2GRAY)
    side = round(marker_size / px)
    marker = cv2.aruco.generateImageMarker(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), marker_id, side
    )
    lo, margin = n // 2 - side // 2, side // 6
    texture[lo - margin : lo + side + margin, lo - margin : lo + side + margin] = 255
    texture[lo : lo + side, lo : lo + side] = marker
    yaw = np.radians(yaw_deg)
    x_axis, y_axis = np.array([np.cos(yaw), np.sin(yaw)]), np.array([-np.sin(yaw), np.cos(yaw)])
    middle = lo + side / 2 - 0.5  # pixel centres: the square spans [lo - 0.5, lo + side - 0.5]
    to_table = np.eye(3)
    to_table[:2] = np.c_[
        px * x_axis, -px * y_axis, np.asarray(centre) - px * middle * (x_axis - y_axis)
    ]
    return texture, to_table


class TabletopRenderer:
    """Ray-casts a textured table (z = 0) with textured boxes on it and an ArUco marker.

    Table frame: metres, z up. The marker (``marker_table``'s defaults: 0.1 m, id 0) lies at
    the origin with its x axis along the table's x. Good enough texture for SIFT; no lighting.
    """

    def __init__(self) -> None:
        texture, to_table = marker_table()
        self.table = (texture, np.linalg.inv(to_table))
        self.px = 0.002  # box textures, m per pixel
        # (min corner, max corner) of each box, metres
        self.boxes = [
            (np.array([0.12, 0.05, 0.0]), np.array([0.22, 0.17, 0.08])),
            (np.array([-0.25, 0.10, 0.0]), np.array([-0.13, 0.20, 0.12])),
            (np.array([-0.05, -0.28, 0.0]), np.array([0.08, -0.16, 0.06])),
        ]
        self.box_textures = [
            cv2.cvtColor(textured_canvas(260, 260, seed=20 + i), cv2.COLOR_RGB2GRAY)
            for i in range(3)
        ]

    def render(
        self, cam_from_world: np.ndarray, k: np.ndarray, size: tuple[int, int]
    ) -> np.ndarray:
        """``[H, W, 3]`` uint8 view for a ``[3, 4]`` pose and ``[3, 3]`` intrinsics."""
        width, height = size
        rot, trans = cam_from_world[:, :3], cam_from_world[:, 3]
        origin = -rot.T @ trans
        us, vs = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
        pix = np.stack([us, vs, np.ones_like(us)], axis=-1) @ np.linalg.inv(k).T
        dirs = pix @ rot  # [H, W, 3] world directions (R^T applied row-wise)
        best = np.full((height, width), np.inf)
        image = np.full((height, width), 90.0, np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_table = np.where(dirs[..., 2] < 0, -origin[2] / dirs[..., 2], np.inf)
            hits = [(t_table, self._table_uv(origin, dirs, t_table), self.table[0])]
            for (lo, hi), texture in zip(self.boxes, self.box_textures, strict=True):
                hits.append(self._box_hit(origin, dirs, lo, hi, texture))
        for t, (map_u, map_v), texture in hits:
            sample = cv2.remap(texture, map_u, map_v, cv2.INTER_LINEAR, borderValue=90)
            nearer = (t > 0) & (t < best)
            image[nearer] = sample[nearer]
            best = np.where(nearer, t, best)
        return np.repeat(image.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)

    def _table_uv(self, origin, dirs, t):
        point = origin + dirs * np.where(np.isfinite(t), t, 0)[..., None]
        from_table = self.table[1]
        uv = point[..., :2] @ from_table[:2, :2].T + from_table[:2, 2]
        return uv[..., 0].astype(np.float32), uv[..., 1].astype(np.float32)

    def _box_hit(self, origin, dirs, lo, hi, texture):
        t1, t2 = (lo - origin) / dirs, (hi - origin) / dirs
        near, far = np.minimum(t1, t2), np.maximum(t1, t2)
        t_near, t_far = near.max(axis=-1), far.min(axis=-1)
        axis = near.argmax(axis=-1)
        t = np.where((t_near < t_far) & (t_near > 0), t_near, np.inf)
        point = origin + dirs * np.where(np.isfinite(t), t, 0)[..., None]
        rel = (point - lo) / self.px
        u = np.where(axis == 0, rel[..., 1], rel[..., 0])
        v = np.where(axis == 2, rel[..., 1], rel[..., 2]) + 40 * axis
        return t, (u.astype(np.float32), v.astype(np.float32)), texture


def look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``[3, 4]`` cam_from_world of a camera at ``centre`` looking at ``target`` (z up)."""
    forward = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    rot = np.stack([right, np.cross(forward, right), forward])
    return np.c_[rot, -rot @ centre]


def orbit_poses(
    count: int,
    *,
    radius: float,
    height: float,
    degrees: float,
    target: Sequence[float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """``[N, 3, 4]`` cam_from_world poses on an arc around the table centre, looking at
    ``target``; the arc is centred on the -y side."""
    angles = np.radians(np.linspace(-degrees / 2, degrees / 2, count))
    centres = np.c_[radius * np.sin(angles), -radius * np.cos(angles), np.full(count, height)]
    return np.array([look_at(c, np.asarray(target, float)) for c in centres])


@pytest.fixture(scope="session")
def tabletop() -> TabletopRenderer:
    return TabletopRenderer()


@pytest.fixture(scope="session")
def orbit() -> Callable[..., np.ndarray]:
    """``orbit_poses`` (the tests run in importlib mode, so helpers travel as fixtures)."""
    return orbit_poses


@pytest.fixture(scope="session")
def printed_marker() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``marker_table``."""
    return marker_table


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """Write a video from frames into tmp_path and return its path."""

    def make(frames: Sequence[np.ndarray], name: str = "scan.mp4", **kwargs) -> Path:
        path = tmp_path / name
        encode_video(path, frames, **kwargs)
        return path

    return make


@pytest.fixture
def buddha_photos(tmp_path: Path) -> Path:
    """A private copy of the Buddha photos (tests never write into shared data)."""
    if not (BUDDHA / "images").is_dir():
        pytest.skip("the shared Buddha scan is not available")
    dst = tmp_path / "buddha"
    dst.mkdir()
    for src in sorted((BUDDHA / "images").glob("*.jpg")):
        (dst / src.name).write_bytes(src.read_bytes())
    return dst


@pytest.fixture(scope="session")
def buddha_sfm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Buddha photos through the frames and sfm stages, once per session (tens of
    seconds): a folder holding ``photos/`` and ``env/work/{frames,sfm}``. Copy ``env/work``
    into a test's own environment folder before running later stages there."""
    if not (BUDDHA / "images").is_dir():
        pytest.skip("the shared Buddha scan is not available")
    from reconstruct.stages import run_pipeline

    root = tmp_path_factory.mktemp("buddha_sfm")
    (root / "photos").mkdir()
    for src in sorted((BUDDHA / "images").glob("*.jpg")):
        (root / "photos" / src.name).write_bytes(src.read_bytes())
    run_pipeline(root / "photos", root / "env", until="sfm", show_progress=False)
    return root


@pytest.fixture
def panning() -> Callable[..., list[np.ndarray]]:
    """``panning_frames`` (the tests run in importlib mode, so helpers travel as fixtures)."""
    return panning_frames


@pytest.fixture
def canvas() -> Callable[[int, int, int], np.ndarray]:
    """``textured_canvas``."""
    return textured_canvas


@pytest.fixture
def buddha_clip(tmp_path: Path) -> tuple[Path, Callable[[dict, str], str]]:
    """A phone-video stand-in of the Buddha scene (``benchmarks.real_video``): 11 of the
    photos in the order of their cameras around the statue (the two farthest views need more
    pixels than 800 to register), 0.5 s each at 10 fps, 800x450. Returns the clip and
    ``frame(frames_summary, photo)``: the name of the frame the frames stage picked from
    that photo's stretch of the clip."""
    if not (BUDDHA / "images").is_dir():
        pytest.skip("the shared Buddha scan is not available")
    from benchmarks.real_video import frame_showing, orbit_order, photo_clip

    far = ("00052.jpg", "00060.jpg")
    photos = orbit_order(
        [p for p in sorted((BUDDHA / "images").glob("*.jpg")) if p.name not in far]
    )
    clip = tmp_path / "scan.mp4"
    first = photo_clip(photos, clip, size=(800, 450), hold_s=0.5, fps=10)
    return clip, lambda summary, photo: frame_showing(summary, first, photo, per=5)
