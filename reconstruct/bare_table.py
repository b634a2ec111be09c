"""Stage ``bare``: the table filmed again with the objects taken off it, each frame placed in
the scan's frame, so the table's picture shows what the objects hid during the scan.

A scan never sees the table under its objects. A fill invents it (``table_texture``'s copy
of the table beside each footprint), and a policy trained on the real table reads the
invented patch as a different table: on the bundled tabletop twin the patch under the tray's
scan-time place held half of the best source-only locator's 1.9 cm lean (integrated
gradients over 100 states). A few seconds of video (or a few photos) of the bare table, taken
after the scan from about the same distance, show it.

Each bare frame is placed by the table itself: SIFT features of the scan's frames are lifted
onto the table plane (z = 0) through their aligned poses, the bare frame's features are
matched to them (nearest neighbour, ratio test against the nearest feature of another table
point) and its pose is solved from those 2D-3D pairs (PnP with RANSAC, refined on the
inliers). The objects are gone from the bare frames, so nothing of theirs matches. Frames
with too few inliers or a large reprojection error are left out and listed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reconstruct.align import STAGE as ALIGN_STAGE
from reconstruct.colmap_model import load_model
from reconstruct.errors import ReconstructError
from reconstruct.frames import STAGE as FRAMES_STAGE
from reconstruct.frames import FramesConfig, extract_images, scan_digest
from reconstruct.geometry import inside
from reconstruct.stage import Stage, StageContext, read_summary
from reconstruct.views import View, load_views, pinhole_of, undistort_maps

VIEWS_NAME = "views.json"
SAME_POINT = 0.01  # m: table points closer than this are one point to the ratio test
NEIGHBOURS = 16  # nearest scan features looked at per bare feature
BARE_ADVICE = (
    "film the bare table from about the scan's distance and height, with its prints or marker "
    "in view"
)


@dataclass(frozen=True)
class BareTableConfig:
    """Attributes:
    source: a video or a folder of photos of the table with the objects taken off ("": none).
    digest: of ``source``'s content (``bare_config`` fills it), so a new file at the same path
        places its frames again.
    max_frames: at most this many bare frames are used.
    features: SIFT features per frame.
    ratio: a match is kept when its distance is below this fraction of the nearest other
        table point's.
    max_error: RANSAC's reprojection threshold, pixels at the frame's size.
    min_inliers: a frame is placed with at least this many inlier pairs.
    """

    source: str = ""
    digest: str = ""
    max_frames: int = 40
    features: int = 4000
    ratio: float = 0.8
    max_error: float = 3.0
    min_inliers: int = 40

    def __post_init__(self) -> None:
        if not 0 < self.ratio <= 1:
            raise ReconstructError(
                f"invalid value {self.ratio!r} (0 < ratio <= 1)", field="bare.ratio"
            )
        if self.min_inliers < 6:
            raise ReconstructError(
                f"invalid value {self.min_inliers!r} (at least 6)", field="bare.min_inliers"
            )


def bare_config(source: Path | None, **settings: Any) -> BareTableConfig:
    """The stage's config for ``source`` (None: no bare table), its content's digest filled."""
    if source is None:
        return BareTableConfig(**settings)
    if not Path(source).exists():
        raise ReconstructError(
            "the bare table's video does not exist; give the video (or the folder of photos) "
            "filmed after the scan with the objects taken off the table",
            file=source,
        )
    return BareTableConfig(source=str(source), digest=scan_digest(Path(source)), **settings)


@dataclass(frozen=True)
class BareTableOutputs:
    """What the bare stage writes (both empty when no bare table was filmed)."""

    images: Path  # the placed frames, undistorted to the pinhole intrinsics in views.json
    views: Path  # [{"name", "K", "cam_from_world", "inliers", "error_px", "index" (video)}]

    @classmethod
    def at(cls, folder: Path) -> BareTableOutputs:
        return cls(folder / "images", folder / VIEWS_NAME)


@dataclass(frozen=True, eq=False)
class TableFeatures:
    """SIFT features of the scan's frames that lie on the table, with their table points."""

    descriptors: np.ndarray  # [N, 128] float32
    points: np.ndarray  # [N, 3] world, z = 0

    def matcher(self) -> cv2.FlannBasedMatcher:
        flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
        flann.add([self.descriptors])
        flann.train()
        return flann


