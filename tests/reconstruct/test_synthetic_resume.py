"""A synthetic build in a kept work folder films the world again only when the scan would
differ (other phone settings, another world), so a rebuild after a change to a later stage
(the objects' fill) resumes from the pipeline's cached stages."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from reconstruct.synthetic.build import BUNDLED, SCAN_KEY, scan_is_current, scan_key
from reconstruct.synthetic.scan import ScanConfig
from sim_env.package import load_package


def test_a_kept_scan_is_reused_only_for_the_same_phone_and_world(tmp_path: Path) -> None:
    source, other = (
        load_package(BUNDLED / "tabletop_source"),
        load_package(BUNDLED / "tabletop_twin"),
    )
    scan = ScanConfig()
    assert not scan_is_current(tmp_path, scan, source)  # nothing filmed yet
    (tmp_path / "scan.mp4").write_bytes(b"video")
    (tmp_path / "scan_truth.json").write_text("{}")
    assert not scan_is_current(tmp_path, scan, source)  # filmed before keys were recorded
    (tmp_path / SCAN_KEY).write_text(json.dumps(scan_key(scan, source)))
    assert scan_is_current(tmp_path, scan, source)
    assert not scan_is_current(tmp_path, replace(scan, duration_s=7.0), source)
    assert not scan_is_current(tmp_path, scan, other)
    (tmp_path / SCAN_KEY).write_text("{not json")
    assert not scan_is_current(tmp_path, scan, source)
    (tmp_path / SCAN_KEY).write_text(json.dumps(scan_key(scan, source)))
    (tmp_path / "scan.mp4").unlink()
    assert not scan_is_current(tmp_path, scan, source)


def test_the_bundled_twin_was_trained_from_the_builds_own_splat_start() -> None:
    """The splats stage's defaults may change for real photos (20k table-plane seeds); the
    synthetic build pins what the bundled twin was built with, so a rebuild is comparable."""
    from dataclasses import asdict

    from reconstruct.synthetic.build import BuildConfig

    record = json.loads((BUNDLED / "tabletop_twin" / "build.json").read_text())
    assert record["config"]["splats"]["init"] == asdict(BuildConfig().splats.init)
