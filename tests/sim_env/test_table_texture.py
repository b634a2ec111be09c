"""``scene.table_texture``: the table top drawn from a picture projected from the scan's frames,
under the splats, with mipmapped reads (``sim_env.render.table_texture``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import EnvPackageError
from sim_env.package import load_package, save_package
from sim_env.registry import resolve_env
from sim_env.render.config import HybridConfig
from sim_env.render.table_texture import TablePicture, TableTexture, over_table

CAMERA = "exterior_image_1_left"
EXTENT = (0.0, 0.0, 0.4, 0.2)  # x_min, y_min, x_max, y_max, metres


def _down(height: float, focal: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A camera ``height`` above (0.2, 0.1), looking straight down: viewmat, K."""
    view = np.eye(4)
    view[:3, :3] = np.diag([1.0, -1.0, -1.0])  # camera x = world x, camera y = -world y
    view[:3, 3] = -view[:3, :3] @ np.array([0.2, 0.1, height])
    k = np.array([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]])
    return view, k


def _checker(rows: int, cols: int) -> np.ndarray:
    """[rows, cols, 4] black and white squares, all table."""
    y, x = np.mgrid[0:rows, 0:cols]
    grey = ((x + y) % 2).astype(np.float32)[..., None]
    return np.concatenate([np.repeat(grey, 3, axis=2), np.ones_like(grey)], axis=2)


def _opaque(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.ones(rgb.shape[:2] + (1,), np.float32)], axis=2)


def test_a_camera_at_one_texel_per_pixel_reads_the_picture_as_it_is():
    picture = np.random.default_rng(0).random((20, 40, 3)).astype(np.float32)
    texture = TableTexture(_opaque(picture), EXTENT, 0.0)
    # 40 px across 0.4 m at 1 m: focal 100 px; the image covers exactly the extent
    view, k = _down(1.0, 100.0, 40)
    k[1, 2] = 10.0
    drawn = texture.draw(view, k, 40, 20)
    np.testing.assert_allclose(drawn.alpha, 1.0)
    np.testing.assert_allclose(drawn.rgb, picture, atol=1e-5)  # row 0 at y_max, as stored
    np.testing.assert_allclose(drawn.depth, 1.0, atol=1e-6)


def test_a_far_camera_reads_the_average_not_an_alias():
    texture = TableTexture(_checker(64, 128), EXTENT, 0.0)
    view, k = _down(1.0, 10.0, 8)  # 8 px over 0.8 m: 16 texels per pixel
    drawn = texture.draw(view, k, 8, 8)
    hit = drawn.alpha > 0.99
    assert 0 < hit.sum() < hit.size  # the picture and the floor beyond it
    np.testing.assert_allclose(drawn.rgb[hit], 0.5, atol=0.02)
    beyond = drawn.alpha == 0
    assert beyond.any() and np.all(drawn.rgb[beyond] == 0) and np.all(np.isinf(drawn.depth[beyond]))


def test_where_the_picture_is_transparent_there_is_no_table():
    picture = _checker(20, 40)
    picture[:, 20:, 3] = 0.0  # the table ends at x = 0.2
    texture = TableTexture(picture, EXTENT, 0.0)
    view, k = _down(1.0, 100.0, 40)
    k[1, 2] = 10.0
    drawn = texture.draw(view, k, 40, 20)
    assert np.all(drawn.alpha[:, :19] > 0.99) and np.all(drawn.alpha[:, 21:] < 0.01)
    assert np.all(np.isinf(drawn.depth[:, 21:]))
    under = np.array([[0.1, 0.1, -0.01], [0.3, 0.1, -0.01]])
    assert texture.hides(under).tolist() == [True, False]


def test_a_world_fixed_camera_draws_once():
    texture = TableTexture(_checker(4, 8), EXTENT, 0.0)
    view, k = _down(1.0, 10.0, 8)
    first = texture.draw(view, k, 8, 8, fixed=("cam", 8, 8))
    assert texture.draw(view, k, 8, 8, fixed=("cam", 8, 8)) is first


