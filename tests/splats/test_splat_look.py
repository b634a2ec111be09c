"""The package's opt-in splat look: per-camera colour maps and gsplat's antialiased mode."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import load_package
from sim_env.package.loader import save_package
from sim_env.package.schema import SplatRenderSpec
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.render.colour import IDENTITY, apply_colour, fit_colour
from sim_env.render.config import HybridConfig
from sim_env.render.supersample import box_average_layers
from sim_env.scene import apply_initial_condition
from sim_env.splats import rasterize

CAMERA = "exterior_image_1_left"
MAP = np.array([[0.8, 0.1, 0.0, 0.05], [0.0, 0.7, 0.0, 0.02], [0.05, 0.0, 0.9, 0.0]])


def test_fit_recovers_an_affine_map():
    rng = np.random.default_rng(0)
    twin = rng.uniform(0, 1, (5000, 3))
    real = twin @ MAP[:, :3].T + MAP[:, 3]
    np.testing.assert_allclose(fit_colour(twin, real), MAP, atol=2e-3)
    np.testing.assert_allclose(fit_colour(twin, twin), IDENTITY, atol=1e-9)


def test_fit_needs_pixels():
    with pytest.raises(ValueError, match=">= 4 matching pixels"):
        fit_colour(np.zeros((3, 3)), np.zeros((3, 3)))


def test_map_of_a_render_is_the_render_of_mapped_colours(camera_factory, scene_factory):
    """Applied to a premultiplied render it equals rendering every Gaussian's mapped colour."""
    scene = scene_factory(0, 300, camera_factory(), None)
    rgb, _, alpha = rasterize(**scene, backend="cpu")
    mapped_colours = np.clip(scene["colors"] @ MAP[:, :3].T + MAP[:, 3], 0, None)
    expected, _, _ = rasterize(**{**scene, "colors": mapped_colours}, backend="cpu")
    np.testing.assert_allclose(apply_colour(rgb, alpha, MAP), expected, atol=1e-5)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """A splatted primitive package, plain and with a render section."""
    cfg = PrimitiveSceneConfig(splat_density=3.0, n_initial_conditions=1)
    plain = write_primitive_package(tmp_path_factory.mktemp("look") / "pkg", cfg)
    look = SplatRenderSpec(antialiased=True, colour={CAMERA: MAP.tolist()})
    styled_root = tmp_path_factory.mktemp("look") / "styled"
    styled_root.mkdir()
    for rel in plain.spec.referenced_files():
        target = styled_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(plain.path(rel).read_bytes())
    styled = save_package(
        plain.spec.model_copy(update={"render": look, "format_version": 2}), styled_root
    )
    smooth_root = tmp_path_factory.mktemp("look") / "smooth"
    for rel in plain.spec.referenced_files():
        (smooth_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (smooth_root / rel).write_bytes(plain.path(rel).read_bytes())
    smooth = SplatRenderSpec(smoothing_3d=True)
    smoothed = save_package(
        plain.spec.model_copy(update={"render": smooth, "format_version": 2}), smooth_root
    )
    return plain, styled, smoothed


def _render(package, **hybrid) -> np.ndarray:
    env = TwinEnv(package, EnvConfig(image_size=(160, 90), hybrid=HybridConfig(**hybrid)))
    try:
        apply_initial_condition(env.scene, env.data, package.spec.initial_conditions[0])
        return env.renderer.render(env.data, CAMERA, (160, 90)).astype(float)
    finally:
        env.close()


def test_a_package_opts_in_and_a_config_opts_out(packages):
    plain, styled, _ = packages
    assert load_package(styled.root).spec.render.antialiased
    base = _render(plain)
    assert np.array_equal(_render(styled, antialiased=False, colour_match=False), base)
    assert np.array_equal(_render(plain, antialiased=True), _render(styled, colour_match=False))
    graded = _render(styled)
    assert graded.mean() < base.mean() - 5  # the map darkens (gains 0.7-0.9) the splats
    assert not np.array_equal(_render(styled, colour_match=False), base)  # antialiased


def test_colour_map_must_name_a_camera(packages):
    plain, _, _ = packages
    bad = plain.spec.model_dump(mode="json")
    bad["render"] = {"colour": {"nope": MAP.tolist()}}
    bad["format_version"] = 2
    with pytest.raises(ValueError, match=r"render\.colour names cameras the package lacks"):
        type(plain.spec).model_validate(bad)


def test_render_needs_format_version_2(packages):
    """A version 1 reader does not know the section: a version 1 file may not carry it."""
    _, styled, _ = packages
    data = styled.spec.model_dump(mode="json")
    assert type(styled.spec).model_validate(data).render is not None
    with pytest.raises(ValueError, match="needs format_version 2"):
        type(styled.spec).model_validate({**data, "format_version": 1})


def test_a_package_opts_into_3d_smoothing(packages):
    plain, _, smoothed = packages
    base, smooth = _render(plain), _render(smoothed)
    # the primitive's splats are flat discs: the filter thickens each into a fainter slab
    # (mip-splatting keeps the 3D integral), so its surfaces thin out seen face on
    assert smooth.mean() < base.mean() - 5


def _layers(package, size=(160, 90), **hybrid):
    env = TwinEnv(package, EnvConfig(image_size=(160, 90), hybrid=HybridConfig(**hybrid)))
    try:
        apply_initial_condition(env.scene, env.data, package.spec.initial_conditions[0])
        return env.renderer.splat_layers(env.data, CAMERA, size)
    finally:
        env.close()


def test_supersampled_splats_are_the_box_average_of_a_finer_render(packages):
    plain, _, _ = packages
    fine = _layers(plain, (320, 180), lod_pixels=None)
    averaged = box_average_layers(*fine, 2)
    drawn = _layers(plain, supersample=2, lod_pixels=None)
    for ours, expected in zip(drawn, averaged, strict=True):
        assert ours.shape[:2] == (90, 160)
        np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert not np.allclose(drawn[0], _layers(plain, lod_pixels=None)[0], atol=1e-3)


def test_box_average_weights_depth_by_alpha():
    rgb = np.zeros((2, 4, 3), np.float32)
    depth = np.array([[1.0, 3.0, 2.0, 0.0], [1.0, 3.0, 0.0, 0.0]], np.float32)
    alpha = np.array([[1.0, 0.5, 1.0, 0.0], [1.0, 0.5, 0.0, 0.0]], np.float32)
    _, mean_depth, mean_alpha = box_average_layers(rgb, depth, alpha, 2)
    np.testing.assert_allclose(mean_alpha, [[0.75, 0.25]])
    np.testing.assert_allclose(mean_depth, [[(1 + 1 + 1.5 + 1.5) / 3.0, 2.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="not a multiple of 3"):
        box_average_layers(rgb, depth, alpha, 3)


def test_an_antialiased_package_draws_every_gaussian(packages):
    """The level-of-detail merge conserves coverage as the classic mode draws it, so an
    antialiased look renders exact whatever ``lod_pixels`` says."""
    _, styled, _ = packages
    np.testing.assert_array_equal(_layers(styled)[0], _layers(styled, lod_pixels=None)[0])
    plain_lod = _layers(styled, antialiased=False)[0]
    assert not np.array_equal(plain_lod, _layers(styled, antialiased=False, lod_pixels=None)[0])


@pytest.mark.parametrize("factor", [0, 5])
def test_supersample_is_bounded(packages, factor):
    plain, _, _ = packages
    data = plain.spec.model_dump(mode="json")
    data.update(format_version=2, render={"supersample": factor})
    with pytest.raises(ValueError, match="supersample"):
        type(plain.spec).model_validate(data)
