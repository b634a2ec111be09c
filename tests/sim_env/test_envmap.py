"""The background dome: panorama geometry, ray lookup, compositing, and the package format's
``scene.background`` (version 2) validated at load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from sim_env.cli import env_app
from sim_env.envmap import (
    EnvironmentMap,
    EnvmapFileError,
    background_image,
    camera_rays,
    dome_directions,
    lookup,
    read_envmap,
    texel_coordinates,
    texel_directions,
    write_envmap,
)
from sim_env.errors import EnvPackageError
from sim_env.package import load_package, save_package
from sim_env.render.background import Background
from sim_env.render.composite import composite


def test_texel_directions_and_coordinates_are_inverse() -> None:
    dirs = texel_directions(8)
    assert dirs.shape == (8, 16, 3) and np.allclose(np.linalg.norm(dirs, axis=-1), 1.0)
    x, y = texel_coordinates(dirs, 8)
    i, j = np.meshgrid(np.arange(16) + 0.5, np.arange(8) + 0.5)
    assert np.allclose(x, i) and np.allclose(y, j)
    # Row 0 looks up, longitude 0 is +x, pi / 2 is +y.
    assert dirs[0, :, 2].min() > 0.9
    x, y = texel_coordinates(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 8)
    assert np.allclose(x, [8.0, 12.0]) and np.allclose(y, [4.0, 4.0])


def test_a_ray_from_the_centre_reads_its_own_direction_and_off_centre_rays_hit_the_dome() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(size=(50, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    centre = np.array([0.3, -0.2, 0.1])
    assert np.allclose(dome_directions(np.broadcast_to(centre, d.shape), d, centre, 2.0), d)
    origins = centre + rng.uniform(-0.5, 0.5, size=(50, 3))
    out = dome_directions(origins, d, centre, 2.0)
    hit = centre + 2.0 * out
    t = np.sum((hit - origins) * d, axis=1)
    assert (t > 0).all() and np.allclose(origins + t[:, None] * d, hit, atol=1e-9)


def _panorama(height: int) -> np.ndarray:
    dirs = texel_directions(height)
    return (0.5 + 0.5 * dirs).astype(np.float32)  # colour = direction: smooth, distinct


def test_lookup_at_the_centre_returns_the_texels() -> None:
    rgb = _panorama(16)
    env = EnvironmentMap(rgb, np.ones(rgb.shape[:2], np.float32), np.zeros(3), 5.0)
    dirs = texel_directions(16)
    got = lookup(env, np.zeros_like(dirs), dirs)
    assert np.allclose(got[..., :3], rgb, atol=1e-5) and np.allclose(got[..., 3], 1.0)


def test_camera_rays_follow_the_rasterizer_pixel_convention() -> None:
    k = np.array([[50.0, 0, 20.0], [0, 50.0, 10.0], [0, 0, 1]])
    view = np.eye(4)
    view[:3, 3] = [0.0, 0.0, 2.0]  # the camera sits at z = -2 looking down +z
    origin, dirs = camera_rays(view, k, 40, 20)
    assert np.allclose(origin, [0, 0, -2])
    centre = (dirs[9, 19] + dirs[10, 20]) / 2  # the principal point lies between 4 pixels
    assert np.allclose(centre / np.linalg.norm(centre), [0, 0, 1], atol=1e-9)


def test_compositing_shows_the_background_where_the_splats_are_transparent() -> None:
    h, w = 4, 6
    alpha = np.zeros((h, w), np.float32)
    alpha[:, 3:] = 1.0
    splat = np.zeros((h, w, 3), np.float32)
    splat[:, 3:] = [0.2, 0.4, 0.6]  # premultiplied, alpha 1
    background = np.random.default_rng(1).uniform(size=(h, w, 3)).astype(np.float32)
    no_mesh = np.full((h, w), np.inf)
    out = composite(
        splat, np.ones((h, w)), alpha, np.zeros((h, w, 3), np.uint8), no_mesh, background
    )
    assert np.abs(out[:, :3] / 255.0 - background[:, :3]).max() <= 0.5 / 255 + 1e-6
    assert np.abs(out[:, 3:] / 255.0 - [0.2, 0.4, 0.6]).max() <= 0.5 / 255 + 1e-6


def test_the_panorama_file_round_trips_and_bad_files_are_refused(tmp_path: Path) -> None:
    rgb = _panorama(16)
    seen = np.zeros(rgb.shape[:2], np.float32)
    seen[4:10] = 1.0
    write_envmap(EnvironmentMap(rgb, seen, np.zeros(3), 3.0), tmp_path / "dome.png")
    back = read_envmap(tmp_path / "dome.png", np.ones(3), 3.0)
    assert np.abs(back.rgb - rgb).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(back.seen, seen) and np.allclose(back.centre, 1.0)
    Image.new("RGB", (30, 16)).save(tmp_path / "wide.png")
    Image.new("L", (32, 16)).save(tmp_path / "grey.png")
    Image.new("RGB", (32, 16)).save(tmp_path / "dome.jpg", format="JPEG")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    for name, message in (
        ("wide.png", "2:1"),
        ("grey.png", "RGB or RGBA"),
        ("dome.jpg", "must be a PNG"),
        ("junk.png", "does not load"),
    ):
        with pytest.raises(EnvmapFileError, match=message):
            read_envmap(tmp_path / name, np.zeros(3), 1.0)


def _with_background(package_copy: Path, image: Image.Image | None, version: int = 2) -> dict:
    data = yaml.safe_load((package_copy / "env.yaml").read_text())
    (package_copy / "backgrounds").mkdir(exist_ok=True)
    if image is not None:
        image.save(package_copy / "backgrounds/dome.png")
    data["format_version"] = version
    data["scene"]["background"] = {
        "image": "backgrounds/dome.png",
        "centre": [0.4, 0.0, 0.0],
        "radius": 3.0,
    }
    return data


def test_a_package_with_a_background_loads_and_renders_it(package_copy: Path) -> None:
    rgb = _panorama(32)
    env = EnvironmentMap(rgb, np.ones(rgb.shape[:2], np.float32), np.zeros(3), 3.0)
    write_envmap(env, package_copy / "dome.png")
    image = Image.open(package_copy / "dome.png")
    package = save_package(_with_background(package_copy, image), package_copy)
    assert package.spec.format_version == 2
    assert "backgrounds/dome.png" in package.spec.provenance.files
    background = Background(package, (0.0, 0.0, 0.0))
    view, k = np.eye(4), np.array([[20.0, 0, 8.0], [0, 20.0, 8.0], [0, 0, 1]])
    view[:3, 3] = [-0.4, 0.0, 0.0]  # the camera at the dome's centre
    behind = background.behind(view, k, 16, 16, fixed=("cam", 16, 16))
    expected = background_image(package_background(package), view, k, 16, 16)[..., :3]
    assert behind.shape == (16, 16, 3) and np.allclose(behind, expected)
    assert background.behind(view, k, 16, 16, fixed=("cam", 16, 16)) is behind  # cached
    result = CliRunner().invoke(env_app, ["validate", str(package_copy)])
    assert result.exit_code == 0 and "format v2" in result.output, result.output


def package_background(package) -> EnvironmentMap:
    spec = package.spec.scene.background
    return read_envmap(package.path(spec.image), np.asarray(spec.centre), spec.radius)


def test_a_package_without_a_background_keeps_the_flat_colour(package_copy: Path) -> None:
    package = load_package(package_copy)
    assert package.spec.format_version == 1 and package.spec.scene.background is None
    behind = Background(package, (0.1, 0.2, 0.3)).behind(np.eye(4), np.eye(3), 4, 4)
    assert np.allclose(behind, [0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    ("image", "version", "field", "message"),
    [
        (Image.new("RGB", (30, 16)), 2, "scene.background.image", "2:1"),
        (None, 2, None, "does not exist"),
        (Image.new("RGB", (32, 16)), 1, "scene", "needs format_version 2"),
        (Image.new("RGB", (32, 16)), 3, "format_version", "reads versions 1 and 2"),
    ],
)
def test_a_bad_background_is_one_error_naming_the_file_and_field(
    package_copy: Path, image, version: int, field: str | None, message: str
) -> None:
    data = _with_background(package_copy, image, version)
    with pytest.raises(EnvPackageError, match=message) as caught:
        save_package(data, package_copy)
    text = str(caught.value)
    assert "env.yaml" in text or "dome.png" in text
    if field:
        assert field in text
