"""``twinbench env edit --colour-from CAMERA=PHOTO``: a real camera's exposure and white
balance, fitted from one photo, become the package's colour map for that camera."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import EnvPackageError
from sim_env.package import load_package
from sim_env.package.edit import PackageEdits, edit_package
from sim_env.package.loader import save_package
from sim_env.package.schema import SplatRenderSpec
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.render.calibrate import camera_colour_map
from sim_env.render.colour import IDENTITY
from sim_env.render.config import HybridConfig
from sim_env.scene import apply_initial_condition
from twinbench_cli import main

CAMERA = "exterior_image_1_left"
MAP = np.array([[0.8, 0.1, 0.0, 0.05], [0.0, 0.7, 0.0, 0.02], [0.05, 0.0, 0.9, 0.0]])
SIZE = (320, 180)


def _render(package, size=SIZE, **hybrid) -> np.ndarray:
    env = TwinEnv(package, EnvConfig(image_size=size, hybrid=HybridConfig(**hybrid)))
    try:
        apply_initial_condition(env.scene, env.data, package.spec.initial_conditions[0])
        return env.renderer.render(env.data, CAMERA, size)
    finally:
        env.close()


@pytest.fixture(scope="module")
def plain_and_photo(tmp_path_factory):
    """A splatted package, and the 'real' camera's photo: the package seen through MAP."""
    root = tmp_path_factory.mktemp("colour")
    plain = write_primitive_package(
        root / "plain", PrimitiveSceneConfig(splat_density=3.0, n_initial_conditions=1)
    )
    graded = root / "graded"
    for rel in plain.spec.referenced_files():
        (graded / rel).parent.mkdir(parents=True, exist_ok=True)
        (graded / rel).write_bytes(plain.path(rel).read_bytes())
    look = SplatRenderSpec(colour={CAMERA: MAP.tolist()})
    graded = save_package(
        plain.spec.model_copy(update={"render": look, "format_version": 2}), graded
    )
    photo = root / "photo.png"
    Image.fromarray(_render(graded, (640, 360))).save(photo)
    return plain, photo


def test_a_photo_of_the_twin_itself_needs_no_map(plain_and_photo):
    """The twin's own view as the photo: the fitted map is the identity."""
    plain, _ = plain_and_photo
    fitted = np.array(camera_colour_map(plain, CAMERA, _render(plain)))
    np.testing.assert_allclose(fitted, IDENTITY, atol=0.005)


def test_the_fitted_map_reproduces_the_photo(plain_and_photo, tmp_path):
    """A photo at the fit's size through a known map: the twin with the fitted map renders
    it. (The map itself is not unique here: the primitive scene has few colours.)"""
    plain, photo = plain_and_photo
    real = _render(load_package(photo.parent / "graded"))
    fitted = camera_colour_map(plain, CAMERA, real)
    edits = PackageEdits(colour=((CAMERA, tuple(map(tuple, fitted))),))
    matched, _ = edit_package(plain.root, edits, tmp_path / "matched")
    error = np.abs(_render(matched).astype(float) - real).mean()
    assert error < 1.0 < np.abs(_render(plain).astype(float) - real).mean()


def test_edit_writes_the_map_and_the_twin_then_looks_like_the_photo(plain_and_photo, tmp_path):
    plain, photo = plain_and_photo
    out = tmp_path / "matched"
    with pytest.raises(SystemExit) as done:
        main(["env", "edit", str(plain.root), "--colour-from", f"{CAMERA}={photo}", "-o", str(out)])
    assert done.value.code == 0
    matched = load_package(out)
    assert matched.spec.format_version == 2 and CAMERA in matched.spec.render.colour
    assert "colour map for exterior_image_1_left" in matched.spec.provenance.notes
    real = np.asarray(Image.open(photo).resize(SIZE, Image.BOX), float)
    before = np.abs(_render(plain).astype(float) - real).mean()
    after = np.abs(_render(matched).astype(float) - real).mean()
    assert after < 0.4 * before and after < 3.0


@pytest.mark.parametrize(
    ("camera", "photo_size", "message"),
    [
        ("nope", (640, 360), "unknown camera 'nope'"),
        (CAMERA, (360, 640), "does not look like this camera's view"),
    ],
)
def test_a_photo_that_cannot_be_matched_is_one_error(plain_and_photo, camera, photo_size, message):
    plain, _ = plain_and_photo
    photo = np.zeros((photo_size[1], photo_size[0], 3), np.uint8)
    with pytest.raises(EnvPackageError, match=message) as caught:
        camera_colour_map(plain, camera, photo, photo_name="shot.png")
    assert "shot.png" in str(caught.value)


def test_a_file_that_is_not_an_image_is_named(plain_and_photo, tmp_path, capsys):
    plain, _ = plain_and_photo
    bad = tmp_path / "shot.png"
    bad.write_text("not a picture")
    with pytest.raises(SystemExit) as done:
        main(
            [
                "env",
                "edit",
                str(plain.root),
                "--colour-from",
                f"{CAMERA}={bad}",
                "-o",
                str(tmp_path / "o"),
            ]
        )
    assert done.value.code != 0
    err = capsys.readouterr().err
    assert "shot.png" in err and "not a readable image" in err and "Traceback" not in err
