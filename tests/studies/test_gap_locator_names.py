"""The gap report's locator section names the task's objects, whatever world it reports on
(it read ``red_box`` and ``tray`` by name, a KeyError on kitchen_source's red carton), and
another world's ladder is refused with the objects named."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fidelity.gap_figures import _locator
from benchmarks.fidelity.gap_locator import check_ladder, task_objects
from sim_env.package import load_spec_checked
from sim_env.registry import resolve_env

LOCATOR = {
    world: {
        bundle: {"red_carton": 2.0 + k, "crate": 1.0 + k, "grasp": 0.5 - 0.1 * k}
        for k, bundle in enumerate(("src-s60", "src-s400"))
    }
    for world in ("source", "twin as-built")
}


def test_the_task_objects_come_from_the_rows() -> None:
    assert task_objects(LOCATOR) == ("red_carton", "crate")


def test_the_locator_figure_is_drawn_for_another_worlds_objects(tmp_path: Path) -> None:
    _locator(tmp_path / "locator.png", LOCATOR)
    assert (tmp_path / "locator.png").stat().st_size > 1000


def test_another_worlds_ladder_is_refused_by_name() -> None:
    kitchen = load_spec_checked(resolve_env("kitchen_source"))
    check_ladder(Path("ladder-kitchen"), ("red_carton", "crate"), kitchen)
    with pytest.raises(SystemExit, match=r"ladder: its locators find red_box, tray.*no red_box"):
        check_ladder(Path("ladder"), ("red_box", "tray"), kitchen)
