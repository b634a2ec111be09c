"""The locator proxy renders each twin package as it is: a colour map written into the package
(``env edit --colour-from``) changes what its locator sees, where the gap report's looks
replace the package's render settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.fidelity.locator_proxy import main, parse_twin, proxy
from sim_env.package import load_package
from sim_env.package.schema import SplatRenderSpec
from sim_env.registry import resolve_env
from studies.fidelity.calibrate import styled_twin

LADDER = Path(__file__).resolve().parents[2] / "benchmarks" / "fidelity" / "ladder-kitchen"


def test_a_twin_is_named_or_named_after_its_folder() -> None:
    assert parse_twin("matched=envs/kitchen_matched") == ("matched", "envs/kitchen_matched")
    assert parse_twin("envs/kitchen_matched") == ("kitchen_matched", "envs/kitchen_matched")


def test_two_twins_of_one_name_are_one_error(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--source", "kitchen_source", "--twin", "a/t", "--twin", "b/t"])
    assert "same name" in capsys.readouterr().err


@pytest.mark.slow  # ~40 s at load 8: three states in two twins
def test_the_twins_own_colour_map_is_what_the_locator_sees(tmp_path: Path) -> None:
    ladder = tmp_path / "ladder"
    ladder.mkdir()
    shutil.copytree(LADDER / "src-s3000", ladder / "src-s3000")
    twin = load_package(resolve_env("kitchen_twin"))
    dark = [[0.2, 0, 0, 0], [0, 0.2, 0, 0], [0, 0, 0.2, 0]]  # a camera four fifths too dark
    darkened = styled_twin(
        twin, SplatRenderSpec(colour={"exterior_image_1_left": dark}), tmp_path / "dark"
    )
    rows = proxy("kitchen_source", {"built": "kitchen_twin", "dark": str(darkened.root)}, ladder, 3)
    built = rows["built"]["locator"]["twin built"]["src-s3000"]
    dark_row = rows["dark"]["locator"]["twin dark"]["src-s3000"]
    assert built["red_carton"] != dark_row["red_carton"]
    assert rows["built"]["locator"]["source"] == rows["dark"]["locator"]["source"]
