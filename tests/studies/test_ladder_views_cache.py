"""The ladder's rendered views are cached per pair of worlds: a --work folder shared by the
ladders of two source worlds gave the second ladder the first world's views (the cache was
named by seed and count alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import benchmarks.fidelity.build_ladder as ladder
from sim_env.package import load_package
from sim_env.registry import resolve_env
from studies.locator.net import Views


def rendered(package, conditions, locator, progress=None) -> Views:
    """One tiny view, its labels marking which world drew it."""
    mark = 1.0 if package.name == "kitchen_source" else 0.0
    return Views(np.zeros((1, 2, 2, 3), np.uint8), np.full((1, 2, 2), mark), np.zeros((1, 2)))


def test_a_shared_work_folder_keeps_each_worlds_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ladder, "render_views", rendered)
    monkeypatch.setattr(ladder, "placements", lambda pair, count, seed: [[None]])
    config = ladder.LadderConfig(source="", twin=None, out=tmp_path, work=tmp_path / "work")
    views = [
        ladder.world_views(
            config, {"source": load_package(resolve_env(name))}, "source", 1, 1, "train"
        )
        for name in ("tabletop_source", "kitchen_source", "tabletop_source")
    ]
    assert [float(v.xy.max()) for v in views] == [0.0, 1.0, 0.0]
    assert len(list((tmp_path / "work").iterdir())) == 2
