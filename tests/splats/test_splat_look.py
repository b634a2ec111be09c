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
