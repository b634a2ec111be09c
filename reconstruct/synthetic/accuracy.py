"""How close a reconstruction of the simulated scan is to the source world: metric scale,
gravity, camera positions and object centroids, all against the scan's true cameras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reconstruct import align, bare_table, frames
from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.geometry import angle_between_deg, camera_centres, umeyama
from reconstruct.stage import read_summary


def scan_cameras(work_dir: Path, truth_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """The aligned model's registered camera centres ``[N, 3]`` and the true ones of the same
    frames."""
    truth = json.loads(truth_file.read_text())
    picked = read_summary(work_dir / frames.STAGE.name)["frames"]
    index = {f["name"]: f["index"] for f in picked}
    poses = registered_poses(load_model(align.STAGE.outputs(work_dir).model))
    ours = camera_centres(poses.cam_from_world)
    true = camera_centres(np.asarray(truth["cam_from_world"])[[index[n] for n in poses.names]])
    return ours, true


def camera_accuracy(work_dir: Path, truth_file: Path) -> dict[str, float]:
    """Scale error (fraction), gravity error (deg), and camera-centre errors (m) of the
    aligned model under ``work_dir`` (the stages' folder) against the true cameras in
    ``truth_file``.

    The similarity mapping the aligned centres onto the true ones measures the scale (it
    should be 1) and the gravity error (the angle it turns world z by); the centre error is
    measured both directly (the world frame should be the source world's) and after it.
    """
    ours, true = scan_cameras(work_dir, truth_file)
    sim = umeyama(ours, true)
    fitted = sim.apply(ours)
    return {
        "scale_error": abs(sim.scale - 1.0),
        "gravity_error_deg": angle_between_deg(sim.rotation @ [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]),
        "yaw_error_deg": angle_between_deg(sim.rotation @ [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
        "camera_error_m": float(np.linalg.norm(ours - true, axis=1).mean()),
        "camera_error_after_similarity_m": float(np.linalg.norm(fitted - true, axis=1).mean()),
        "cameras": len(ours),
    }


def bare_accuracy(work_dir: Path, truth_file: Path, bare_truth_file: Path) -> dict[str, float]:
    """How far the bare stage put the bare table's cameras (m) from their true places, in the
    scan's frame: the similarity that maps the scan's aligned cameras onto their true ones
    maps the placed bare cameras too (so the scan's own scale and gravity errors are not
    counted twice), and directly."""
    sim = umeyama(*scan_cameras(work_dir, truth_file))
    placed = json.loads(bare_table.STAGE.outputs(work_dir).views.read_text())
    if not placed:
        return {"bare_cameras": 0}
    bare_truth = np.asarray(json.loads(bare_truth_file.read_text())["cam_from_world"])
    centres = camera_centres(np.array([r["cam_from_world"] for r in placed]))
    true_bare = camera_centres(bare_truth[[r["index"] for r in placed]])
    return {
        "bare_cameras": len(placed),
        "bare_camera_error_m": float(np.linalg.norm(centres - true_bare, axis=1).mean()),
        "bare_camera_error_after_similarity_m": float(
            np.linalg.norm(sim.apply(centres) - true_bare, axis=1).mean()
        ),
    }


def centroid_errors(
    found: dict[str, np.ndarray], truth: dict[str, np.ndarray], dims: int = 3
) -> dict[str, float]:
    """Distance (m) between each true object's centroid and the found one of the same name,
    over the first ``dims`` coordinates (2: on the table); inf when it was not found."""
    return {
        name: float(np.linalg.norm((np.asarray(found[name]) - c)[:dims]))
        if name in found
        else float("inf")
        for name, c in truth.items()
    }
