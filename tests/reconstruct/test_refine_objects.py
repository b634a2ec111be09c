"""Objects refined on full-resolution crops: crops where the objects are, objects written back
in their own frames, optimisation that fits the crops it sees, and configs that say what is
wrong (``reconstruct.refine_objects``; the bundled twin's phone frames from
``benchmarks.fidelity.refine_objects``)."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.fidelity.refine_objects import phone_views, placed_objects, write_refined
from reconstruct.errors import ReconstructError
from reconstruct.refine_objects import (
    RefineConfig,
    activated,
    crop_windows,
    refine_objects,
    render_crop,
)
from reconstruct.synthetic.scan import ScanConfig
from reconstruct.train import losses
from sim_env.package import load_package, load_spec_checked
from sim_env.registry import resolve_env
from sim_env.splats.ply import read_ply


@pytest.fixture(scope="module")
def world():
    twin = load_spec_checked(resolve_env("tabletop_twin"))
    source = load_spec_checked(resolve_env("tabletop_source"))
    record = json.loads((twin.root / "build.json").read_text())["config"]["scan"]
    return source, twin, ScanConfig.from_record(record)


def test_a_crop_is_centred_on_the_object_it_is_cut_for(world) -> None:
    source, twin, scan = world
    views = phone_views(source, scan, np.array([2.0, 20.0]))
    centres = placed_objects(twin).centres()
    windows = crop_windows(centres, views, 128)
    assert windows, "the phone sees the objects"
    for f, x0, y0 in windows:
        k, m = views.Ks[f], views.viewmats[f].numpy()
        h, w = views.images[f].shape[:2]
        cam = centres @ m[:3, :3].T + m[:3, 3]
        u, v = k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 2], k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2]
        offsets = np.maximum(np.abs(u - x0 - 64), np.abs(v - y0 - 64))
        inside = 0 < x0 < w - 128 and 0 < y0 < h - 128  # not pushed in from an edge
        assert offsets.min() <= 1.0 or not inside


def test_unrefined_objects_are_written_back_as_they_were(world, tmp_path: Path) -> None:
    _, twin, _ = world
    copy = write_refined(twin, placed_objects(twin), tmp_path / "copy")
    load_package(copy.root)
    assert filecmp.cmp(twin.path(twin.spec.scene.splats), copy.path(copy.spec.scene.splats), False)
    for obj in twin.spec.objects:
        a, b = read_ply(twin.path(obj.splats)), read_ply(copy.path(obj.splats))
        np.testing.assert_allclose(b.means, a.means, atol=1e-6)  # pose and inverse, metres
        np.testing.assert_allclose(b.sh, a.sh, atol=1e-5)  # SH rotated there and back


def test_refinement_fits_the_crop_it_trains_on(world) -> None:
    source, twin, scan = world
    views = phone_views(source, scan, np.array([20.0]))
    objects = placed_objects(twin)
    window = crop_windows(objects.centres(), views, 64)[0]
    static = read_ply(twin.path(twin.spec.scene.splats))

    def loss(gaussians) -> float:
        with torch.no_grad():
            render, _ = render_crop(activated(static), activated(gaussians), views, window, 64)
            return float(losses.photometric(render, views.target(window, 64), 0.2))

    config = RefineConfig(steps=60, crop=64)
    refined = refine_objects(static, objects.gaussians, objects.labels, views, [window], config)
    assert len(refined.losses) == 60 and len(refined.labels) == len(refined.gaussians)
    assert set(np.unique(refined.labels)) <= set(range(len(objects.names)))
    assert loss(refined.gaussians) < 0.8 * loss(objects.gaussians)


def test_settings_and_frames_that_cannot_work_say_so(world) -> None:
    with pytest.raises(ReconstructError, match=r"objects\.refine\.crop"):
        RefineConfig(crop=8)
    with pytest.raises(ReconstructError, match=r"objects\.refine\.max_size"):
        RefineConfig(max_size=0)
    source, twin, scan = world
    views = phone_views(source, scan, np.array([2.0]))
    with pytest.raises(ReconstructError, match="smaller than a 512 px crop"):
        crop_windows(placed_objects(twin).centres(), views, 512)
    with pytest.raises(ReconstructError, match="no frame shows an object"):
        static = read_ply(twin.path(twin.spec.scene.splats))
        refine_objects(static, static, np.zeros(len(static), int), views, [], RefineConfig(steps=1))
