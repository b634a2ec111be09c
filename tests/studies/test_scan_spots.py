"""The scan-spot groups of ``benchmarks.fidelity.scan_spots``."""

from __future__ import annotations

import numpy as np

from benchmarks.fidelity.scan_spots import spot_groups


def test_groups_split_by_the_nearest_scan_spot() -> None:
    scan = {"red_box": np.array([0.45, -0.17]), "tray": np.array([0.60, 0.17])}
    xy = np.array([[0.46, -0.17], [0.61, 0.16], [0.50, 0.00], [0.45, -0.125]])
    groups = spot_groups(xy, scan, "red_box")
    assert groups["own-spot"].tolist() == [True, False, False, False]
    assert groups["other-objects-spot"].tolist() == [False, True, False, False]
    assert groups["elsewhere"].tolist() == [False, False, True, True]
    assert sum(g.astype(int) for g in groups.values()).tolist() == [1, 1, 1, 1]
