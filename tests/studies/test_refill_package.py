"""Re-filling a built package's footprints: the bundled kitchen twin's smooth-fill discs are
found and replaced by copies of its table, and the copy is a valid package."""

from __future__ import annotations

from pathlib import Path

from benchmarks.fidelity.gap import Report
from benchmarks.fidelity.refill_package import refill, smooth_discs
from reconstruct.holefill import FillConfig
from sim_env.package import load_package, load_spec_checked
from sim_env.registry import resolve_env
from sim_env.splats.ply import read_ply


def test_the_kitchen_twins_smear_is_refilled_with_its_table(tmp_path: Path) -> None:
    twin = load_spec_checked(resolve_env("kitchen_twin"))
    before = read_ply(twin.path(twin.spec.scene.splats))
    report = Report()
    copy = refill("kitchen_twin", tmp_path / "refilled", FillConfig(), report)
    load_package(copy.root)
    figures = {f["metric"]: f["value"] for f in report.figures}
    assert figures["smooth_discs_removed"] == smooth_discs(before, FillConfig()).sum() > 5000
    assert figures["smooth_discs_after"] == 0 and figures["fill_gaussians"] > 1000
    after = read_ply(copy.path(copy.spec.scene.splats))
    assert not smooth_discs(after, FillConfig()).any()
