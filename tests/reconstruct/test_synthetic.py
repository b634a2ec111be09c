"""End to end on the simulated phone scan of the source world: frames -> sfm -> align ->
splats (cpu) -> mesh -> objects -> package, measured against the source world's truth.

The default suite runs the reduced build (7 s of 360 px video, 400 training steps, ~2 min on
two busy cores); the full build (the bundled twin's settings) is marked slow.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reconstruct.objects import run_objects
from reconstruct.refine_objects import RefineConfig
from reconstruct.stage import StageContext, missing_outputs
from reconstruct.stages import PIPELINE, WORK_DIRNAME
from reconstruct.synthetic.build import (
    BuildConfig,
    build,
    quick_config,
    stage_configs,
    with_bare_pass,
)
from sim_env.cli import env_app
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import load_package
from sim_env.planner import PickPlaceExpert
from sim_env.registry import resolve_env
from sim_env.splats import read_ply


def scripted_successes(package: Path, obj: str, container: str, conditions: int) -> int:
    env = TwinEnv(package, EnvConfig(cameras=()))
    successes = 0
    for i in range(conditions):
        obs, info = env.reset(options={"initial_condition": i})
        expert = PickPlaceExpert(env.scene, obj, container)
        for _ in range(env.horizon):
            obs, _, terminated, truncated, info = env.step(
                expert.act(info["privileged"], obs["joint_position"])
            )
            if terminated or truncated:
                break
        successes += bool(info["success"])
    env.close()
    return successes


def check_build(
    record: dict,
    max_centroid_error: float,
    max_xy_error: float,
    max_tray_error: float | None = None,
) -> None:
    """``max_tray_error`` (m, in 3D and on the table) replaces both limits for the tray."""
    accuracy = record["accuracy"]
    print(
        f"\nscale error {accuracy['scale_error']:.2%}, gravity {accuracy['gravity_error_deg']:.2f} deg, "
        f"centroids (cm) { ({k: round(v * 100, 2) for k, v in accuracy['centroid_error_m'].items()}) }, "
        f"held-out PSNR {record['splats']['psnr']:.2f} dB / SSIM {record['splats']['ssim']:.3f} "
        f"(init {record['splats']['psnr_init']:.2f} dB), seconds {record['seconds']}"
    )
    assert accuracy["scale_error"] < 0.02
    assert accuracy["gravity_error_deg"] < 1.0
    errors, xy = accuracy["centroid_error_m"], accuracy["centroid_xy_error_m"]
    assert set(errors) == {"red_box", "green_box", "blue_can", "tray"}
    for name in errors:
        tray = name == "tray" and max_tray_error is not None
        assert errors[name] < (max_tray_error if tray else max_centroid_error), errors
        assert xy[name] < (max_tray_error if tray else max_xy_error), xy
    assert record["splats"]["psnr"] > record["splats"]["psnr_init"] + 5


def check_packages(record: dict) -> None:
    source, twin = (Path(p) for p in record["packages"])
    for package in (source, twin):
        result = CliRunner().invoke(env_app, ["validate", str(package)])
        assert result.exit_code == 0, result.output
    assert scripted_successes(twin, "red_box", "tray", 2) == 2


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("synthetic")
    started = time.monotonic()
    record = build(with_bare_pass(quick_config(), 3.0), root / "envs", root / "work")
    record["wall_s"] = time.monotonic() - started
    record["stages_dir"] = root / "work" / "env" / WORK_DIRNAME
    return record


def test_every_stage_wrote_its_outputs(quick_build: dict) -> None:
    for stage in PIPELINE:
        assert not missing_outputs(stage.outputs(quick_build["stages_dir"])), stage.name


def test_quick_scan_becomes_a_metric_twin(quick_build: dict) -> None:
    # The reduced build's splats are trained on 160 px images for 400 steps, from 55 frames
    # picked at 3% image motion. Centroid errors measured in three builds (cm): red_box
    # 0.4-0.5, green_box 0.5-0.6, blue_can 0.7, tray 0.8-1.0; the boxes and the can came out
    # at most 0.5 cm short (two builds measured).
    # With 28 frames picked at 5% the tray was 4-9 cm off (see quick_config). Since the scan
    # is lit as the evaluation's cameras see it (headlight, specular: issue 16), 55 frames
    # at 3% left the tray 2.2-3.0 cm off (2.9 cm in xy) and the expert failed once in two;
    # 70 at 2% (two builds): red_box 0.6, green_box 0.4, blue_can 1.3, tray 1.7-2.0 cm. The full build meets
    # 1.5 cm (test_full_build_meets_the_accuracy_targets; 1.4 cm for the tray, relit).
    # The tray's walls come out as 3-5 candidates here, joined by stretches fused 1-1.5 cm
    # high, and its 8 mm floor at 5-10 mm. The objects file pointed at its middle, sides and
    # corners and the solid was the hull of the pieces found: 0.8-1.3 cm on a quiet machine
    # (eight builds), but one CI build 5.2 cm (pieces on one side only), hence a 6 cm bar.
    # Now the objects stage joins the pieces into one container (``reconstruct.container``:
    # level walls and a thin floor); three builds (seeds 0, 1, 2; before: 1.11, 1.82, 1.44 cm)
    # gave the tray 2.28, 2.29, 2.19 cm (xy 2.22, 2.23, 2.16), a fourth (this test) 2.12:
    # its +x wall fuses 1.5-3 cm outside the true one (the mesh stage's doing, not the
    # objects stage's), so the faithful solid lies ~2 cm off, where the hull of a subset of
    # the pieces happened to land closer. The expert placed into it in all three builds.
    # A build that finds the walls of one side only still falls back to the hull of the
    # pieces (the 5.2 cm CI build's case), so the tray keeps its 6 cm bar until the mesh
    # stage's walls are right: a flaky bar costs a whole landing. Since the mesh stage fuses
    # the splats' median depth (version 3), the same splats give the tray 1.05 cm (2.14 cm
    # with the expected depth) and this test's build gave 1.12 cm; the tabletop twin's +x
    # wall still stands 2 cm thick. Since the splats place a container's walls (objects
    # version 10) this test's build gave the tray 0.55 cm; of four cached reduced builds two
    # went from 2.3 to 0.6-0.7 cm and two kept their fused walls (29-33 splats on them, too
    # few), so the bar stays.
    check_build(quick_build, max_centroid_error=0.03, max_xy_error=0.025, max_tray_error=0.06)


def test_the_bare_table_is_placed_where_the_phone_stood(quick_build: dict) -> None:
    # a 3 s bare pass after the scan (the table with the objects taken off, 30 frames): each
    # placed by the table's features alone, within millimetres of where the phone was
    accuracy = quick_build["accuracy"]
    assert accuracy["bare_cameras"] >= 20
    assert accuracy["bare_camera_error_after_similarity_m"] < 0.003
    assert accuracy["bare_camera_error_m"] < accuracy["camera_error_m"] + 0.003


def test_quick_twin_and_source_validate_and_the_expert_succeeds(quick_build: dict) -> None:
    check_packages(quick_build)


def test_refined_objects_look_closer_in_the_held_out_frames(quick_build: dict, tmp_path) -> None:
    # The reduced build trains its splats at 160 px; refined on 128 px crops of its frames at
    # twice that, the objects' held-out crops gain (360x270 frames: 23.8 -> 25.0 dB).
    stages = quick_build["stages_dir"]
    config = stage_configs(quick_config(), load_package(resolve_env("tabletop_source")))["objects"]
    config = replace(config, refine=RefineConfig(steps=150))
    inputs = {name: stages / name for name in ("frames", "align", "splats", "mesh")}
    ctx = StageContext(stages, tmp_path / "objects", tmp_path / "scratch", inputs)
    (tmp_path / "objects").mkdir()
    summary = run_objects(ctx, config)
    refined = summary["refine"]
    assert refined["image_size"] == [320, 240] and refined["crops"] > 50  # twice 160 px
    assert refined["heldout_crop_psnr_after"] > refined["heldout_crop_psnr_before"] + 0.5
    assert refined["kept"] == "refined"
    for record, before, after in zip(
        summary["objects"], refined["gaussians_before"], refined["gaussians_refined"], strict=True
    ):
        body = read_ply(tmp_path / "objects" / "objects" / record["name"] / "splats.ply")
        assert len(body) == record["gaussians"] == after > before  # split, body frame
        # body frame: centred on the object, up to a share of its size for a lopsided cover
        # (a tray seen mostly from one side: 2.2 cm off-centre over 19 cm in one CI build)
        reach = np.ptp(body.means[:, :2], axis=0).max()
        assert np.abs(body.means[:, :2].mean(0)).max() < max(0.02, 0.15 * reach)
        # too few steps to shape the solids from (RefineConfig.reshape_steps)
        assert record["shape"] == "fused samples"


@pytest.mark.manual
def test_full_build_meets_the_accuracy_targets(tmp_path: Path) -> None:
    record = build(BuildConfig(), tmp_path / "envs", tmp_path / "work")
    check_build(record, max_centroid_error=0.015, max_xy_error=0.015)
    check_packages(record)
    assert scripted_successes(Path(record["packages"][0]), "red_box", "tray", 2) == 2
