"""``twinbench env edit --base X,Y,YAW``: the robot base moves (upright, at its height) and the
world cameras keep their pose relative to it; the simulated robot stands there; a base in an
object is refused naming the bodies and changes nothing; bad flags name the flag."""

from __future__ import annotations

import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
from typer.testing import CliRunner

from sim_env.cli import condition_penetrations, env_app
from sim_env.errors import EnvPackageError
from sim_env.package import ENV_FILE, load_package
from sim_env.package.base import BasePlacement, parse_base
from sim_env.package.edit import PackageEdits, edit_package
from sim_env.package.merge import pose_matrix
from sim_env.registry import BUNDLED_DIR
from sim_env.robot import RobotNames
from sim_env.scene import build_scene


@pytest.fixture
def cube_bowl(tmp_path: Path) -> Path:
    target = tmp_path / "cube_bowl"
    shutil.copytree(BUNDLED_DIR / "primitive_cube_bowl", target)
    return target


def _matrix(pose) -> np.ndarray:
    return pose_matrix({"pos": pose.pos, "quat": pose.quat})


def test_base_moves_with_the_world_cameras(cube_bowl: Path) -> None:
    before = load_package(cube_bowl).spec
    base = BasePlacement(-0.06, 0.04, 12.0)
    package, _ = edit_package(
        cube_bowl, PackageEdits(base=base), penetrations=condition_penetrations
    )
    spec = package.spec
    np.testing.assert_allclose(_matrix(spec.robot.base_pose), base.matrix(0.0), atol=1e-9)
    for old, new in zip(before.cameras, spec.cameras, strict=True):
        if new.parent == "world":  # the same pose relative to the base
            relative_old = np.linalg.inv(_matrix(before.robot.base_pose)) @ _matrix(old.pose)
            relative_new = np.linalg.inv(_matrix(spec.robot.base_pose)) @ _matrix(new.pose)
            np.testing.assert_allclose(relative_new, relative_old, atol=1e-9)
            assert not np.allclose(new.pose.pos, old.pose.pos)
        else:  # on the gripper: it follows the arm
            assert new.pose == old.pose
    assert "base x=-0.06,y=0.04,yaw=12" in spec.provenance.notes
    scene = build_scene(package)
    data = mujoco.MjData(scene.model)
    mujoco.mj_forward(scene.model, data)
    link0 = scene.model.body(RobotNames().base_body).id
    np.testing.assert_allclose(data.xpos[link0], [-0.06, 0.04, 0.0], atol=1e-9)


def test_base_inside_an_object_is_refused(cube_bowl: Path) -> None:
    cube = load_package(cube_bowl).spec.initial_conditions[0].objects["cube"].pos
    text = (cube_bowl / ENV_FILE).read_text()
    with pytest.raises(EnvPackageError, match="interpenetrate") as error:
        edit_package(
            cube_bowl,
            PackageEdits(base=BasePlacement(cube[0], cube[1], 0.0)),
            penetrations=condition_penetrations,
        )
    assert "object/cube" in str(error.value) and "robot/" in str(error.value)
    assert (cube_bowl / ENV_FILE).read_text() == text


@pytest.mark.parametrize("text", ["1,2", "a,0,0", "nan,0,0", "0,0,0,0"])
def test_bad_base_names_the_flag(text: str) -> None:
    with pytest.raises(EnvPackageError, match="--base") as error:
        parse_base(text)
    assert "X,Y,YAW" in str(error.value) or "finite" in str(error.value)


def test_the_command_moves_the_base(cube_bowl: Path) -> None:
    result = CliRunner().invoke(env_app, ["edit", str(cube_bowl), "--base", "0.02,-0.03,-5"])
    assert result.exit_code == 0, result.output
    pose = load_package(cube_bowl).spec.robot.base_pose
    np.testing.assert_allclose(pose.pos, [0.02, -0.03, 0.0], atol=1e-12)
    np.testing.assert_allclose(_matrix(pose), BasePlacement(0.02, -0.03, -5.0).matrix(0.0))


def test_placement_of_a_pose_round_trips() -> None:
    placement = BasePlacement(0.3, -0.4, -135.0)
    again = BasePlacement.of(placement.matrix(0.1))
    np.testing.assert_allclose([again.x, again.y, again.yaw_deg], [0.3, -0.4, -135.0])
