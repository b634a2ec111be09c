"""Level of detail: fewer Gaussians, nearly the same picture, large ones untouched."""

import numpy as np
import trimesh

from sim_env.splats import (
    GaussianSet,
    LodConfig,
    MeshSampling,
    concat,
    gaussians_from_mesh,
    merge_for_camera,
    rasterize,
)


def _scene():
    box = trimesh.creation.box(extents=(0.3, 0.3, 0.1))
    box.visual.face_colors = np.array(
        [[220, 40, 40, 255], [40, 200, 60, 255], [40, 60, 220, 255]] * 4, np.uint8
    )
    dense = gaussians_from_mesh(box, MeshSampling(count=30_000, seed=0))
    big = GaussianSet.from_colors(
        [[0.0, 0.0, 0.2]], [[1, 0, 0, 0]], [[0.05, 0.05, 0.05]], [0.9], [[1, 1, 1]]
    )
    return concat([dense, big])


def _camera(width=160, height=120):
    eye, target = np.array([0.5, -0.6, 0.5]), np.zeros(3)
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    rot = np.stack([right, np.cross(fwd, right), fwd])
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = rot, -rot @ eye
    f = 0.5 * width / np.tan(np.radians(30))
    return view, np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]]), width, height


def _render(gs, view, K, w, h):
    return rasterize(gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view, K, w, h)


def test_merging_shrinks_the_set_and_keeps_the_picture(psnr_fn):
    gs = _scene()
    view, K, w, h = _camera()
    lod = merge_for_camera(gs, view, K, LodConfig(cell_pixels=2.0))
    assert len(lod) < len(gs) / 5
    exact, merged = _render(gs, view, K, w, h), _render(lod, view, K, w, h)
    assert psnr_fn(merged[0], exact[0]) >= 27
    assert psnr_fn(merged[2], exact[2]) >= 27
    finer = merge_for_camera(gs, view, K, LodConfig(cell_pixels=1.0))
    assert len(lod) < len(finer) < len(gs) / 2
    assert psnr_fn(_render(finer, view, K, w, h)[0], exact[0]) >= 33


def test_large_gaussians_are_kept_and_merged_moments_are_sane():
    gs = _scene()
    view, K, _, _ = _camera()
    lod = merge_for_camera(gs, view, K)
    kept = np.flatnonzero(np.all(lod.scales == gs.scales[-1], axis=1))
    assert len(kept) == 1
    np.testing.assert_array_equal(lod.means[kept[0]], gs.means[-1])
    assert np.all((lod.opacities > 0) & (lod.opacities <= 0.95 + 1e-6))
    np.testing.assert_allclose(np.linalg.norm(lod.quats, axis=1), 1, atol=1e-6)
    lo, hi = gs.means.min(0) - 1e-6, gs.means.max(0) + 1e-6
    assert np.all((lod.means >= lo) & (lod.means <= hi))


def test_nothing_to_merge_returns_the_same_set():
    gs = _scene().subset(np.array([-1]))
    view, K, _, _ = _camera()
    assert merge_for_camera(gs, view, K) is gs
