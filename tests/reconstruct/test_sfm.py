"""Stage ``sfm``: pair generation, refusals, and the real Buddha photos against their cameras."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pycolmap
import pytest
from PIL import Image

from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.errors import ReconstructError
from reconstruct.scans.buddha_truth import compare_with_dataset
from reconstruct.sfm import SfmConfig, SfmOutputs, check_models, check_quality, sequential_pairs
from reconstruct.stages import run_pipeline


def test_sequential_pairs_cover_neighbours_and_keyframe_loops() -> None:
    pairs = sequential_pairs(30, overlap=3, keyframe_every=10)
    assert (0, 1) in pairs and (0, 3) in pairs and (0, 4) not in pairs
    assert (0, 20) in pairs and (10, 20) in pairs  # loop closure between keyframes
    assert (26, 29) in pairs and all(i < j < 30 for i, j in pairs)
    assert len(pairs) == len(set(pairs)) == 3 * 27 + 2 + 1 + 3  # window + keyframe pairs
    assert sequential_pairs(1, overlap=3, keyframe_every=10) == []


def test_invalid_config_lists_the_choices() -> None:
    with pytest.raises(ReconstructError, match="SIMPLE_RADIAL"):
        SfmConfig(camera_model="FISHEYE_42")
    with pytest.raises(ReconstructError, match="exhaustive, sequential"):
        SfmConfig(matching="vocab")
    with pytest.raises(ReconstructError, match="no vocabulary tree file"):
        SfmConfig(vocab_tree="/nonexistent/vocab_tree.bin")


def test_unrelated_photos_are_refused_without_leaving_output(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray(canvas(240, 180, 100 + i)).save(photos / f"{i}.jpg", quality=90)
    env = tmp_path / "env"
    with pytest.raises(ReconstructError, match=r"no consistent camera geometry|registered|split"):
        run_pipeline(photos, env, until="sfm", show_progress=False)
    assert (env / "work" / "frames" / "summary.json").is_file()
    assert sorted(p.name for p in (env / "work").iterdir()) == ["frames"]


@pytest.mark.slow
def test_buddha_photos_register_and_match_the_dataset_cameras(buddha_photos: Path) -> None:
    env = buddha_photos.parent / "env"
    started = time.monotonic()
    _, sfm = run_pipeline(buddha_photos, env, until="sfm", show_progress=False)
    seconds = time.monotonic() - started
    summary = sfm.summary
    assert summary["total"] == 13 and summary["registered"] >= 12
    assert summary["models"] >= 1 and summary["points"] > 500
    assert summary["mean_reprojection_error"] < 1.5 and summary["mean_track_length"] > 2.5
    poses = registered_poses(load_model(SfmOutputs.at(sfm.out_dir).model))
    # the SfM frame's up is arbitrary before align: only the camera centres are compared
    fit = compare_with_dataset(poses.names, poses.cam_from_world, up=np.array([0.0, 0.0, 1.0]))
    print(
        f"buddha: {summary['registered']}/13 registered in {seconds:.1f} s, camera-centre error "
        f"mean {fit.centre_error_mean:.3%} max {fit.centre_error_max:.3%} of the extent"
    )
    assert fit.cameras == summary["registered"] and fit.centre_error_mean < 0.02
    again = run_pipeline(buddha_photos, env, until="sfm", show_progress=False)
    assert [r.status for r in again] == ["skipped", "skipped"]


def toy_model(names: list[str]) -> pycolmap.Reconstruction:
    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(
        pycolmap.Camera(model="PINHOLE", width=64, height=48, params=[50, 50, 32, 24], camera_id=1)
    )
    for i, name in enumerate(names):
        image = pycolmap.Image(name=name, camera_id=1, image_id=i + 1)
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d())
    return rec


def test_check_models_refuses_a_split_scene_and_a_partial_model() -> None:
    names = [f"{i:02d}.jpg" for i in range(10)]
    config = SfmConfig()
    with pytest.raises(ReconstructError, match=r"split into 2 separate models \(6, 4 of 10"):
        check_models([toy_model(names[:6]), toy_model(names[6:])], names, config, Path("x"))
    with pytest.raises(ReconstructError, match=r"only 7 of 10 images registered.*07\.jpg, 08\.jpg"):
        check_models([toy_model(names[:7])], names, config, Path("x"))
    with pytest.raises(ReconstructError, match="no consistent camera geometry"):
        check_models([], names, config, Path("x"))
    best = check_models([toy_model(names[:2]), toy_model(names[1:])], names, config, Path("x"))
    assert best.num_reg_images() == 9


def test_check_quality_names_every_failed_check() -> None:
    good = {"mean_track_length": 4.0, "mean_reprojection_error": 0.6, "mean_coverage": 0.4}
    check_quality(good, SfmConfig(), Path("x"))
    bad = {"mean_track_length": 2.1, "mean_reprojection_error": 0.6, "mean_coverage": 0.03}
    with pytest.raises(
        ReconstructError, match=r"seen in 2\.10 images.*cover 3% .*repeated pattern"
    ):
        check_quality(bad, SfmConfig(), Path("x"))
