"""The package stage: a valid package from the objects stage's output, a task chosen from the
objects, and nothing partial left behind when it fails."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pycolmap
import pytest
import trimesh
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from reconstruct import package as package_stage
from reconstruct.align import AlignOutputs
from reconstruct.colmap_model import save_model
from reconstruct.errors import ReconstructError
from reconstruct.exterior import CaptureCameras
from reconstruct.mesh import MeshOutputs
from reconstruct.object_edits import ConditionEdit, PoseEdit, TaskEdit
from reconstruct.objects import ObjectsConfig, ObjectsOutputs, run_objects
from reconstruct.package import (
    PackageConfig,
    cameras_at_base,
    choose_task,
    overlap_message,
    pick_up_rubric,
    publish_package,
    robot_base,
    run_package,
    task_rubric,
)
from reconstruct.splats import SplatsOutputs
from reconstruct.stage import (
    StageContext,
    missing_outputs,
    read_summary,
    staged_output,
    write_json,
)
from reconstruct.viewpoint import ExteriorChoice
from sim_env.cameras import look_at, quat_to_mat
from sim_env.cli import env_app
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import load_package
from sim_env.primitives import droid_cameras
from sim_env.render.void import VoidFractions, void_fractions
from sim_env.splats import MeshSampling, gaussians_from_mesh, write_ply

CAPTURE_SIZE = (160, 120)  # px, the fixture's frames


def write_capture(frames_dir: Path, align_dir: Path, count: int = 8) -> list[str]:
    """Frames and an aligned model as the frames and align stages leave them: ``count``
    cameras on a circle 0.8 m out and 0.45 m up around the table, looking at its middle,
    each frame a colourful pattern (the background dome is painted from them)."""
    images = frames_dir / "images"
    images.mkdir()
    rec = pycolmap.Reconstruction()
    w, h = CAPTURE_SIZE
    rec.add_camera_with_trivial_rig(
        pycolmap.Camera(model="PINHOLE", width=w, height=h, params=[120, 120, w / 2, h / 2],
                        camera_id=1)
    )  # fmt: skip
    rng, names = np.random.default_rng(3), []
    for i, angle in enumerate(np.linspace(-1.2, 1.2, count)):
        eye = np.array([0.45 - 0.8 * np.cos(angle), 0.8 * np.sin(angle), 0.45])
        to_world = quat_to_mat(look_at(eye, np.array([0.45, 0.0, 0.0])))
        names.append(f"frame_{i:05d}.jpg")
        pattern = rng.uniform(40, 220, size=(6, 8, 3)).astype(np.uint8)
        cv2.imwrite(str(images / names[-1]), cv2.resize(pattern, (w, h)))
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(to_world.T), -to_world.T @ eye)
        rec.add_image_with_trivial_frame(
            pycolmap.Image(name=names[-1], camera_id=1, image_id=i + 1), pose
        )
    save_model(rec, AlignOutputs.at(align_dir).model)
    AlignOutputs.at(align_dir).top_down.touch()
    return names


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


UPSTREAM = ("frames", "sfm", "align", "splats", "mesh", "objects", "bare")  # package reads


@pytest.fixture(scope="module")
def stage_inputs(tmp_path_factory) -> dict[str, Path]:
    """Finished upstream stages as the package stage reads them (summaries, objects)."""
    root = tmp_path_factory.mktemp("env")
    scan = root / "scan.mp4"
    scan.write_bytes(b"not really a video")
    work = root / "work"
    dirs = {name: work / name for name in UPSTREAM}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    (dirs["bare"] / "images").mkdir()  # no bare table filmed, as the stage writes it
    (dirs["bare"] / "views.json").write_text("[]\n")
    write_json(dirs["frames"] / "summary.json", {"source": "video", "count": 40})
    write_capture(dirs["frames"], dirs["align"])
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
            inputs={name: inputs[name] for name in UPSTREAM},
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
    assert set(stages) == set(UPSTREAM)
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
    # nothing graspable (a real scan's statue and a strip of table edge): no pick-and-place,
    # the largest object alone
    statue = {"name": "statue", "extents_m": [0.15, 0.165, 0.22], "concavity": 0.2,
              "volume_m3": 2.9e-3}  # fmt: skip
    strip = {"name": "strip", "extents_m": [0.325, 0.102, 0.067], "concavity": 0.0,
             "volume_m3": 8e-4}  # fmt: skip
    assert choose_task([strip, statue], TaskEdit()) == ("statue", None)
    assert choose_task([strip, statue], TaskEdit(container="strip")) == ("statue", "strip")
    with pytest.raises(ReconstructError, match="a task needs an object"):
        choose_task([], TaskEdit())
    assert [c["kind"] for c in pick_up_rubric("mug")["criteria"]] == ["reach", "lift"]


def test_one_object_too_big_to_grasp_is_touched() -> None:
    mug, statue = (
        {"name": "mug", "extents_m": [0.07, 0.09, 0.1]},  # the gripper closes around 7 cm
        {"name": "buddha_head", "extents_m": [0.23, 0.18, 0.21]},
    )
    rubric, instruction = task_rubric(statue, None, "")
    assert instruction == "touch the buddha head"
    assert rubric["criteria"] == [
        {
            "name": "touch_buddha_head",
            "kind": "reach",
            "params": {"object": "buddha_head", "threshold": 0.02},
        }
    ]
    assert task_rubric(mug, None, "")[1] == "pick up the mug"
    assert task_rubric(mug, None, "")[0] == pick_up_rubric("mug")
    placed, said = task_rubric(mug, "tray", "")
    assert said == "put the mug in the tray" and placed["criteria"][-1]["kind"] == "gripper_open"
    assert task_rubric(statue, None, "pat the head")[1] == "pat the head"  # a given one is kept


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
    arm = overlap_message(robot, records, given=False)
    assert arm.endswith(
        "(mug from candidate(s) [1]); move the robot base away from the objects "
        "(--base X Y YAW; see work/align/top_down.png)"
    )
    assert "initial_conditions of the --objects file" in overlap_message(problems, records, True)


def view_voids(package) -> dict[str, VoidFractions]:
    """Each camera's void at the first initial condition, 160x90."""
    env = TwinEnv(package, EnvConfig(renderer="splats"))
    try:
        env.reset(options={"initial_condition": 0})
        return {c: void_fractions(env.renderer, env.data, c, (160, 90)) for c in env.camera_names}
    finally:
        env.close()


