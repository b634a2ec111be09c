"""Re-filling a built package's footprints: a twin whose footprints were filled with smooth
discs (as the kitchen twin once was: 7,450 of them) gets copies of its own table there, and
the copy is a valid package that says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fidelity.gap import Report
from benchmarks.fidelity.refill_package import refill, smooth_discs
from reconstruct.holefill import FillConfig
from sim_env.package import load_package, load_spec_checked
from sim_env.registry import resolve_env
from sim_env.splats.ply import read_ply


def test_a_smeared_twin_is_refilled_with_its_table(tmp_path: Path) -> None:
    # the bundled twins draw their tables as pictures; the Buddha scan's table is splats
    smeared = refill("buddha_tabletop", tmp_path / "smeared", FillConfig(copy=False), Report())
    discs = smooth_discs(read_ply(smeared.path(smeared.spec.scene.splats)), FillConfig())
    assert discs.sum() > 1500  # the statue's footprint, smoothly filled

    report = Report()
    copy = refill(str(smeared.root), tmp_path / "refilled", FillConfig(), report)
    load_package(copy.root)
    figures = {f["metric"]: f["value"] for f in report.figures}
    assert figures["smooth_discs_removed"] == discs.sum()
    assert figures["smooth_discs_after"] == 0 and figures["fill_gaussians"] > discs.sum()
    assert not smooth_discs(read_ply(copy.path(copy.spec.scene.splats)), FillConfig()).any()
    assert f"refilled: {discs.sum()} smooth-fill discs" in copy.spec.provenance.notes
    assert not (tmp_path / "refilled.refilling").exists()


def test_a_twin_whose_table_is_a_picture_has_nothing_to_refill(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="its table is a picture"):
        refill("kitchen_twin", tmp_path / "out", FillConfig(), Report())


@pytest.mark.parametrize("twin", ["kitchen_twin", "tabletop_twin"])
def test_the_bundled_twins_hold_no_smooth_fill(twin: str) -> None:
    package = load_spec_checked(resolve_env(twin))
    assert not smooth_discs(read_ply(package.path(package.spec.scene.splats)), FillConfig()).any()