def lift_to_table(xy: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """World points ``[N, 3]`` on z = 0 of pixels ``[N, 2]`` (cv2's pixel centres at integer)
    of ``view``, and ``[N]`` whether the ray meets the table plane in front of the camera."""
    k_inv = np.linalg.inv(view.K)
    rays_cam = np.c_[xy + 0.5, np.ones(len(xy))] @ k_inv.T  # K: pixel centres at + 0.5
    rotation = view.viewmat[:3, :3]
    rays = rays_cam @ rotation  # world directions (R^T d)
    centre = view.centre
    with np.errstate(divide="ignore", invalid="ignore"):
        s = -centre[2] / rays[:, 2]
    ok = np.isfinite(s) & (s > 0)
    points = centre + np.where(ok, s, 0.0)[:, None] * rays
    points[:, 2] = 0.0
    return points, ok


def _sift(image: np.ndarray, features: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoint xy ``[N, 2]`` and descriptors ``[N, 128]`` of an RGB float image."""
    grey = cv2.cvtColor((np.clip(image, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    keypoints, descriptors = cv2.SIFT_create(nfeatures=features).detectAndCompute(grey, None)
    if descriptors is None:
        return np.zeros((0, 2)), np.zeros((0, 128), np.float32)
    return np.array([kp.pt for kp in keypoints], float), descriptors.astype(np.float32)


def table_features(views: list[View], outline: np.ndarray, features: int) -> TableFeatures:
    """The scan frames' features whose rays meet the table inside ``outline`` ``[K, 2]``."""
    descriptors, points = [], []
    for view in views:
        xy, desc = _sift(view.image, features)
        if not len(xy):
            continue
        world, ok = lift_to_table(xy, view)
        ok &= inside(outline, world[:, :2])
        descriptors.append(desc[ok])
        points.append(world[ok])
    if not descriptors or not sum(len(d) for d in descriptors):
        return TableFeatures(np.zeros((0, 128), np.float32), np.zeros((0, 3)))
    return TableFeatures(np.concatenate(descriptors), np.concatenate(points))


def match_to_table(
    xy: np.ndarray,  # [N, 2] the bare frame's keypoints
    descriptors: np.ndarray,  # [N, 128]
    table: TableFeatures,
    matcher: cv2.FlannBasedMatcher,
    ratio: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The kept pairs: bare pixels ``[M, 2]`` and their table points ``[M, 3]``. The ratio
    test compares the nearest scan feature with the nearest one of another table point (the
    same point seen in several scan frames is one candidate, not a rival)."""
    if not len(descriptors) or not len(table.descriptors):
        return np.zeros((0, 2)), np.zeros((0, 3))
    k = min(NEIGHBOURS, len(table.descriptors))
    pixels, points = [], []
    for i, candidates in enumerate(matcher.knnMatch(descriptors, k=k)):
        if not candidates:
            continue
        best = candidates[0]
        where = table.points[best.trainIdx]
        rival = next(
            (
                c
                for c in candidates[1:]
                if np.linalg.norm(table.points[c.trainIdx] - where) > SAME_POINT
            ),
            None,
        )
        if rival is not None and best.distance >= ratio * rival.distance:
            continue
        pixels.append(xy[i])
        points.append(where)
    return np.asarray(pixels, float).reshape(-1, 2), np.asarray(points, float).reshape(-1, 3)


@dataclass(frozen=True)
class Placement:
    """A bare frame's pose and how well the table's features hold it."""

    viewmat: np.ndarray | None  # [4, 4] world -> camera; None: not placed
    matches: int
    inliers: int
    error_px: float  # median reprojection error of the inliers


def place_frame(
    image: np.ndarray,  # [H, W, 3] float RGB, undistorted to K
    k: np.ndarray,  # [3, 3] pinhole intrinsics (pixel centres at + 0.5)
    table: TableFeatures,
    matcher: cv2.FlannBasedMatcher,
    config: BareTableConfig,
) -> Placement:
    """The frame's pose from its features matched to the table's (PnP, RANSAC, refined)."""
    xy, descriptors = _sift(image, config.features)
    pixels, points = match_to_table(xy, descriptors, table, matcher, config.ratio)
    if len(pixels) < config.min_inliers:
        return Placement(None, len(pixels), 0, float("nan"))
    k_cv = k.copy()
    k_cv[:2, 2] -= 0.5  # cv2's pixel centres are at integer
    ok, rvec, tvec, inliers = cv2.solvePnPRansac(
        points, pixels, k_cv, None, iterationsCount=2000,
        reprojectionError=config.max_error, confidence=0.999, flags=cv2.SOLVEPNP_ITERATIVE,
    )  # fmt: skip
    if not ok or inliers is None or len(inliers) < config.min_inliers:
        return Placement(None, len(pixels), 0 if inliers is None else len(inliers), float("nan"))
    inliers = inliers[:, 0]
    rvec, tvec = cv2.solvePnPRefineLM(points[inliers], pixels[inliers], k_cv, None, rvec, tvec)
    projected, _ = cv2.projectPoints(points[inliers], rvec, tvec, k_cv, None)
    error = float(np.median(np.linalg.norm(projected[:, 0] - pixels[inliers], axis=1)))
    viewmat = np.eye(4)
    viewmat[:3, :3] = cv2.Rodrigues(rvec)[0]
    viewmat[:3, 3] = tvec[:, 0]
    return Placement(viewmat, len(pixels), len(inliers), error)


def load_bare_views(outputs: BareTableOutputs, width: int | None = None) -> list[View]:
    """The placed bare frames as views (at ``width`` px, keeping the aspect)."""
    records = json.loads(outputs.views.read_text())
    views = []
    for record in records:
        bgr = cv2.imread(str(outputs.images / record["name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ReconstructError(
                "cannot read this bare-table frame; run the bare stage again",
                file=outputs.images / record["name"],
            )
        k = np.asarray(record["K"], float)
        h, w = bgr.shape[:2]
        if width is not None and width != w:
            height = max(1, round(h * width / w))
            bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
            k = np.diag([width / w, height / h, 1.0]) @ k
        viewmat = np.eye(4)
        viewmat[:3] = np.asarray(record["cam_from_world"], float)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        views.append(View(record["name"], rgb, k, viewmat))
    return views


def _undistorter(model_dir: Path):
    """``(bgr) -> (bgr, K)``: a bare frame undistorted like the scan's when it has the scan
    camera's size; else its pinhole intrinsics scaled from the scan camera's."""
    rec = load_model(model_dir)
    camera = rec.cameras[sorted(rec.cameras)[0]]
    k = pinhole_of(camera)
    maps = None if camera.is_undistorted() else undistort_maps(camera)

    def undistort(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        h, w = bgr.shape[:2]
        if (w, h) == (camera.width, camera.height):
            if maps is not None:
                bgr = cv2.remap(bgr, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            return bgr, k, False
        return bgr, np.diag([w / camera.width, h / camera.height, 1.0]) @ k, True

    return undistort


def run_bare(ctx: StageContext, config: BareTableConfig) -> dict[str, Any]:
    """Extract and place the bare table's frames (nothing when none was filmed)."""
    outputs = BareTableOutputs.at(ctx.out_dir)
    if not config.source:
        outputs.images.mkdir()
        outputs.views.write_text("[]\n")
        return {"source": None, "count": 0, "placed": 0}
    source = Path(config.source)
    extracted = ctx.scratch_dir / "frames"
    extracted.mkdir()
    size = int((read_summary(ctx.inputs[FRAMES_STAGE.name]) or {}).get("working_size", 0))
    frames = extract_images(
        source, extracted, ctx, FramesConfig(max_frames=config.max_frames), size or 1920
    )
    model = ctx.input(ALIGN_STAGE).model
    outline = np.asarray((read_summary(ctx.inputs[ALIGN_STAGE.name]) or {})["table_outline"])
    scan_views = load_views(model, ctx.input(FRAMES_STAGE).images)
    table = table_features(scan_views, outline, config.features)
    matcher = table.matcher()
    undistort = _undistorter(model)
    outputs.images.mkdir()
    placed, left_out, scaled = [], [], False
    names = frames["images"]
    index = {f["name"]: f["index"] for f in frames.get("frames", []) if "index" in f}
    for i, name in enumerate(names):
        ctx.report(i / max(len(names), 1), f"placing bare frame {i + 1}/{len(names)}")
        bgr, k, rescaled = undistort(cv2.imread(str(extracted / name), cv2.IMREAD_COLOR))
        scaled |= rescaled
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        placement = place_frame(image, k, table, matcher, config)
        record = {"name": name, "matches": placement.matches, "inliers": placement.inliers}
        if name in index:
            record["index"] = index[name]  # the video frame it is
        if placement.viewmat is None:
            left_out.append(record)
            continue
        out_name = Path(name).with_suffix(".png").name
        cv2.imwrite(str(outputs.images / out_name), bgr)
        placed.append(
            record
            | {
                "name": out_name,
                "K": k.round(6).tolist(),
                "cam_from_world": placement.viewmat[:3].round(9).tolist(),
                "error_px": round(placement.error_px, 3),
            }
        )
    shutil.rmtree(extracted, ignore_errors=True)
    if not placed:
        raise ReconstructError(
            f"none of the {len(names)} bare-table frames could be placed against the scan "
            f"({len(table.points)} table features in the scan's frames; the best frame had "
            f"{max((r['inliers'] for r in left_out), default=0)} inliers, "
            f"{config.min_inliers} are needed): {BARE_ADVICE}",
            file=source,
        )
    outputs.views.write_text(json.dumps(placed, indent=1) + "\n")
    errors = [r["error_px"] for r in placed]
    return {
        "source": str(source),
        "count": len(names),
        "placed": len(placed),
        "left_out": left_out,
        "table_features": len(table.points),
        "median_inliers": int(np.median([r["inliers"] for r in placed])),
        "median_error_px": round(float(np.median(errors)), 3),
        "intrinsics": "scaled from the scan camera's" if scaled else "the scan camera's",
    }


STAGE = Stage(
    name="bare",
    config_type=BareTableConfig,
    run=run_bare,
    inputs=("frames", "align"),
    version=2,  # 2: each placed frame's video index
    description="place the bare table's frames in the scan (when filmed)",
    outputs_at=BareTableOutputs.at,
)