def test_the_exterior_camera_is_fitted_to_the_capture_and_no_view_shows_void(
    stage_inputs, tmp_path: Path
) -> None:
    summary = run_stage(stage_inputs, PackageConfig(name="fitted", camera_size=(160, 90)))
    package = publish_package(stage_inputs["work"] / "package", tmp_path / "fitted")
    exterior = summary["exterior_camera"]
    assert exterior["mode"] == "auto" and exterior["chosen"].startswith("frame_")
    assert exterior["coverage"] > 0.3 and len(exterior["considered"]) == 4
    scores = [c["coverage"] * np.exp(-c["cost"]) for c in exterior["considered"]]
    assert exterior["considered"][int(np.argmax(scores))]["name"] == exterior["chosen"]
    camera = next(c for c in package.spec.cameras if c.name == EXTERIOR_IMAGE)
    assert camera.parent == "world" and np.allclose(camera.pose.pos, exterior["pose"]["pos"])
    assert package.spec.format_version == 2
    assert package.spec.scene.background.image == "backgrounds/dome.png"
    assert summary["background"]["views"] == 8 and 0.1 < summary["background"]["seen"] < 1.0
    assert "previews/background.png" in summary["previews"]
    assert (tmp_path / "fitted/previews/background.png").is_file()
    result = CliRunner().invoke(env_app, ["validate", str(tmp_path / "fitted")])
    assert result.exit_code == 0, result.output
    with_dome = view_voids(package)
    assert all(v.void == 0.0 for v in with_dome.values())

    run_stage(stage_inputs, PackageConfig(name="bare", camera_size=(160, 90), background=None))
    bare = publish_package(stage_inputs["work"] / "package", tmp_path / "bare")
    assert bare.spec.format_version == 1 and bare.spec.scene.background is None
    without = view_voids(bare)
    assert without[EXTERIOR_IMAGE].void > 0.05  # the same camera sees past the table
    assert with_dome[EXTERIOR_IMAGE].open == pytest.approx(without[EXTERIOR_IMAGE].void)


def test_the_exterior_camera_can_be_chosen(stage_inputs) -> None:
    frame = run_stage(
        stage_inputs,
        PackageConfig(name="chosen", previews=False, background=None,
                      exterior=ExteriorChoice.parse("frame_00002.jpg")),
    )["exterior_camera"]  # fmt: skip
    cameras = CaptureCameras.of_model(AlignOutputs.at(stage_inputs["align"]).model)
    assert frame["chosen"] == "frame_00002.jpg" and frame["coverage"] is not None
    assert np.allclose(frame["pose"]["pos"], cameras.cameras.centres[2])
    given = run_stage(
        stage_inputs,
        PackageConfig(name="given", previews=False, background=None,
                      exterior=ExteriorChoice.parse("0.6,-0.7,0.55:0.35,0.05,0.05")),
    )["exterior_camera"]  # fmt: skip
    droid = cameras_at_base(droid_cameras((320, 180)), robot_base({"robot_base": {
        "position_m": [0.0, 0.0, 0.0], "yaw_deg": 0.0}}))[0]  # fmt: skip
    assert np.allclose(given["pose"]["pos"], droid["pose"]["pos"])
    assert np.allclose(np.abs(given["pose"]["quat"]), np.abs(droid["pose"]["quat"]), atol=1e-9)
    with pytest.raises(ReconstructError, match="not a registered frame"):
        run_stage(
            stage_inputs,
            PackageConfig(name="x", previews=False, exterior=ExteriorChoice.parse("nope.jpg")),
        )


