"""The align stage on real photos without a marker: the Buddha head that fills the frames.

Gravity is checked against the dataset's own cameras: the printed markers on the cardboard
sheet (not ArUco, so align cannot use them) were located by hand in four photos and are
triangulated with the dataset's projection matrices; their plane's normal, carried into our
model by the similarity between the two sets of camera centres, is the true "up".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from reconstruct.align import AlignConfig, AlignOutputs, KnownDistance
from reconstruct.cli import reconstruct_app
from reconstruct.colmap_model import load_model, points_xyz, registered_poses
from reconstruct.geometry import angle_between_deg, camera_centres, umeyama
from reconstruct.placement import BasePose
from reconstruct.sfm import SfmOutputs
from reconstruct.stages import run_pipeline

CAMERAS = Path("/work/shared/data/scans/buddha_tabletop/cameras")
# Centres (px) of four of the sheet's printed markers, found by hand in the photos.
MARKERS = {
    "top_left": {"00046": (384.4, 114.9), "00047": (452.7, 202.2)},
    "top_right": {
        "00046": (1028.8, 123.3),
        "00047": (1016.9, 207.6),
        "00018": (395.7, 312.5),
        "00049": (410.3, 136.3),
    },
    "middle_left": {"00046": (355.5, 412.0), "00047": (407.5, 447.2)},
    "middle_right": {"00046": (1032.8, 470.4), "00047": (1042.2, 503.3)},
}
DISTANCE = ("00006.jpg", "00065.jpg", 0.30)  # m, a made-up measurement: the scale to recover

pytestmark = pytest.mark.slow


def projection(name: str) -> np.ndarray:
    return np.loadtxt(CAMERAS / f"{name}_P.txt")


def dataset_up() -> np.ndarray:
    """``[3]`` the sheet's normal in the dataset's frame, toward its cameras."""
    points = []
    for seen in MARKERS.values():
        rows = []
        for name, (u, v) in seen.items():
            p = projection(name)
            rows += [u * p[2] - p[0], v * p[2] - p[1]]
        homog = np.linalg.svd(np.asarray(rows))[2][-1]
        point = homog[:3] / homog[3]
        for name, uv in seen.items():
            image = projection(name) @ np.r_[point, 1.0]
            assert np.linalg.norm(image[:2] / image[2] - uv) < 6.0  # px: the labels agree
        points.append(point)
    points = np.asarray(points)
    normal = np.linalg.svd(points - points.mean(0))[2][-1]
    centre = -np.linalg.inv(projection("00046")[:, :3]) @ projection("00046")[:, 3]
    return normal if (centre - points.mean(0)) @ normal > 0 else -normal


def dataset_centre(name: str) -> np.ndarray:
    homog = cv2.decomposeProjectionMatrix(projection(name))[2].ravel()
    return homog[:3] / homog[3]


def env_from(buddha_sfm: Path, tmp_path: Path) -> Path:
    """A fresh environment folder holding the session's frames and sfm stages."""
    env = tmp_path / "env"
    shutil.copytree(buddha_sfm / "env" / "work", env / "work")
    return env


def align(buddha_sfm: Path, env: Path, config: AlignConfig) -> dict:
    results = run_pipeline(
        buddha_sfm / "photos", env, until="align", configs={"align": config}, show_progress=False
    )
    assert [r.status for r in results] == ["skipped", "skipped", "ran"]
    return results[-1].summary


def test_the_table_is_found_under_the_statue_and_gravity_matches_the_dataset(
    buddha_sfm: Path, tmp_path: Path
) -> None:
    env = env_from(buddha_sfm, tmp_path)
    summary = align(buddha_sfm, env, AlignConfig(distance=KnownDistance(*DISTANCE)))
    model = load_model(SfmOutputs.at(env / "work" / "sfm").model)
    poses = registered_poses(model)
    fit = umeyama(
        camera_centres(poses.cam_from_world),
        np.array([dataset_centre(Path(n).stem) for n in poses.names]),
    )
    up_in_model = np.array(summary["world_from_model"]["rotation"])[2]
    error = angle_between_deg(fit.rotation @ up_in_model, dataset_up())
    table = summary["table"]
    print(
        f"buddha: gravity {error:.2f} deg from the dataset's marker plane; table "
        f"{table['inliers']} points ({table['inlier_ratio']:.1%}), runner-up {table['runner_up']}"
    )
    assert error < 3.0
    assert table["inlier_ratio"] < 0.15  # the statue holds most points, yet the sheet wins
    assert table["cameras_above"] == 1.0 and table["points_below"] < 0.05

    aligned = registered_poses(load_model(AlignOutputs.at(env / "work" / "align").model))
    centres = dict(zip(aligned.names, camera_centres(aligned.cam_from_world), strict=True))
    assert np.linalg.norm(centres[DISTANCE[0]] - centres[DISTANCE[1]]) == pytest.approx(0.30)
    assert summary["metric"] and summary["scale_source"] == "distance"

    # The default base: where the line from the origin toward the cameras leaves the table,
    # pulled back to stand clear of the statue, facing the origin.
    base = summary["robot_base"]
    assert base["source"] == "default"
    x, y, _ = base["position_m"]
    toward = np.mean([c[:2] for c in centres.values()], axis=0)
    assert angle_between_deg(np.r_[x, y, 0], np.r_[toward, 0]) < 1.0
    assert abs(((np.degrees(np.arctan2(-y, -x)) - base["yaw_deg"]) + 180) % 360 - 180) < 1.0
    world = points_xyz(load_model(AlignOutputs.at(env / "work" / "align").model))
    statue = world[world[:, 2] > 0.05]
    assert np.linalg.norm(statue[:, :2] - [x, y], axis=1).min() >= 0.3 - 1e-6
    picture = AlignOutputs.at(env / "work" / "align").top_down
    assert cv2.imread(str(picture)).shape[:2] == (770, 770)


def test_object_height_and_a_given_base(buddha_sfm: Path, tmp_path: Path) -> None:
    by_distance = align(buddha_sfm, env_from(buddha_sfm, tmp_path / "a"), AlignConfig(scale=1.0))
    summary = align(
        buddha_sfm,
        env_from(buddha_sfm, tmp_path / "b"),
        AlignConfig(object_height=0.21, base=BasePose(0.35, -0.1, 90.0)),
    )
    assert summary["scale_source"] == "object_height"
    assert summary["object_top_m"] == pytest.approx(0.21)
    # In SfM units the same top: the scale is the ratio of the two heights.
    assert summary["scale"] == pytest.approx(0.21 / by_distance["object_top_m"], rel=1e-6)
    assert not by_distance["metric"] and by_distance["robot_base"]["units_per_metre"] > 0
    base = summary["robot_base"]
    assert base["source"] == "given"
    assert base["position_m"] == [0.35, -0.1, 0.0] and base["yaw_deg"] == 90.0


def test_the_command_says_where_the_base_is(buddha_sfm: Path, tmp_path: Path) -> None:
    env = env_from(buddha_sfm, tmp_path)
    args = [str(buddha_sfm / "photos"), "-o", str(env), "--until", "align", "--no-progress"]
    result = CliRunner().invoke(
        reconstruct_app, [*args, "--distance", *DISTANCE[:2], "0.3", "--base", "-0.4", "0", "0"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("robot    base x=-0.400 y=0.000 m") for line in lines), lines
    picture = Path(next(line for line in lines if line.startswith("top-down")).split()[1])
    assert picture == env / "work" / "align" / "top_down.png" and picture.is_file()
    summary = json.loads((env / "work" / "align" / "summary.json").read_text())
    assert summary["robot_base"]["source"] == "given"
