"""Environment ids and paths resolve unambiguously: a folder named like a bundled environment
(an ``--out`` directory, a modified copy) never silently replaces it."""

from __future__ import annotations

import shutil

import pytest

from sim_env.errors import SimEnvError
from sim_env.registry import BUNDLED_DIR, resolve_env

BUNDLED = BUNDLED_DIR / "primitive_cube_bowl"


def test_a_bare_name_is_an_id_even_next_to_a_folder_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "primitive_cube_bowl").mkdir()  # e.g. `twinbench eval --out primitive_cube_bowl`
    assert resolve_env("primitive_cube_bowl") == BUNDLED.resolve()


def test_a_package_folder_named_like_an_id_is_ambiguous(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(BUNDLED, tmp_path / "primitive_cube_bowl")
    with pytest.raises(SimEnvError, match=r"both an environment id .* write \./primitive_cube"):
        resolve_env("primitive_cube_bowl")
    assert resolve_env("./primitive_cube_bowl").resolve() == tmp_path / "primitive_cube_bowl"
    assert resolve_env("twinbench/primitive_cube_bowl") == BUNDLED.resolve()


def test_paths_must_be_packages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SimEnvError, match=r"no env\.yaml in it"):
        resolve_env("empty")  # not an id, an existing folder: read as a path
    with pytest.raises(SimEnvError, match="no such environment package directory"):
        resolve_env("./missing")
    with pytest.raises(SimEnvError, match="unknown environment 'primitive_cub_bowl'; did you mean"):
        resolve_env("primitive_cub_bowl")


def test_render_refuses_a_directory_or_an_unknown_image_type(tmp_path, capsys):
    from twinbench_cli import main

    for output, message in (
        (tmp_path, "is a directory"),
        (tmp_path / "a.xyz", "unknown image type"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["env", "render", "primitive_cube_bowl", "-o", str(output)])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
