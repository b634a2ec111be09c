"""The environment package loads when valid and fails with one clear error when broken."""

from __future__ import annotations

import re

import pytest
import trimesh
import yaml

from sim_env.errors import EnvPackageError, SplatFileError
from sim_env.package import load_package, save_package
from sim_env.scene import build_scene, check_initial_conditions


def _edit(root, change) -> None:
    data = yaml.safe_load((root / "env.yaml").read_text())
    change(data)
    (root / "env.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _resave(root, change) -> None:
    """Change env.yaml and re-record hashes, so only the intended problem remains."""
    data = yaml.safe_load((root / "env.yaml").read_text())
    change(data)
    save_package(data, root)


def test_valid_package_loads(primitive_package):
    package = load_package(primitive_package.root)
    assert package.spec.name == "primitive_cube_bowl"
    assert len(package.content_hash) == 64
    scene = build_scene(package)
    check_initial_conditions(scene, package)
    assert scene.model.nu == 8 and len(scene.objects) == 2
    assert scene.model.opt.impratio == 10.0  # the gripper's setting survives composition


def test_missing_file(package_copy):
    (package_copy / "hulls" / "cube_0.obj").unlink()
    with pytest.raises(EnvPackageError, match=r"cube_0\.obj.*does not exist"):
        load_package(package_copy)


def test_wrong_field_type(package_copy):
    _edit(package_copy, lambda d: d["objects"][0].update(mass="heavy"))
    with pytest.raises(EnvPackageError) as err:
        load_package(package_copy)
    assert err.value.field == "objects[0].mass"
    assert str(err.value).startswith(str(package_copy / "env.yaml"))


def test_unknown_field_and_version(package_copy):
    _edit(package_copy, lambda d: d.update(format_version=7))
    with pytest.raises(EnvPackageError, match="format version 7 is not supported"):
        load_package(package_copy)


def test_yaml_syntax_error_names_line(package_copy):
    (package_copy / "env.yaml").write_text("name: [unclosed\n")
    with pytest.raises(EnvPackageError, match="line"):
        load_package(package_copy)


def test_mesh_that_does_not_load(package_copy):
    (package_copy / "meshes" / "cube.obj").write_text("this is not a mesh\n")
    with pytest.raises(EnvPackageError, match=r"cube\.obj.*(no triangles|does not load)"):
        _resave_hashes(package_copy)


def _resave_hashes(root) -> None:
    _resave(root, lambda d: None)


def test_changed_file_fails_hash(package_copy):
    with open(package_copy / "meshes" / "cube.obj", "a") as f:
        f.write("# edited\n")
    with pytest.raises(EnvPackageError, match="sha256"):
        load_package(package_copy)


def test_non_convex_hull(package_copy):
    bowl = trimesh.util.concatenate(
        [trimesh.creation.box((0.1, 0.02, 0.05)), trimesh.creation.box((0.02, 0.1, 0.05))]
    )
    bowl.export(package_copy / "hulls" / "cube_0.obj")
    with pytest.raises(EnvPackageError, match="not convex"):
        _resave_hashes(package_copy)


def test_interpenetrating_initial_condition(package_copy):
    def overlap(d):
        d["initial_conditions"][0]["objects"]["cube"]["pos"] = d["initial_conditions"][0][
            "objects"
        ]["bowl"]["pos"][:2] + [0.0]

    _resave(package_copy, overlap)
    package = load_package(package_copy)
    with pytest.raises(EnvPackageError, match="interpenetrate") as err:
        check_initial_conditions(build_scene(package), package)
    assert err.value.field == "initial_conditions[0]"
    # the two bodies, how deep, and what to do
    assert re.search(r"object/cube and object/bowl interpenetrate by \d+\.\d mm", str(err.value))
    assert f"twinbench env edit {package_copy} --merge A,B=NEW' or '--drop NAME'" in str(err.value)


def test_an_object_sunk_into_the_table_names_the_table(package_copy):
    def sink(d):
        d["initial_conditions"][0]["objects"]["cube"]["pos"][2] = -0.02

    _resave(package_copy, sink)
    package = load_package(package_copy)
    with pytest.raises(EnvPackageError) as err:
        check_initial_conditions(build_scene(package), package)
    assert str(err.value).count("interpenetrate by 45.0 mm") == 1  # once, its deepest contact
    assert "scene/hull0 and object/cube" in str(err.value)  # the table, not "world"


def test_unknown_criterion_suggests(package_copy):
    _edit(package_copy, lambda d: d["rubric"]["criteria"][1].update(kind="lfit"))
    with pytest.raises(EnvPackageError, match="did you mean 'lift'"):
        load_package(package_copy)


def test_criterion_on_unknown_object(package_copy):
    _edit(package_copy, lambda d: d["rubric"]["criteria"][0]["params"].update(object="mug"))
    with pytest.raises(EnvPackageError, match="unknown object 'mug'"):
        load_package(package_copy)


def test_requirement_cycle(package_copy):
    _edit(package_copy, lambda d: d["rubric"]["criteria"][0].update(requires=["release"]))
    with pytest.raises(EnvPackageError, match="cycle"):
        load_package(package_copy)


def test_initial_condition_missing_object(package_copy):
    _edit(package_copy, lambda d: d["initial_conditions"][2]["objects"].pop("bowl"))
    with pytest.raises(EnvPackageError) as err:
        load_package(package_copy)
    assert err.value.field == "initial_conditions[2].objects"


def test_path_escaping_package(package_copy):
    _edit(package_copy, lambda d: d["scene"].update(collision_hulls=["../../etc/passwd"]))
    with pytest.raises(EnvPackageError, match="inside the package"):
        load_package(package_copy)


def test_corrupt_splat_file(package_copy):
    (package_copy / "splats").mkdir()
    (package_copy / "splats" / "cube.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 10\n"
    )

    def add_splats(d):
        d["objects"][0]["splats"] = "splats/cube.ply"

    with pytest.raises(SplatFileError, match=r"cube\.ply"):
        _resave(package_copy, add_splats)
