"""``twinbench env edit``: each edit on a copy of the bundled ``primitive_cube_bowl`` (and of a
package with distractor blocks), saved with new hashes and validated; refused edits name the
object and the field and leave the package as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from sim_env.cli import condition_penetrations, env_app
from sim_env.errors import EnvPackageError
from sim_env.package import ENV_FILE, load_package
from sim_env.package.edit import Merge, PackageEdits, Task, edit_package, parse_edits
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.registry import BUNDLED_DIR
from sim_env.splats import read_ply
from sim_env.splats.rotations import quat_to_matrix


@pytest.fixture
def cube_bowl(tmp_path: Path) -> Path:
    target = tmp_path / "cube_bowl"
    shutil.copytree(BUNDLED_DIR / "primitive_cube_bowl", target)
    return target


@pytest.fixture(scope="module")
def blocks(tmp_path_factory) -> Path:
    """Cube, bowl and two blocks, with splats."""
    root = tmp_path_factory.mktemp("blocks") / "blocks"
    write_primitive_package(root, PrimitiveSceneConfig(distractors=2, splat_density=2.0))
    return root


def criteria(package) -> list[tuple[str, dict, list[str]]]:
    return [(c.name, c.params, c.requires) for c in package.spec.rubric.criteria]


def test_rename_carries_through_the_rubric_and_the_conditions(cube_bowl: Path) -> None:
    package, _ = edit_package(
        cube_bowl, parse_edits(rename=["cube=mug"]), penetrations=condition_penetrations
    )
    assert [o.name for o in package.spec.objects] == ["mug", "bowl"]
    assert package.spec.instruction == "put the mug in the bowl"
    assert all(set(ic.objects) == {"mug", "bowl"} for ic in package.spec.initial_conditions)
    assert [name for name, _, _ in criteria(package)] == [
        "reach_mug", "lift_mug", "mug_in_bowl", "release",
    ]  # fmt: skip
    assert criteria(package)[2][1]["object"] == "mug"
    assert criteria(package)[3][2] == ["mug_in_bowl"]
    assert load_package(cube_bowl).content_hash == package.content_hash  # hashes on disk


def test_mass_friction_and_task_rewrite_the_package(cube_bowl: Path) -> None:
    edits = parse_edits(
        mass=["bowl=0.45"],
        friction=["cube=0.6", "scene=0.8"],
        task="object=bowl,target=cube",
        instruction="put the bowl on the cube",
    )
    package, dropped = edit_package(cube_bowl, edits, penetrations=condition_penetrations)
    assert dropped == 0
    bowl = package.spec.objects[1]
    assert bowl.mass == 0.45 and package.spec.objects[0].friction == (0.6, 0.01, 0.0001)
    assert package.spec.scene.friction[0] == 0.8
    assert package.spec.instruction == "put the bowl on the cube"
    names = [name for name, _, _ in criteria(package)]
    assert names == ["reach_bowl", "lift_bowl", "bowl_in_cube", "release"]
    assert criteria(package)[2][1] == {
        "object": "bowl", "container": "cube", "fraction": 0.8, "max_gap": 0.03,
    }  # fmt: skip
    assert criteria(package)[1][2] == ["reach_bowl"]
    assert "edited: mass bowl=0.45" in package.spec.provenance.notes


def test_merge_makes_one_body_in_the_first_parts_frame(blocks: Path, tmp_path: Path) -> None:
    before = load_package(blocks)
    out = tmp_path / "merged"
    merge = PackageEdits(merge=(Merge(("block0", "block1"), "pair"),))
    package, dropped = edit_package(blocks, merge, out, penetrations=condition_penetrations)
    # where the blocks stood apart the pair would overlap others: those conditions go
    assert 0 < dropped < len(before.spec.initial_conditions)
    assert len(package.spec.initial_conditions) + dropped == len(before.spec.initial_conditions)
    assert [o.name for o in package.spec.objects] == ["cube", "bowl", "pair"]
    pair = package.spec.objects[2]
    assert pair.mass == pytest.approx(0.2) and len(pair.collision_hulls) == 2
    # block1's hull, moved into block0's frame, lies where block1 stood in condition 0
    scanned = before.spec.initial_conditions[0].objects
    pose0, pose1 = scanned["block0"], scanned["block1"]
    hull = trimesh.load(out / pair.collision_hulls[1], force="mesh")
    world = hull.vertices @ quat_to_matrix(np.array([pose0.quat]))[0].T + pose0.pos
    assert np.allclose(world.mean(0), np.asarray(pose1.pos), atol=1e-6)
    splats = read_ply(out / pair.splats)
    parts = [read_ply(blocks / o.splats) for o in before.spec.objects[2:]]
    assert len(splats) == sum(len(p) for p in parts) > 0
    assert package.spec.initial_conditions[0].objects["pair"] == scanned["block0"]
    assert load_package(blocks).content_hash == before.content_hash  # the source is untouched


def test_drop_removes_the_object_and_only_its_own_files(blocks: Path, tmp_path: Path) -> None:
    out = tmp_path / "dropped"
    package, _ = edit_package(
        blocks, parse_edits(drop=["block1"]), out, penetrations=condition_penetrations
    )
    assert [o.name for o in package.spec.objects] == ["cube", "bowl", "block0"]
    assert all("block1" not in ic.objects for ic in package.spec.initial_conditions)
    assert (out / "hulls/block_0.obj").is_file()  # still block0's
    assert not (out / "splats/block1.ply").exists()


def test_refused_edits_name_the_object_and_the_field_and_change_nothing(cube_bowl: Path) -> None:
    original = (cube_bowl / ENV_FILE).read_bytes()
    cases = [
        (parse_edits(rename=["cbe=mug"]), r"--rename cbe: unknown object 'cbe'; did you mean 'cube'"),
        (parse_edits(drop=["bowl"]), r"rubric.criteria\[2\].params.container: .*'bowl'.*--task"),
        (parse_edits(merge=["cube,bowl=pair"]), r"rubric.criteria\[2\].params: .*'pair' in itself"),
        (parse_edits(mass=["bowl=2000"]), r"objects\[1\].mass: object 'bowl': mass must be in"),
        (parse_edits(task="object=cube,target=bwl"), r"did you mean 'bowl'"),
        (parse_edits(rename=["cube=bowl"]), r"already is an object named 'bowl'"),
    ]  # fmt: skip
    for edits, message in cases:
        with pytest.raises(EnvPackageError, match=message):
            edit_package(cube_bowl, edits, penetrations=condition_penetrations)
        assert (cube_bowl / ENV_FILE).read_bytes() == original
    assert sorted(p.name for p in cube_bowl.parent.iterdir()) == ["cube_bowl"]  # no leftovers
    with pytest.raises(EnvPackageError, match="--mass: expected NAME=KG"):
        parse_edits(mass=["bowl"])


def test_an_interpenetrating_edit_names_the_two_bodies(cube_bowl: Path) -> None:
    # a package whose first condition puts the cube into the bowl's wall: the edit is refused
    spec = (cube_bowl / ENV_FILE).read_text()
    spec = spec.replace("pos: [0.5287249982930846, 0.191431866466618, 0.0251]", "pos: [0.5831707108243065, -0.21879505992513484, 0.0251]")  # fmt: skip
    (cube_bowl / ENV_FILE).write_text(spec)
    with pytest.raises(EnvPackageError, match=r"object/cube and object/bowl interpenetrate"):
        edit_package(cube_bowl, parse_edits(mass=["cube=0.3"]), penetrations=condition_penetrations)


def test_the_command_edits_a_copy_of_a_bundled_package(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    runner = CliRunner()
    refused = runner.invoke(env_app, ["edit", "primitive_cube_bowl", "--rename", "cube=mug"])
    assert refused.exit_code != 0 and "--output" in str(refused.exception)
    result = runner.invoke(
        env_app,
        [
            "edit",
            "primitive_cube_bowl",
            "-o",
            str(out),
            "--rename",
            "cube=mug",
            "--mass",
            "mug=0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "objects: mug, bowl" in result.output
    assert load_package(out).spec.objects[0].mass == 0.1
    assert Task("a", "b") != Task("a", "c")
