"""Integrated gradients of a locator (``studies.locator.attribution``) and the report that
splits a twin's lean by region (``benchmarks.fidelity.gap_attribution``): exact on a linear
locator, complete on a trained-shape one, regions that cover the frame once, and the report
on the bundled tabletop worlds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from benchmarks.fidelity import gap_attribution
from sim_env.images import ImageSize
from studies.locator.attribution import integrated_gradients, located_along
from studies.locator.net import LocatorConfig, Standardisation, build_net, unit_images

H, W = 9, 16


def _standardisation(objects: int = 2) -> Standardisation:
    return Standardisation(
        image_mean=np.array([0.4, 0.5, 0.3]), image_std=np.array([0.2, 0.25, 0.3]),
        target_mean=np.zeros(4 * objects), target_std=np.full(4 * objects, 0.1),
    )  # fmt: skip


def _images(seed: int, n: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, H, W, 3), dtype=np.uint8)


def test_on_a_linear_locator_each_pixel_gets_its_change_times_its_weight():
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * H * W, 8))
    st = _standardisation()
    base, target = _images(1), _images(2)
    direction = np.array([0.6, 0.8])
    attr = integrated_gradients(linear, st, base, target, 1, direction, steps=3)
    weight = linear[1].weight.detach().numpy()[4:6].T @ direction  # object 1's x, y
    weight = weight.reshape(3, H, W) / (st.image_std[:, None, None] + 1e-6) * 0.1
    delta = (unit_images(target) - unit_images(base)).numpy()
    assert np.allclose(attr, (delta * weight).sum(axis=1), atol=1e-6)


def test_the_shares_add_up_to_the_change_on_a_conv_locator():
    torch.manual_seed(0)
    config = LocatorConfig(image_size=ImageSize(W, H), objects=("a", "b"))
    net = build_net(config).eval()
    st = _standardisation()
    base, target = _images(3), _images(4)
    direction = np.array([1.0, 0.0])
    attr = integrated_gradients(net, st, base, target, 0, direction, steps=64)
    with torch.no_grad():
        change = (
            located_along(net, st, unit_images(target), 0, direction)
            - located_along(net, st, unit_images(base), 0, direction)
        ).numpy()
    assert attr.sum(axis=(1, 2)) == pytest.approx(change, rel=0.02, abs=1e-5)


def test_the_regions_cover_the_frame_once():
    rng = np.random.default_rng(0)
    mask = lambda: rng.random((H, W)) < 0.3  # noqa: E731
    masks = SimpleNamespace(
        objects={"box": mask(), "tray": mask()},
        footprint_of={"box": mask(), "tray": mask()},
        near=mask(),
    )
    depth = np.where(rng.random((H, W)) < 0.8, 1.0, np.inf)
    frame = SimpleNamespace(source_robot=mask(), twin_robot=mask(), source_depth=depth)
    parts = gap_attribution.regions(masks, frame)
    assert list(parts)[:3] == ["robot", "object box", "object tray"]
    assert "footprint tray" in parts
    assert np.array_equal(np.sum(list(parts.values()), axis=0), np.ones((H, W)))


def test_the_report_on_the_bundled_tabletop(tmp_path, capsys):
    gap_attribution.main(
        ["--states", "2", "--bundles", "src-s1000", "--steps", "4", "--out", str(tmp_path)]
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    figures = {
        r["metric"]: r["value"] for r in rows if r["case"] == "attribution/src-s1000/red_box"
    }
    shares = [v for k, v in figures.items() if k not in ("lean", "lean x", "lean y", "total")]
    assert "footprint tray" in figures and figures["lean"] > 0
    assert sum(shares) == pytest.approx(figures["total"], abs=1e-3)  # printed to 4 places
    assert np.hypot(figures["lean x"], figures["lean y"]) == pytest.approx(
        figures["lean"], abs=1e-3
    )
    text = (tmp_path / "attribution.md").read_text()
    assert "| src-s1000 |" in text and "footprint red_box" in text
    assert (tmp_path / "attribution.png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        gap_attribution.main(["--states", "1", "--bundles", "src-s1000", "--object", "mug"])
