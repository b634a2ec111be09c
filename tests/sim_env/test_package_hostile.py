"""Hostile env.yaml values that used to load and then broke the simulation (NaN masses,
infinite frictions, a control rate that never steps, an object at 1e30 m, alias bombs): each is
refused at load with one error naming the file and the field."""

from __future__ import annotations

import math

import pytest
import yaml

from sim_env.errors import EnvPackageError
from sim_env.package import load_package


def _set(path: str, value):
    """An edit that sets the dotted/indexed ``path`` (e.g. ``objects.0.friction.1``)."""

    def edit(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return edit


ROWS = [
    # (edit, field the error names, words in the message)
    (_set("objects.0.mass", math.inf), "objects[0].mass", "finite"),
    (_set("objects.0.mass", 1e9), "objects[0].mass", "less than or equal to 1000"),
    (_set("objects.0.friction", [math.nan, 0.005, 0.0001]), "objects[0].friction[0]", "finite"),
    (_set("objects.0.friction", [math.inf, 0.005, 0.0001]), "objects[0].friction[0]", "finite"),
    (_set("objects.0.friction", [1e300, 0.005, 0.0001]), "objects[0].friction", "sliding friction"),
    (_set("objects.0.friction", [-1.0, 0.005, 0.0001]), "objects[0].friction", "in [0, 10]"),
    (_set("scene.friction", [1.0, 5.0, 0.0001]), "scene.friction", "torsional friction"),
    (_set("initial_conditions.0.arm_qpos", [math.nan] * 7), "initial_conditions[0].arm_qpos[0]", "finite"),
    (_set("episode", {"control_hz": 1e-300}), "episode.control_hz", "greater than or equal to 1"),
    (_set("episode", {"horizon_steps": 10**12}), "episode.horizon_steps", "less than or equal"),
    (_set("cameras.0.cx", math.nan), "cameras[0].cx", "finite"),
    (_set("cameras.0.cx", 1e9), "cameras[0]", "far outside"),
    (_set("cameras.0.fx", math.inf), "cameras[0].fx", "finite"),
    (_set("initial_conditions.0.objects.cube.pos", [1e30, 0.0, 0.0]), "initial_conditions[0].objects.cube.pos", "within 100 m"),
    (_set("objects.0.visual.rgba", [2.0, 0.0, 0.0, 1.0]), "objects[0].visual.rgba", "in [0, 1]"),
    (_set("rubric.criteria.0.params.threshold", math.nan), "rubric.criteria[0].params.threshold", "in [0, 100]"),
    (_set("rubric.criteria.0.params.threshold", -0.1), "rubric.criteria[0].params.threshold", "in [0, 100]"),
    (_set("rubric.criteria.2.params.fraction", math.inf), "rubric.criteria[2].params.fraction", "in [0, 1]"),
    (_set("format_version", True), "format_version", "not supported"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "field", "words"), ROWS, ids=[row[1] for row in ROWS])
def test_hostile_value_is_refused_naming_the_field(package_copy, edit, field, words):
    file = package_copy / "env.yaml"
    data = yaml.safe_load(file.read_text())
    edit(data)
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(EnvPackageError) as err:
        load_package(package_copy)
    assert err.value.field == field and err.value.file == str(file)
    assert words in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_alias_bomb_is_refused_before_it_expands(package_copy):
    file = package_copy / "env.yaml"
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    file.write_text("\n".join(levels) + "\n")  # 9**9 strings once expanded
    with pytest.raises(EnvPackageError, match=r"anchors .* are not allowed") as err:
        load_package(package_copy)
    assert len(str(err.value)) < 300


def test_non_utf8_env_yaml_is_one_clear_error(package_copy):
    file = package_copy / "env.yaml"
    file.write_bytes(b"format_version: 1\nname: caf\xe9\n")
    with pytest.raises(EnvPackageError, match=r"not UTF-8 text \(byte 27 is 0xe9\)"):
        load_package(package_copy)


def test_deeply_nested_yaml_is_one_clear_error(package_copy):
    """[[[[...]]]] 100,000 deep used to exhaust Python's stack in the YAML composer."""
    (package_copy / "env.yaml").write_bytes(b"x: " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    with pytest.raises(EnvPackageError, match=r"line 1, column 67: nested deeper than 64 levels"):
        load_package(package_copy)
