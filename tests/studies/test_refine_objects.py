"""The objects' refinement measurement: crops where the objects are, objects written back in
their own frames, and optimisation that fits the crops it sees."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.fidelity.refine_objects import (
    RefineConfig,
    crop_windows,
    phone_frames,
    placed_objects,
    refine_objects,
    render_crop,
    write_refined,
)
from reconstruct.synthetic.scan import ScanConfig
from reconstruct.train import losses
from reconstruct.train.params import SplatParams
from sim_env.package import load_package, load_spec_checked
from sim_env.registry import resolve_env
from sim_env.splats.ply import read_ply


@pytest.fixture(scope="module")
def world():
    twin = load_spec_checked(resolve_env("tabletop_twin"))
    source = load_spec_checked(resolve_env("tabletop_source"))
    scan = ScanConfig.from_record(
        json.loads((twin.root / "build.json").read_text())["config"]["scan"]
    )
    return source, twin, scan


def test_a_crop_is_centred_on_the_object_it_is_cut_for(world) -> None:
    source, twin, scan = world
    frames = phone_frames(source, scan, np.array([2.0, 20.0]))
    objects = placed_objects(twin)
    windows = crop_windows(objects, frames, 128)
    assert windows, "the phone sees the objects"
    k, (w, h) = frames.K, frames.size
    centres = [objects.gaussians.means[objects.labels == i].mean(0) for i in range(4)]
    for f, x0, y0 in windows:
        m = frames.viewmats[f].numpy()
        pixels = []
        for c in centres:
            p = m[:3, :3] @ c + m[:3, 3]
            pixels.append((k[0, 0] * p[0] / p[2] + k[0, 2], k[1, 1] * p[1] / p[2] + k[1, 2]))
        # some object's centre is at the crop's middle unless the crop was pushed inside the frame
        offsets = [max(abs(u - x0 - 64), abs(v - y0 - 64)) for u, v in pixels]
        inside = 0 < x0 < w - 128 and 0 < y0 < h - 128
        assert min(offsets) <= 1.0 or not inside


def test_unrefined_objects_are_written_back_as_they_were(world, tmp_path: Path) -> None:
    _, twin, _ = world
    objects = placed_objects(twin)
    copy = write_refined(twin, objects, tmp_path / "copy")
    load_package(copy.root)
    assert filecmp.cmp(twin.path(twin.spec.scene.splats), copy.path(copy.spec.scene.splats), False)
    for obj in twin.spec.objects:
        a, b = read_ply(twin.path(obj.splats)), read_ply(copy.path(obj.splats))
        np.testing.assert_allclose(b.means, a.means, atol=1e-6)  # pose and inverse, metres
        np.testing.assert_allclose(b.sh, a.sh, atol=1e-5)  # SH rotated there and back


def test_refinement_fits_the_crop_it_trains_on(world) -> None:
    source, twin, scan = world
    frames = phone_frames(source, scan, np.array([20.0]))
    objects = placed_objects(twin)
    window = crop_windows(objects, frames, 64)[0]
    scene = read_ply(twin.path(twin.spec.scene.splats))
    frozen = SplatParams.from_gaussians(scene, 1).activated()
    f, x0, y0 = window
    target = frames.images[f][y0 : y0 + 64, x0 : x0 + 64]

    def loss(placed) -> float:
        with torch.no_grad():
            moving = SplatParams.from_gaussians(placed.gaussians, 1).activated()
            render, _ = render_crop(frozen, moving, frames, window, 64)
            return float(losses.photometric(render[..., :3], target, 0.2))

    config = RefineConfig(steps=60, crop=64)
    refined, history = refine_objects(scene, objects, frames, [window], config)
    assert len(history) == 60
    assert loss(refined) < 0.8 * loss(objects)
