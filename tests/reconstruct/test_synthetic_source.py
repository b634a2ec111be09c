"""The build films the source world it is given, as it is: a twin is compared with the bundled
world, and rewriting that world first may change it (its textures crop photographs)."""

from __future__ import annotations

from pathlib import Path

from reconstruct.synthetic.build import source_world
from reconstruct.synthetic.world import SourceWorldConfig
from sim_env.package import load_package
from sim_env.registry import resolve_env


def test_an_existing_source_world_is_filmed_unchanged(tmp_path: Path) -> None:
    bundled = Path(resolve_env("tabletop_source"))
    before = load_package(bundled).content_hash
    package = source_world(SourceWorldConfig(), tmp_path, bundled)
    assert package.root.resolve() == bundled.resolve()
    assert package.content_hash == before == load_package(bundled).content_hash
    assert not any(tmp_path.iterdir())  # nothing written
