"""The gap report's locator section names the task's objects, whatever world it reports on
(it read ``red_box`` and ``tray`` by name, a KeyError on kitchen_source's red carton)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fidelity.gap_figures import _locator
from benchmarks.fidelity.gap_locator import task_objects

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
