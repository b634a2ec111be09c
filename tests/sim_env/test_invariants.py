"""sim_env's package invariants: every bundled package holds them, and each check catches the
package that breaks it. (tests/conftest.py runs the same checks on every package a test builds.)"""

from __future__ import annotations

import shutil

import pytest
import yaml

from sim_env.invariants import InvariantConfig, invariant_violations
from sim_env.package import ENV_FILE, load_package, save_package
from sim_env.registry import list_envs


@pytest.mark.parametrize("entry", [e for e in list_envs() if e.bundled], ids=lambda e: e.id)
def test_every_bundled_package_holds_the_invariants(entry):
    assert invariant_violations(load_package(entry.path)) == []


def _edited(primitive_package, tmp_path, edit):
    """A copy of the primitive package with ``edit`` applied to its env.yaml, re-saved."""
    root = tmp_path / "edited"
    shutil.copytree(primitive_package.root, root)
    spec = yaml.safe_load((root / ENV_FILE).read_text())
    edit(spec)
    spec["initial_conditions"] = spec["initial_conditions"][:2]
    return save_package(spec, root)


@pytest.mark.unstable_world
def test_a_rubric_reached_at_reset_is_caught(primitive_package, tmp_path):
    def reach_anywhere(spec):
        spec["rubric"]["criteria"][0]["params"]["threshold"] = 10.0

    problems = invariant_violations(_edited(primitive_package, tmp_path, reach_anywhere))
    assert problems == [
        f"initial_conditions[{i}]: the rubric scores ['reach_cube'] reached at reset"
        for i in range(2)
    ]


@pytest.mark.unstable_world
def test_a_camera_that_sees_nothing_is_caught(primitive_package, tmp_path):
    def look_away(spec):
        spec["cameras"][0]["pose"]["pos"] = [0.0, 0.0, -50.0]  # far below the floor

    problems = invariant_violations(_edited(primitive_package, tmp_path, look_away))
    assert len(problems) == 1 and problems[0].startswith(
        "camera exterior_image_1_left: renders one flat colour"
    )


@pytest.mark.unstable_world
def test_an_object_still_falling_is_caught(primitive_package, tmp_path):
    def drop(spec):
        for condition in spec["initial_conditions"]:
            condition["objects"]["cube"]["pos"][2] += 0.3

    package = _edited(primitive_package, tmp_path, drop)
    assert invariant_violations(package) == []  # after 1 s it has landed and come to rest
    problems = invariant_violations(package, InvariantConfig(settle_steps=1))
    assert [p.split(":")[0] for p in problems] == [f"initial_conditions[{i}]" for i in range(2)]
    assert all("cube still moves at" in p for p in problems)


@pytest.mark.unstable_world
def test_validate_deep_reports_a_broken_invariant_in_one_line(primitive_package, tmp_path, capsys):
    from twinbench_cli import main

    def reach_anywhere(spec):
        spec["rubric"]["criteria"][0]["params"]["threshold"] = 10.0

    package = _edited(primitive_package, tmp_path, reach_anywhere)
    with pytest.raises(SystemExit) as shallow:
        main(["env", "validate", str(package.root)])
    assert shallow.value.code == 0  # the files and start states are fine
    with pytest.raises(SystemExit) as deep:
        main(["env", "validate", str(package.root), "--deep"])
    assert deep.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"twinbench: error: {package.root}: initial_conditions[0]: the rubric")