def test_splats_blend_over_the_picture_and_what_lies_under_it_is_hidden():
    table = TablePicture(
        rgb=np.full((1, 3, 3), 0.2, np.float32),
        alpha=np.array([[1.0, 1.0, 0.0]], np.float32),
        depth=np.array([[2.0, 2.0, np.inf]], np.float32),
    )
    alpha = np.array([[0.0, 0.5, 0.5]], np.float32)
    rgb = np.array([[[0, 0, 0], [0.4, 0.4, 0.4], [0.4, 0.4, 0.4]]], np.float32)
    depth = np.array([[0.0, 1.0, 1.0]], np.float32)
    out_rgb, out_depth, out_alpha = over_table(rgb, depth, alpha, table)
    np.testing.assert_allclose(out_rgb[0, :, 0], [0.2, 0.5, 0.4])
    np.testing.assert_allclose(out_alpha[0], [1.0, 1.0, 0.5])
    np.testing.assert_allclose(out_depth[0], [2.0, 1.5, 1.0])
    texture = TableTexture(_checker(4, 8), EXTENT, 0.0)
    points = np.array([[0.1, 0.1, -0.01], [0.1, 0.1, 0.01], [0.5, 0.1, -0.01]])
    assert texture.hides(points).tolist() == [True, False, False]


def _with_table(root: Path, image: Image.Image | None, extent=EXTENT, version: int = 2) -> dict:
    data = yaml.safe_load((root / "env.yaml").read_text())
    (root / "textures").mkdir(exist_ok=True)
    if image is not None:
        image.save(root / "textures/table_top.png")
    data["format_version"] = version
    data["scene"]["table_texture"] = {"image": "textures/table_top.png", "extent": list(extent)}
    return data


@pytest.mark.parametrize(
    ("image", "extent", "version", "message"),
    [
        (Image.new("RGB", (40, 20)), EXTENT, 1, "scene.table_texture needs format_version 2"),
        (Image.new("RGB", (40, 20)), (0.4, 0.0, 0.0, 0.2), 2, "min < max"),
        (Image.new("RGB", (40, 40)), EXTENT, 2, "texels must be square"),
        (Image.new("L", (40, 20)), EXTENT, 2, "RGB or RGBA"),
        (None, EXTENT, 2, "does not exist"),
    ],
)
def test_a_bad_table_texture_is_one_error_naming_the_file_and_field(
    package_copy: Path, image, extent, version: int, message: str
) -> None:
    data = _with_table(package_copy, image, extent, version)
    with pytest.raises(EnvPackageError, match=message) as caught:
        save_package(data, package_copy)
    text = str(caught.value)
    assert "env.yaml" in text or "table_top.png" in text
    assert "table_texture" in text


@pytest.fixture(scope="module")
def twin_with_a_red_table(tmp_path_factory) -> tuple[Path, Path]:
    """The bundled tabletop twin, and a copy whose table top is a plain red picture."""
    source = resolve_env("tabletop_twin")
    copy = tmp_path_factory.mktemp("tt") / "red_table"
    shutil.copytree(source, copy)
    red = Image.new("RGB", (120, 100), (230, 20, 20))
    save_package(_with_table(copy, red, (-0.25, -0.5, 0.95, 0.5)), copy)
    return source, copy


def _render(root: Path) -> tuple[np.ndarray, np.ndarray]:
    config = EnvConfig(image_size=(160, 90), hybrid=HybridConfig(colour_match=False))
    env = TwinEnv(load_package(root), config)
    try:
        env.reset(options={"initial_condition": 0})
        layers = env.renderer.render_layers(env.data, CAMERA, (160, 90))
        mesh = env.renderer.mesh.render_layers(env.data, CAMERA, (160, 90), depth=True)
        robot = np.isfinite(mesh.depth)
        return layers.rgb, robot
    finally:
        env.close()


def test_the_twin_draws_its_table_from_the_picture_under_its_objects_and_robot(
    twin_with_a_red_table,
):
    plain, red = (_render(root) for root in twin_with_a_red_table)
    (before, robot), (after, robot_after) = plain, red
    assert np.array_equal(robot, robot_after)
    same = np.all(after[robot] == before[robot], axis=-1)
    assert same.mean() > 0.9  # the robot stays in front (its edges blend with what is behind)
    redness = after[..., 0].astype(int) - after[..., 1]
    was = before[..., 0].astype(int) - before[..., 1]
    table = (redness > 150) & ~robot
    assert table.mean() > 0.25  # the table, a third of the view, is now red
    assert (was > 150).mean() < 0.05  # and was not red before
    # the objects' splats still stand on it: pixels that differ from red where they are
    assert ((redness < 100) & ~robot & (after.sum(-1) > 30)).sum() > 20
