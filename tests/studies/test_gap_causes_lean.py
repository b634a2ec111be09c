"""The causes table's lean: what a locator gets wrong the same way in every state, apart from
its scatter (session 21: the tabletop's source-only locators read the twin's red box 1-1.5 cm
to +x, +y while its pixels sit where they should)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.fidelity import gap_causes
from benchmarks.fidelity.gap_locator import lean


def test_a_shared_offset_leans_and_scatter_does_not():
    shifted = np.tile([[[0.01, 0.0], [0.0, -0.02]]], (4, 1, 1))  # [N=4, M=2, 2] m
    assert lean(shifted) == pytest.approx([0.01, 0.02])
    scatter = np.array([[[0.03, 0.0]], [[-0.03, 0.0]], [[0.0, 0.03]], [[0.0, -0.03]]])
    assert lean(scatter) == pytest.approx([0.0])


def test_each_look_gets_median_error_located_fraction_and_lean(monkeypatch):
    offsets = {
        # red box 1 cm +x in every state, the tray scattered 2 cm around its place
        "twin": np.array([[[0.01, 0.0], [0.02, 0.0]], [[0.01, 0.0], [-0.02, 0.0]]]),
        # red box 3 cm off in opposite directions: not located, no lean
        "source": np.array([[[0.03, 0.0], [0.0, 0.0]], [[-0.03, 0.0], [0.0, 0.0]]]),
    }
    monkeypatch.setattr(gap_causes, "xy_offsets", lambda policy, images, truth: images)
    policy = SimpleNamespace(locator=SimpleNamespace(objects=("red_box", "tray")))
    xy = [{"red_box": np.zeros(2), "tray": np.ones(2)}] * 2
    result = gap_causes.locate(offsets, xy, {"src-a": policy})
    twin, source = result["twin"]["src-a"], result["source"]["src-a"]
    assert twin["red_box"] == pytest.approx(1.0) and twin["tray"] == pytest.approx(2.0)
    assert twin["located"] == 1.0 and source["located"] == 0.0
    assert twin["red_box lean"] == pytest.approx(1.0) and twin["tray lean"] == pytest.approx(0.0)
    assert source["red_box lean"] == pytest.approx(0.0)

    args = argparse.Namespace(
        source="s", twin="t", states=2, ladder="ladder", bundles="src-*", size="160x90"
    )
    text = gap_causes.markdown(result, args, 1.0)
    assert "| twin | 1.0 / 2.0, 1.00 | 1.00 |" in text  # medians and located, lean kept out
    assert "## The lean" in text and "| twin | 1.0 / 0.0 |" in text
