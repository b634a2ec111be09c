"""``twinbench env edit --exterior-camera``: the exterior camera moves to an eye looking at a
target (level horizon, intrinsics kept) or back to DROID's pose beside the base wherever the
base stands; the command writes and names a picture of the new view; ``auto`` and a frame name
point to reconstruct (they need the capture's cameras); bad values name the flag and change
nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from sim_env.cli import condition_penetrations, env_app
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.errors import EnvPackageError
from sim_env.exterior_camera import ExteriorLook, parse_exterior
from sim_env.package import ENV_FILE, load_package
from sim_env.package.base import BasePlacement
from sim_env.package.edit import PackageEdits, edit_package
from sim_env.package.merge import pose_matrix
from sim_env.registry import BUNDLED_DIR


@pytest.fixture
def cube_bowl(tmp_path: Path) -> Path:
    target = tmp_path / "cube_bowl"
    shutil.copytree(BUNDLED_DIR / "primitive_cube_bowl", target)
    return target


def _exterior(package):
    return next(c for c in package.spec.cameras if c.name == EXTERIOR_IMAGE)


def _matrix(pose) -> np.ndarray:
    return pose_matrix({"pos": pose.pos, "quat": pose.quat})


def test_the_command_points_the_camera_and_writes_its_view(cube_bowl: Path) -> None:
    before = _exterior(load_package(cube_bowl))
    eye, target = np.array([0.2, -0.8, 0.7]), np.array([0.45, 0.1, 0.02])
    result = CliRunner().invoke(
        env_app, ["edit", str(cube_bowl), "--exterior-camera", "0.2,-0.8,0.7:0.45,0.1,0.02"]
    )
    assert result.exit_code == 0, result.output
    package = load_package(cube_bowl)
    camera = _exterior(package)
    pose = _matrix(camera.pose)
    np.testing.assert_allclose(pose[:3, 3], eye, atol=1e-12)
    forward = (target - eye) / np.linalg.norm(target - eye)
    np.testing.assert_allclose(pose[:3, 2], forward, atol=1e-9)  # OpenCV z: the viewing axis
    assert abs(pose[2, 0]) < 1e-9 and pose[2, 1] < 0  # level horizon, image y down
    assert (camera.width, camera.height, camera.fx, camera.cx) == (
        before.width,
        before.height,
        before.fx,
        before.cx,
    )
    assert "exterior camera 0.2,-0.8,0.7:0.45,0.1,0.02" in package.spec.provenance.notes
    preview = cube_bowl / "previews" / f"{EXTERIOR_IMAGE}.png"
    assert str(preview) in result.output.replace("\n", "")
    with Image.open(preview) as image:
        assert image.size == (camera.width, camera.height)
        assert np.asarray(image).std() > 5  # a picture, not a blank


def test_droid_returns_to_droids_pose_beside_a_moved_base(cube_bowl: Path) -> None:
    """The bundled package's exterior camera is DROID's (base at the origin): after the base
    moves and the camera is pointed elsewhere, ``droid`` restores the same pose relative to
    the base."""
    original = load_package(cube_bowl).spec
    relative = np.linalg.inv(_matrix(original.robot.base_pose)) @ _matrix(
        _exterior(load_package(cube_bowl)).pose
    )
    moved = PackageEdits(
        base=BasePlacement(-0.05, 0.06, 25.0),
        exterior=parse_exterior("0.1,-0.9,0.5:0.3,0,0"),
    )
    edit_package(cube_bowl, moved, penetrations=condition_penetrations)
    package, _ = edit_package(cube_bowl, PackageEdits(exterior=ExteriorLook("droid")))
    base = _matrix(package.spec.robot.base_pose)
    again = np.linalg.inv(base) @ _matrix(_exterior(package).pose)
    np.testing.assert_allclose(again, relative, atol=1e-9)


@pytest.mark.parametrize("text", ["auto", "00012.jpg"])
def test_capture_choices_point_to_reconstruct(text: str) -> None:
    with pytest.raises(EnvPackageError, match="twinbench reconstruct") as error:
        parse_exterior(text)
    assert error.value.field == "--exterior-camera" and text in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3:4,5", "EX,EY,EZ:TX,TY,TZ"),
        ("a,b,c:d,e,f", "EX,EY,EZ:TX,TY,TZ"),
        ("0.1,0.2,0.5:0.1,0.2,0.5", "must differ"),
    ],
)
def test_bad_values_name_the_flag(text: str, message: str) -> None:
    with pytest.raises(EnvPackageError, match=message) as error:
        parse_exterior(text)
    assert error.value.field == "--exterior-camera"


def test_looking_straight_down_is_refused_and_changes_nothing(cube_bowl: Path) -> None:
    text = (cube_bowl / ENV_FILE).read_text()
    result = CliRunner().invoke(
        env_app, ["edit", str(cube_bowl), "--exterior-camera", "0.4,0,0.8:0.4,0,0"]
    )
    assert result.exit_code != 0
    assert "straight up or down" in str(result.exception)
    assert (cube_bowl / ENV_FILE).read_text() == text
