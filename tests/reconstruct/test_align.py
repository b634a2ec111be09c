"""Stage ``align`` on synthetic scenes with known gravity, scale and a rendered ArUco marker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycolmap
import pytest
from scipy.spatial.transform import Rotation

from reconstruct import frames, sfm
from reconstruct.align import AlignConfig, AlignOutputs, KnownDistance, run_align, world_axes
from reconstruct.colmap_model import load_model, points_xyz, registered_poses, save_model
from reconstruct.errors import ReconstructError
from reconstruct.geometry import Similarity, angle_between_deg, camera_centres
from reconstruct.gravity import Cameras, PlaneSearch, find_table
from reconstruct.placement import BasePose
from reconstruct.stage import StageContext, write_json

K = np.array([[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]])
SIZE = (640, 480)
MARKER_SIZE = 0.10  # m
MARKER_CENTRE = np.array([0.05, -0.03, 0.0])  # m, in the table frame
MARKER_YAW_DEG = 30.0
METRES_PER_UNIT = 0.37  # the scale align must recover


@dataclass
class Scene:
    env: Path
    model_from_table: Similarity
    poses: np.ndarray  # [V, 3, 4] in the table frame, metres
    table_ids: list[int]  # ids of the model points on the table


def make_scene(tmp_path: Path, poses: np.ndarray, printed: tuple[np.ndarray, np.ndarray]) -> Scene:
    """Frames from ``poses`` ``[V, 3, 4]`` (table frame, metres) of the ``printed`` table
    (texture, texture-to-table map), and an SfM-like model of it in other units and axes."""
    env = tmp_path / "env"
    images = frames.STAGE.outputs(env / "work").images
    images.mkdir(parents=True)
    texture, to_table = printed
    names = []
    for i, pose in enumerate(poses):
        homography = K @ np.c_[pose[:, 0], pose[:, 1], pose[:, 3]] @ to_table
        image = cv2.warpPerspective(texture, homography, SIZE, borderValue=90)
        names.append(f"frame_{i:05d}.png")
        cv2.imwrite(str(images / names[-1]), image)
    write_json(env / "work" / "frames" / "summary.json", {"source": "video", "images": names})

    rng = np.random.default_rng(1)
    table = np.c_[rng.uniform(-0.3, 0.3, (600, 2)), rng.normal(0, 5e-4, 600)]
    box = np.c_[rng.uniform(-0.2, -0.1, (200, 2)), rng.uniform(0.0, 0.12, 200)]
    outliers = rng.uniform(-0.5, 0.5, (30, 3))
    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(
        pycolmap.Camera(
            model="PINHOLE", width=SIZE[0], height=SIZE[1], params=[800, 800, 320, 240], camera_id=1
        )
    )
    for i, (name, pose) in enumerate(zip(names, poses, strict=True)):
        rigid = pycolmap.Rigid3d(pycolmap.Rotation3d(pose[:, :3]), pose[:, 3])
        rec.add_image_with_trivial_frame(
            pycolmap.Image(name=name, camera_id=1, image_id=i + 1), rigid
        )
    ids = [rec.add_point3D(xyz, pycolmap.Track()) for xyz in np.r_[table, box, outliers]]
    model_from_table = Similarity(
        1.0 / METRES_PER_UNIT,
        Rotation.from_euler("xyz", [40, -25, 70], degrees=True).as_matrix(),
        np.array([2.0, -1.0, 0.5]),
    )
    sim = model_from_table
    rec.transform(pycolmap.Sim3d(sim.scale, pycolmap.Rotation3d(sim.rotation), sim.translation))
    save_model(rec, sfm.STAGE.outputs(env / "work").model)
    return Scene(env, model_from_table, poses, ids[: len(table)])


def align(scene: Scene, config: AlignConfig) -> tuple[dict, Path]:
    out = scene.env / "work" / "align"
    scratch = scene.env / "scratch"
    out.mkdir()
    scratch.mkdir()
    work = scene.env / "work"
    ctx = StageContext(
        Path("unused"), out, scratch, {"frames": work / "frames", "sfm": work / "sfm"}
    )
    return run_align(ctx, config), out


@pytest.fixture(scope="module")
def views(orbit: Callable[..., np.ndarray]) -> np.ndarray:
    """Six views over 140 degrees, 0.45 m out and 0.4 m up, looking at the marker."""
    return orbit(6, radius=0.45, height=0.4, degrees=140, target=MARKER_CENTRE)


@pytest.fixture(scope="module")
def printed(printed_marker: Callable[..., tuple[np.ndarray, np.ndarray]]):
    """The table, its marker (0.1 m, id 0) off-centre and turned by 30 degrees, 0.5 mm/px."""
    return printed_marker(centre=MARKER_CENTRE[:2], yaw_deg=MARKER_YAW_DEG, half=0.3, px=0.0005)


def marker_frame(points: np.ndarray) -> np.ndarray:
    """Table-frame points ``[N, 3]`` in the marker frame (the world align should produce)."""
    rot = Rotation.from_euler("z", MARKER_YAW_DEG, degrees=True).as_matrix()
    return (points - MARKER_CENTRE) @ rot


def test_marker_gives_scale_origin_and_axes(tmp_path: Path, views: np.ndarray, printed) -> None:
    scene = make_scene(tmp_path, views, printed)
    summary, out = align(scene, AlignConfig(marker_size=MARKER_SIZE))
    assert summary["scale_source"] == "marker"
    assert summary["scale"] == pytest.approx(METRES_PER_UNIT, rel=0.01)
    consistency = summary["scale_consistency"]
    assert consistency["views"] == 6
    assert consistency["relative_spread"] < 0.01
    assert consistency["mean"] == pytest.approx(METRES_PER_UNIT, rel=0.01)
    assert summary["marker_views"] == 6 and all(
        ids == [0] for ids in summary["marker_detections"].values()
    )
    assert summary["marker_tilt_deg"] < 1.0
    base = summary["robot_base"]
    assert base["position_m"] == [0.0, 0.0, 0.0] and base["yaw_deg"] == 0.0
    assert base["source"] == "marker"
    rec = load_model(AlignOutputs.at(out).model)
    aligned = camera_centres(registered_poses(rec).cam_from_world)
    expected = marker_frame(camera_centres(scene.poses))
    assert np.abs(aligned - expected).max() < 0.005  # m, cameras ~0.6 m from the marker
    table_z = np.array([rec.points3D[i].xyz[2] for i in scene.table_ids])
    assert np.abs(np.median(table_z)) < 1e-3


def test_given_scale_and_plane_give_gravity_and_z_zero(
    tmp_path: Path, views: np.ndarray, printed
) -> None:
    scene = make_scene(tmp_path, views, printed)
    summary, out = align(scene, AlignConfig(scale=METRES_PER_UNIT))
    rec = load_model(AlignOutputs.at(out).model)
    table_z = np.array([rec.points3D[i].xyz[2] for i in scene.table_ids])
    assert np.abs(table_z).max() < 3e-3  # m: noise 0.5 mm, plus the fit
    assert len(points_xyz(rec)) == 830
    assert summary["plane_inlier_ratio"] > 0.6
    assert summary["gravity_residual_m"] < 1e-3
    assert summary["camera_height_m"]["min"] == pytest.approx(0.4, abs=2e-3)
    true_up = scene.model_from_table.rotation @ np.array([0.0, 0.0, 1.0])
    world_up_in_model = np.array(summary["world_from_model"]["rotation"])[2]
    assert angle_between_deg(world_up_in_model, true_up) < 0.1


def test_plane_search_skips_planes_with_points_below(orbit: Callable[..., np.ndarray]) -> None:
    """The top of a large box is a plane too, but the table holds the points below it."""
    rng = np.random.default_rng(3)
    table = np.c_[rng.uniform(-1, 1, (500, 2)), np.zeros(500)]
    top = np.c_[rng.uniform(-0.9, 0.9, (900, 2)), np.full(900, 0.3)]
    walls = np.c_[rng.uniform(-0.9, 0.9, (400, 2)), rng.uniform(0, 0.3, 400)]
    tilt = Rotation.from_euler("x", 20, degrees=True).as_matrix()
    poses = orbit(10, radius=1.2, height=1.5, degrees=300)
    poses = np.concatenate([poses[:, :, :3] @ tilt.T, poses[:, :, 3:]], axis=2)
    points = np.r_[table, top, walls] @ tilt.T
    cameras = Cameras.from_poses(poses)
    found = find_table(points, cameras, PlaneSearch())
    assert angle_between_deg(found.plane.normal, tilt[:, 2]) < 0.1
    assert found.inliers[:500].all() and not found.inliers[500:1400].any()
    rot, origin = world_axes(found.plane, points[:500].mean(0), cameras, None)
    assert abs(found.plane.distance(origin)) < 1e-9 and np.allclose(rot[2], found.plane.normal)


def test_distance_between_frames_sets_the_scale(tmp_path: Path, views: np.ndarray, printed) -> None:
    scene = make_scene(tmp_path, views, printed)
    centres = camera_centres(scene.poses)
    metres = float(np.linalg.norm(centres[0] - centres[5]))
    summary, _ = align(
        scene, AlignConfig(distance=KnownDistance("frame_00000.png", "frame_00005.png", metres))
    )
    assert summary["scale_source"] == "distance"
    assert summary["scale"] == pytest.approx(METRES_PER_UNIT, rel=1e-6)


def test_object_height_sets_the_scale_and_base_is_where_given(
    tmp_path: Path, views: np.ndarray, printed
) -> None:
    """The box is 0.12 m tall; 30 stray points float around it, some higher."""
    scene = make_scene(tmp_path, views, printed)
    base = BasePose(-0.3, 0.1, 45.0)
    summary, out = align(scene, AlignConfig(object_height=0.12, base=base))
    assert summary["scale_source"] == "object_height" and summary["metric"]
    assert summary["scale"] == pytest.approx(METRES_PER_UNIT, rel=0.02)
    assert summary["robot_base"]["position_m"] == [-0.3, 0.1, 0.0]
    assert summary["robot_base"]["source"] == "given"
    assert AlignOutputs.at(out).top_down.stat().st_size > 10_000


def test_missing_scale_and_missing_marker_are_clear_errors(
    tmp_path: Path, views: np.ndarray, printed
) -> None:
    scene = make_scene(tmp_path, views[::2], printed)
    with pytest.raises(ReconstructError, match=r"no metric scale.*--object-height.*--scale 1"):
        align(scene, AlignConfig())
    (scene.env / "work" / "align").rmdir()
    (scene.env / "scratch").rmdir()
    with pytest.raises(
        ReconstructError, match=r"id 5 .*seen in 0 registered frame.*ids seen: \[0\]"
    ):
        align(scene, AlignConfig(marker_size=0.1, marker_id=5))


def test_config_refuses_two_scale_sources() -> None:
    with pytest.raises(ReconstructError, match="only one source of metric scale"):
        AlignConfig(marker_size=0.1, scale=1.0)
    with pytest.raises(ReconstructError, match="must be positive"):
        AlignConfig(scale=0.0)
