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

from benchmarks.fidelity.refine_objects import (
    phone_views,
    placed_objects,
    static_scene,
    write_refined,
)
from reconstruct.errors import ReconstructError
from reconstruct.refine_objects import (
    RefineConfig,
    activated,
    crop_windows,
    refine_from_frames,
    refine_objects,
    render_crop,
)
from reconstruct.synthetic.scan import ScanConfig
from reconstruct.train import losses
from reconstruct.views import View
from sim_env.package import load_package, load_spec_checked
from sim_env.registry import resolve_env
from sim_env.splats.ply import read_ply


@pytest.fixture(scope="module")
def world():
    twin = load_spec_checked(resolve_env("tabletop_twin"))
    source = load_spec_checked(resolve_env("tabletop_source"))
    record = json.loads((twin.root / "build.json").read_text())["config"]["scan"]
    return source, twin, ScanConfig.from_record(record)


def pixels(views, f: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k, m = views.Ks[f], views.viewmats[f].numpy()
    cam = points @ m[:3, :3].T + m[:3, 3]
    return k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 2], k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2]


def test_a_small_object_gets_one_crop_centred_on_it(world) -> None:
    source, twin, scan = world
    views = phone_views(source, scan, np.array([2.0, 20.0]))
    red_box = placed_objects(twin).points()[0]
    windows = crop_windows([red_box], views, 128)
    assert sorted(f for f, _, _ in windows) == [0, 1]
    for f, x0, y0 in windows:
        u, v = pixels(views, f, red_box)
        assert u.max() - u.min() < 100  # smaller than the crop
        mid_u, mid_v = (
            (np.percentile(u, 2) + np.percentile(u, 98)) / 2,
            (np.percentile(v, 2) + np.percentile(v, 98)) / 2,
        )
        assert abs(mid_u - x0 - 64) <= 1 and abs(mid_v - y0 - 64) <= 1


def test_a_large_object_is_tiled_over_its_extent(world) -> None:
    source, _, scan = world
    views = phone_views(source, scan, np.array([20.0]))
    x, y = np.meshgrid(np.linspace(0.2, 0.8, 41), np.linspace(-0.3, 0.3, 41))
    sheet = np.c_[x.ravel(), y.ravel(), np.full(x.size, 0.01)]  # 60 cm square on the table
    windows = crop_windows([sheet], views, 128)
    u, v = pixels(views, 0, sheet)
    lo_u, hi_u = np.percentile(u, [2, 98])
    lo_v, hi_v = np.percentile(v, [2, 98])
    assert hi_u - lo_u > 200 and len(windows) >= 4
    covered = np.zeros((360, 480), bool)
    for _, x0, y0 in windows:
        covered[y0 : y0 + 128, x0 : x0 + 128] = True
    box = covered[int(max(lo_v, 0)) : int(min(hi_v, 360)), int(max(lo_u, 0)) : int(min(hi_u, 480))]
    assert box.all()


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
    window = crop_windows(objects.points(), views, 64)[0]
    static = static_scene(twin)

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
        crop_windows(placed_objects(twin).points(), views, 512)
    with pytest.raises(ReconstructError, match="no frame shows an object"):
        static = read_ply(twin.path(twin.spec.scene.splats))
        refine_objects(static, static, np.zeros(len(static), int), views, [], RefineConfig(steps=1))


def test_a_refinement_that_the_held_out_frames_disown_is_not_kept(world) -> None:
    source, twin, scan = world
    views = phone_views(source, scan, np.array([20.0, 20.5]))
    frames = []
    for name, image, viewmat, k in zip(
        ("inverted", "true"), views.images, views.viewmats, views.Ks, strict=True
    ):
        picture = 1.0 - image.numpy() if name == "inverted" else image.numpy()
        frames.append(View(name, picture, k, viewmat.numpy().astype(float)))
    objects = placed_objects(twin)
    bodies = [objects.gaussians.subset(np.nonzero(objects.labels == i)[0]) for i in range(4)]
    static = static_scene(twin)  # the table picture behind the crops
    config = RefineConfig(steps=40, crop=64)
    parts, summary = refine_from_frames(static, bodies, frames, {"true"}, config)
    assert summary["heldout_crop_psnr_after"] < summary["heldout_crop_psnr_before"]
    assert summary["kept"].startswith("as trained")
    assert all(part is body for part, body in zip(parts, bodies, strict=True))


def test_a_twin_that_draws_its_table_as_a_picture_has_it_behind_the_crops(world) -> None:
    _, twin, _ = world
    assert twin.spec.scene.table_texture is not None
    splats = read_ply(twin.path(twin.spec.scene.splats))
    behind = static_scene(twin)
    table = behind.subset(np.arange(len(splats), len(behind)))
    assert len(table) > 10000 and np.allclose(
        table.means[:, 2], twin.spec.scene.table_texture.height
    )
    x_min, y_min, x_max, y_max = twin.spec.scene.table_texture.extent
    inside = (table.means[:, :2] > (x_min, y_min)) & (table.means[:, :2] < (x_max, y_max))
    assert inside.all()
    assert 0.2 < table.colors.mean() < 0.9  # the oak's colours, not the picture's empty border