HOME_PINCH = (0.4016, 0.0, 0.3802)  # m, the gripper's pinch point at the home pose, base at 0


def test_start_states_the_rubric_already_scores_are_dropped_and_said(stage_inputs) -> None:
    """``env validate --deep`` refuses a start state where a criterion is reached at reset, so
    the package stage drops it and says which and why; with none left it stops, clearly."""
    scanned = {r["name"]: tuple(r["pose"]["pos"]) for r in read_summary(stage_inputs["objects"])["objects"]}  # fmt: skip
    x, y, z = HOME_PINCH
    under_gripper = {**scanned, "object_0": (x, y, z - 0.07)}  # the 6 cm box's top 1 cm below

    def edits(*layouts) -> tuple[ConditionEdit, ...]:
        return tuple(ConditionEdit(tuple(PoseEdit(n, p) for n, p in c.items())) for c in layouts)

    config = PackageConfig(name="scored", previews=False, background=None)
    summary = run_stage(
        stage_inputs, replace(config, initial_conditions=edits(scanned, under_gripper, scanned))
    )
    assert summary["initial_conditions"] == 2
    assert summary["scored_at_reset_initial_conditions"] == [
        {"candidate": 1, "reached_at_reset": ["reach_object_0"]}
    ]
    with pytest.raises(ReconstructError, match=r"reach_object_0.*reached at reset") as caught:
        run_stage(stage_inputs, replace(config, initial_conditions=edits(under_gripper)))
    assert caught.value.field == "initial_conditions"


def test_start_states_that_do_not_settle_are_dropped_and_said(stage_inputs) -> None:
    """An object perturbed past the table's edge tips over, which ``env validate --deep``
    refuses ("still moves"), so the package stage drops such a start state and says so; with
    none left it stops, clearly."""
    summary = read_summary(stage_inputs["objects"])
    scanned = {r["name"]: tuple(r["pose"]["pos"]) for r in summary["objects"]}
    (_, _, _), (_, y_edge, _) = summary["static"]["table_box_m"]
    x, _, z = scanned["object_0"]
    overhanging = {**scanned, "object_0": (x, y_edge + 0.005, z)}  # its centre past the edge

    def edits(*layouts) -> tuple[ConditionEdit, ...]:
        return tuple(ConditionEdit(tuple(PoseEdit(n, p) for n, p in c.items())) for c in layouts)

    config = PackageConfig(name="edge", previews=False, background=None)
    kept = run_stage(stage_inputs, replace(config, initial_conditions=edits(scanned, overhanging)))
    assert kept["initial_conditions"] == 1
    [dropped] = kept["unsettled_initial_conditions"]
    assert dropped["candidate"] == 1
    assert "object_0 still moves" in " ".join(dropped["problems"]), dropped
    with pytest.raises(ReconstructError, match=r"no initial condition settles.*object_0") as caught:
        run_stage(stage_inputs, replace(config, initial_conditions=edits(overhanging)))
    assert caught.value.field == "initial_conditions"


def test_the_table_top_is_painted_from_the_frames_when_the_align_stage_outlined_it(
    stage_inputs, tmp_path: Path
) -> None:
    import shutil

    from sim_env.splats import read_ply

    align = tmp_path / "align"
    shutil.copytree(stage_inputs["align"], align)
    summary = json.loads((align / "summary.json").read_text())
    outline = [[-0.05, -0.45], [0.85, -0.45], [0.85, 0.45], [-0.05, 0.45]]
    write_json(align / "summary.json", summary | {"table_outline": outline})
    inputs = {**stage_inputs, "align": align}
    config = PackageConfig(name="pictured", camera_size=(160, 90), background=None, previews=False)
    result = run_stage(inputs, config)
    package = publish_package(stage_inputs["work"] / "package", tmp_path / "pictured")
    table = package.spec.scene.table_texture
    assert package.spec.format_version == 2 and table.image == "textures/table.png"
    assert table.extent == pytest.approx((-0.05, -0.45, 0.85, 0.45))
    painted = result["table_texture"]
    assert painted["views"] == 8 and painted["size_px"] == [450, 450]
    assert 0.2 < painted["seen"] < 1.0  # the frames see the middle; the rest is filled
    built = read_ply(ObjectsOutputs.at(stage_inputs["objects"]).static_splats)
    kept = read_ply(package.path(package.spec.scene.splats))
    dropped = painted["dropped_gaussians"] + painted["edge_gaussians"]
    assert len(kept) == len(built) - dropped and painted["dropped_gaussians"] > 0
    x, y, z = kept.means.T
    over_table = (x > -0.05) & (x < 0.85) & (np.abs(y) < 0.45)
    assert not np.any(over_table & (z < 0.008))  # the table's own splats: the picture now
    env = TwinEnv(package, EnvConfig(image_size=(160, 90), cameras=(EXTERIOR_IMAGE,)))
    try:
        obs, _ = env.reset(options={"initial_condition": 0})
        assert obs[EXTERIOR_IMAGE].std() > 5  # the pictured table and the objects on it
    finally:
        env.close()
