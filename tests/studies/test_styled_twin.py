"""A twin restyled for the gap report (``styled_twin``) is a valid package: its ``render``
look needs format version 2, whatever version the twin was written with."""

from __future__ import annotations

from pathlib import Path

from sim_env.package import load_package
from sim_env.package.schema import SplatRenderSpec
from sim_env.registry import resolve_env
from studies.fidelity.calibrate import styled_twin


def test_a_version_1_twin_restyled_loads_with_its_look(tmp_path: Path) -> None:
    twin = load_package(resolve_env("primitive_cube_bowl"))  # the bundled twins are v2
    assert twin.spec.format_version == 1
    styled = styled_twin(twin, SplatRenderSpec(antialiased=True), tmp_path / "styled")
    again = load_package(styled.root)
    assert again.spec.format_version == 2
    assert again.spec.render is not None and again.spec.render.antialiased
    assert [o.name for o in again.spec.objects] == [o.name for o in twin.spec.objects]
