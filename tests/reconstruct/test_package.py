"""The package stage: a valid package from the objects stage's output, a task chosen from the
objects, and nothing partial left behind when it fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import trimesh
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from reconstruct import package as package_stage
from reconstruct.errors import ReconstructError
from reconstruct.mesh import MeshOutputs
from reconstruct.object_edits import TaskEdit
from reconstruct.objects import ObjectsConfig, run_objects
from reconstruct.package import (
    PackageConfig,
    cameras_at_base,
    choose_task,
    overlap_message,
    pick_up_rubric,
    publish_package,
    robot_base,
    run_package,
)
from reconstruct.splats import SplatsOutputs
from reconstruct.stage import (
    StageContext,
    missing_outputs,
    read_summary,
    staged_output,
    write_json,
)
from sim_env.cli import env_app
from sim_env.package import load_package
from sim_env.primitives import droid_cameras
from sim_env.splats import MeshSampling, gaussians_from_mesh, write_ply


def subdivided_box(extents, centre) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents).subdivide().subdivide()
    box.apply_translation(centre)
    return box


def tabletop() -> trimesh.Trimesh:
    """A table, a 5 cm box at (0.45, -0.12) and a 16 x 12 cm tray at (0.5, 0.12)."""
    parts = [subdivided_box((1.0, 1.0, 0.002), (0.4, 0.0, -0.001)).subdivide().subdivide()]
    parts.append(subdivided_box((0.05, 0.05, 0.06), (0.45, -0.12, 0.03)))
    x, y, lx, ly, h, wall, floor = 0.5, 0.12, 0.16, 0.12, 0.04, 0.01, 0.008
    parts.append(subdivided_box((lx, ly, floor), (x, y, floor / 2)))
    parts += [subdivided_box((wall, ly, h), (x + sx * (lx - wall) / 2, y, h / 2)) for sx in (-1, 1)]
    parts += [subdivided_box((lx, wall, h), (x, y + sy * (ly - wall) / 2, h / 2)) for sy in (-1, 1)]
    return trimesh.util.concatenate(parts)


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory) -> dict[str, Path]:
    """Finished upstream stages as the package stage reads them (summaries, objects)."""
    root = tmp_path_factory.mktemp("env")
    scan = root / "scan.mp4"
    scan.write_bytes(b"not really a video")
    work = root / "work"
    dirs = {name: work / name for name in ("frames", "sfm", "align", "splats", "mesh", "objects")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    write_json(dirs["frames"] / "summary.json", {"source": "video", "count": 40})
    write_json(dirs["sfm"] / "summary.json", {"registered": 40, "total": 40})
    write_json(
        dirs["align"] / "summary.json",
        {
            "scale": 0.2,
            "scale_source": "marker",
            "robot_base": {"position_m": [0.0, 0.0, 0.0], "yaw_deg": 0.0},
        },
    )
    write_json(
        dirs["splats"] / "summary.json",
        {"trainer": "cpu", "gaussians": 50000, "psnr": 30.0, "ssim": 0.9},
    )
    mesh = tabletop()
    splats = SplatsOutputs.at(dirs["splats"])
    splats.holdout.mkdir()
    write_ply(splats.splats, gaussians_from_mesh(mesh, MeshSampling(count=60000, seed=0)))
    o3d_mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces)
    )
    o3d_mesh.vertex_colors = o3d.utility.Vector3dVector(np.full((len(mesh.vertices), 3), 0.6))
    o3d.io.write_triangle_mesh(str(MeshOutputs.at(dirs["mesh"]).mesh), o3d_mesh)
    ctx = StageContext(
        scan=scan,
        out_dir=dirs["objects"],
        scratch_dir=root,
        inputs={"splats": dirs["splats"], "mesh": dirs["mesh"]},
    )
    write_json(dirs["objects"] / "summary.json", run_objects(ctx, ObjectsConfig()))
    return {"root": root, "scan": scan, "work": work, **dirs}


def run_stage(inputs: dict[str, Path], config: PackageConfig) -> dict:
    """The package stage in its atomic output folder, as the pipeline runs it."""
    with staged_output(inputs["work"], "package") as (out_dir, scratch):
        ctx = StageContext(
            scan=inputs["scan"], out_dir=out_dir, scratch_dir=scratch,
            inputs={name: inputs[name] for name in ("frames", "sfm", "align", "splats", "mesh", "objects")},
        )  # fmt: skip
        summary = run_package(ctx, config)
        write_json(out_dir / "summary.json", summary)
    return summary


def test_the_package_validates_with_a_chosen_task_and_sampled_conditions(
    stage_inputs, tmp_path: Path
) -> None:
    summary = run_stage(stage_inputs, PackageConfig(name="unit_twin"))
    assert summary["task"]["container"] == "object_1" and summary["task"]["object"] == "object_0"
    assert summary["initial_conditions"] >= 5
    env_dir = tmp_path / "unit_twin"
    assert not missing_outputs(package_stage.STAGE.outputs(stage_inputs["work"]))
    package = publish_package(stage_inputs["work"] / "package", env_dir)
    result = CliRunner().invoke(env_app, ["validate", str(env_dir)])
    assert result.exit_code == 0, result.output
    spec = package.spec
    assert (
        spec.provenance.source.endswith(summary["scan_sha256"])
        and "PSNR 30.00 dB" in spec.provenance.notes
    )
    assert {c.parent for c in spec.cameras} == {"world", "gripper"}
    assert [c.kind for c in spec.rubric.criteria] == ["reach", "lift", "inside_xy", "gripper_open"]
    assert (env_dir / "previews/exterior_image_1_left.png").is_file()
    assert (env_dir / "previews/layout.png").is_file() and summary[
        "top_down"
    ] == "previews/layout.png"
    stages = json.loads((env_dir / "provenance/stages.json").read_text())
    assert set(stages) == {"frames", "sfm", "align", "splats", "mesh", "objects"}
    first = spec.initial_conditions[0].objects["object_0"].pos
    assert np.allclose(first[:2], (0.45, -0.12), atol=0.005)


def test_world_cameras_move_with_the_robot_base() -> None:
    """The exterior camera is posed for a robot at the origin facing +x; a base elsewhere
    carries it along, so the camera sees the robot the same way."""
    cameras = droid_cameras((64, 36))
    base = robot_base({"robot_base": {"position_m": [0.2, -0.3, 0.0], "yaw_deg": 90.0}})
    moved = cameras_at_base(cameras, base)
    exterior = next(i for i, c in enumerate(cameras) if c["parent"] == "world")
    x, y, z = cameras[exterior]["pose"]["pos"]
    assert np.allclose(moved[exterior]["pose"]["pos"], [0.2 - y, -0.3 + x, z])
    turned = Rotation.from_quat(np.roll(moved[exterior]["pose"]["quat"], -1))
    original = Rotation.from_quat(np.roll(cameras[exterior]["pose"]["quat"], -1))
    assert np.allclose((turned * original.inv()).as_euler("xyz", degrees=True), [0, 0, 90])
    gripper = [c for c in moved if c["parent"] != "world"]
    assert gripper == [c for c in cameras if c["parent"] != "world"]
    with pytest.raises(ReconstructError, match="no robot base pose"):
        robot_base({"scale": 1.0})


def test_a_failure_mid_stage_leaves_no_partial_package(
    stage_inputs, tmp_path: Path, monkeypatch
) -> None:
    run_stage(stage_inputs, PackageConfig(name="unit_twin", previews=False))
    env_dir = tmp_path / "unit_twin"
    before = publish_package(stage_inputs["work"] / "package", env_dir).content_hash

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(package_stage, "write_previews", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):  # after env.yaml was written
        run_stage(stage_inputs, PackageConfig(name="other", previews=True, camera_size=(160, 90)))
    assert not list(stage_inputs["work"].glob(".package.*"))  # the half-written one is gone
    assert read_summary(stage_inputs["work"] / "package")["name"] == "unit_twin"  # earlier kept
    assert load_package(env_dir).content_hash == before  # the published package is untouched
    with pytest.raises(ReconstructError, match="has not finished"):
        publish_package(tmp_path / "nothing", tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_the_task_defaults_to_the_widest_concave_object_and_the_largest_graspable_one() -> None:
    objects = [
        {"name": "mug", "extents_m": [0.08, 0.08, 0.1], "concavity": 0.5, "volume_m3": 2e-4},
        {"name": "tray", "extents_m": [0.3, 0.2, 0.04], "concavity": 0.7, "volume_m3": 6e-4},
        {"name": "cube", "extents_m": [0.05, 0.05, 0.05], "concavity": 0.0, "volume_m3": 1.25e-4},
        {"name": "book", "extents_m": [0.2, 0.15, 0.03], "concavity": 0.0, "volume_m3": 9e-4},
    ]
    assert choose_task(objects, TaskEdit()) == ("cube", "tray")
    assert choose_task(objects, TaskEdit(object="mug")) == ("mug", "tray")
    with pytest.raises(ReconstructError, match="no object named 'pan'"):
        choose_task(objects, TaskEdit(container="pan"))
    assert choose_task(objects[:1], TaskEdit()) == ("mug", None)  # one object: pick it up
    with pytest.raises(ReconstructError, match="a task needs an object"):
        choose_task([], TaskEdit())
    assert [c["kind"] for c in pick_up_rubric("mug")["criteria"]] == ["reach", "lift"]


def test_an_interpenetration_names_the_bodies_their_candidates_and_the_fix() -> None:
    records = [{"name": "mug", "candidates": [1]}, {"name": "statue", "candidates": [2, 3]}]
    problems = ["object/mug and object/statue interpenetrate by 4.2 mm"]
    message = overlap_message(problems, records, given=False)
    assert message.startswith(
        "the first initial condition does not fit: object/mug and object/statue interpenetrate "
        "by 4.2 mm (mug from candidate(s) [1], statue from candidate(s) [2, 3]); in --objects "
        "objects.yaml merge them into one object (candidates: [A, B]) or drop one (drop: [ID])"
    )
    robot = ["robot/link7 and object/mug interpenetrate by 12.0 mm"]
    assert overlap_message(robot, records, given=False).endswith("(--base X Y YAW)")
    assert "initial_conditions of the --objects file" in overlap_message(problems, records, True)
