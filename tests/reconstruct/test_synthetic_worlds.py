"""The two source worlds come from one description each (``reconstruct.synthetic.spec``): the
bundled packages are what their descriptions write, the second world is unlike the first
(measured), and the task can be done in it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reconstruct.synthetic import build as build_module
from reconstruct.synthetic.spec import KITCHEN, TABLETOP, WORLDS, Lighting, SourceObject
from reconstruct.synthetic.world import light_falloff, lit, object_texture, write_source_world
from sim_env.cli import env_app
from sim_env.package import EnvPackage, load_package
from sim_env.registry import resolve_env
from tests.reconstruct.test_synthetic import scripted_successes


def bundled(name: str) -> EnvPackage:
    return load_package(resolve_env(name))


def geometry_hashes(package: EnvPackage) -> dict[str, str]:
    """Hashes of the meshes and hulls: what decides placements and contacts. (Textures are
    left out: tabletop's crop photographs, whose decoding may change with the library.)"""
    files = package.spec.provenance.files
    return {k: v for k, v in files.items() if not k.startswith("textures/")}


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_each_bundled_world_is_what_its_description_writes(name: str, tmp_path: Path) -> None:
    written = write_source_world(tmp_path / name, WORLDS[name])
    package = bundled(name)
    assert geometry_hashes(written) == geometry_hashes(package)
    assert written.spec.initial_conditions == package.spec.initial_conditions
    assert written.spec.rubric == package.spec.rubric
    assert written.spec.instruction == package.spec.instruction


@pytest.mark.parametrize("name", ["kitchen_source", "kitchen_twin"])
def test_the_kitchen_worlds_validate_deeply(name: str) -> None:
    result = CliRunner().invoke(env_app, ["validate", "--deep", str(resolve_env(name))])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["kitchen_source", "kitchen_twin"])
def test_the_expert_puts_the_red_carton_in_the_crate(name: str) -> None:
    assert scripted_successes(resolve_env(name), *KITCHEN.task, conditions=3) == 3


def test_the_kitchen_twin_has_the_same_objects_task_and_placements() -> None:
    source, twin = bundled("kitchen_source"), bundled("kitchen_twin")
    assert [o.name for o in twin.spec.objects] == [o.name for o in source.spec.objects]
    assert twin.spec.rubric == source.spec.rubric
    pairs = zip(source.spec.initial_conditions, twin.spec.initial_conditions, strict=True)
    for ours, theirs in pairs:
        for name, pose in ours.objects.items():
            assert theirs.objects[name].pos[:2] == pytest.approx(pose.pos[:2], abs=1e-6)


def table_image(name: str) -> np.ndarray:
    package = bundled(name)
    texture = package.spec.scene.visual.texture
    return np.asarray(Image.open(package.path(texture)).convert("RGB"), np.float64)


def test_the_kitchen_table_is_lighter_cooler_and_lit_from_one_side() -> None:
    wood, cloth = table_image("tabletop_source"), table_image("kitchen_source")
    # measured: oak mean RGB (184, 137, 93), mean 138; cloth (163, 176, 175), mean 172
    assert cloth.mean() > wood.mean() + 20
    warmth = [float(np.mean(t[..., 0] - t[..., 2])) for t in (wood, cloth)]  # red - blue
    assert warmth[0] > 60 and warmth[1] < 0  # measured 91 and -12

    # daylight from +y (100 deg): the table's rows nearest +y are brighter than the far ones
    # (measured 1.27); the oak's light is even (1.00)
    def side_ratio(image: np.ndarray) -> float:
        return float(image[:100].mean() / image[-100:].mean())

    assert side_ratio(cloth) > 1.15
    assert abs(side_ratio(wood) - 1) < 0.05


def test_the_worlds_share_no_object_and_name_their_task() -> None:
    names = [{o.name for o in w.objects} for w in (TABLETOP, KITCHEN)]
    assert not names[0] & names[1]
    assert KITCHEN.instruction == "put the red carton in the crate"
    assert bundled("kitchen_source").spec.instruction == KITCHEN.instruction


def test_neutral_light_leaves_an_image_unchanged() -> None:
    image = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    assert np.array_equal(lit(image, Lighting()), image)
    warm = lit(image, Lighting(tint=(1.0, 0.5, 0.5)))
    assert np.array_equal(warm[..., 0], image[..., 0])
    assert np.all(warm[..., 2] <= image[..., 2] // 2 + 1)


def test_the_light_falls_off_away_from_its_side() -> None:
    xs = np.array([KITCHEN.table_x[0], KITCHEN.table_x[1]])
    near, far = (KITCHEN.table_x[0], KITCHEN.table_y[1]), (KITCHEN.table_x[1], KITCHEN.table_y[0])
    factor = light_falloff(KITCHEN, np.array([near[0], far[0]]), np.array([near[1], far[1]]))
    assert factor == pytest.approx([1.0, 1.0 - KITCHEN.lighting.falloff])
    assert light_falloff(TABLETOP, xs, xs) == pytest.approx([1.0, 1.0])


def test_an_unknown_finish_names_the_object() -> None:
    obj = SourceObject("bin", "tray", (0.2, 0.1, 0.05), 0.3, (0.5, 0.0, 0.0), finish="glass")
    with pytest.raises(ValueError, match="bin: unknown finish 'glass'"):
        object_texture(obj, np.random.default_rng(0))


def test_build_refuses_a_source_of_another_world(monkeypatch, capsys) -> None:
    source = str(resolve_env("tabletop_source"))
    monkeypatch.setattr(
        "sys.argv",
        ["build", "--source", source, "--world", "kitchen_source", "--out", "/nonexistent"],
    )
    with pytest.raises(SystemExit) as exc:
        build_module.main()
    assert exc.value.code == 2
    assert "is 'tabletop_source'" in capsys.readouterr().err
