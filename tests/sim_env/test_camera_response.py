"""``render.camera_response``: a real camera's white balance, exposure and JPEG stream, applied
to every image a package's camera gives, whichever renderer draws it
(``twinbench env edit --camera-gains / --camera-jpeg``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import yaml
from PIL import Image

from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import EnvPackageError
from sim_env.package import load_package
from sim_env.package.edit import parse_edits
from sim_env.render.camera_response import CameraResponse, respond
from twinbench_cli import main

CAMERA = "exterior_image_1_left"
SIZE = (160, 90)


def _image(seed: int = 0) -> np.ndarray:
    """[90, 160, 3] uint8 with smooth shading and edges, as a camera sees a table."""
    y, x = np.mgrid[0:90, 0:160]
    rng = np.random.default_rng(seed)
    base = np.stack([x * 1.2, y * 2.0, (x + y) * 0.8], axis=-1) + 40
    base[30:60, 50:90] = (200, 40, 30)  # a red box
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def _observe(root) -> np.ndarray:
    env = TwinEnv(load_package(root), EnvConfig(image_size=SIZE, cameras=(CAMERA,)))
    try:
        obs, _ = env.reset(options={"initial_condition": 0})
        return obs[CAMERA]
    finally:
        env.close()


def _edit(root, out, *flags: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(["env", "edit", str(root), *flags, "-o", str(out)])
    assert done.value.code == 0


def test_the_neutral_response_leaves_the_image_as_rendered():
    image = _image()
    assert respond(image, CameraResponse()) is image


def test_gains_scale_each_channel_rounded_and_clipped():
    image = _image()
    out = respond(image, CameraResponse(gains=(1.5, 1.0, 0.5)))
    expected = np.clip(np.rint(image * np.array([1.5, 1.0, 0.5], np.float32)), 0, 255)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))
    assert out[..., 0].max() == 255  # clipped, not wrapped


def test_jpeg_is_pillows_round_trip_and_a_lower_quality_loses_more():
    image = _image()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=90)
    np.testing.assert_array_equal(
        respond(image, CameraResponse(jpeg_quality=90)), np.asarray(Image.open(buffer))
    )
    errors = [
        np.abs(respond(image, CameraResponse(jpeg_quality=q)).astype(float) - image).mean()
        for q in (95, 75, 30)
    ]
    assert 0 < errors[0] < errors[1] < errors[2]


def test_an_edited_package_observes_through_its_camera(package_copy, tmp_path):
    """The env's observation is the plain package's, passed through the response: gains
    first, then JPEG, the robot's pixels included."""
    plain = _observe(package_copy)
    out = tmp_path / "camera"
    _edit(
        package_copy,
        out,
        "--camera-gains",
        f"{CAMERA}=1.03,1,0.97",
        "--camera-jpeg",
        f"{CAMERA}=85",
    )
    edited = load_package(out)
    response = edited.spec.render.camera_response[CAMERA]
    assert response.gains == (1.03, 1.0, 0.97) and response.jpeg_quality == 85
    assert edited.spec.format_version == 2
    assert "camera gains exterior_image_1_left=1.03,1,0.97" in edited.spec.provenance.notes
    expected = respond(plain, CameraResponse((1.03, 1.0, 0.97), 85))
    np.testing.assert_array_equal(_observe(out), expected)


def test_a_second_edit_keeps_the_other_half_of_the_response(package_copy, tmp_path):
    _edit(package_copy, tmp_path / "a", "--camera-jpeg", f"{CAMERA}=70")
    _edit(tmp_path / "a", tmp_path / "b", "--camera-gains", f"{CAMERA}=0.9")
    response = load_package(tmp_path / "b").spec.render.camera_response[CAMERA]
    assert response.gains == (0.9, 0.9, 0.9) and response.jpeg_quality == 70


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--camera-gains", f"{CAMERA}=1,2"), "expected CAMERA=R,G,B"),
        (("--camera-gains", f"{CAMERA}=a,b,c"), "expected CAMERA=R,G,B"),
        (("--camera-jpeg", f"{CAMERA}=high"), "an integer 1-100"),
        (("--camera-jpeg", f"{CAMERA}"), "expected CAMERA=QUALITY"),
    ],
)
def test_malformed_flags_are_one_error_naming_the_flag(flags, message):
    flag, text = flags
    kwargs = {"camera_gains": [text]} if flag == "--camera-gains" else {"camera_jpeg": [text]}
    with pytest.raises(EnvPackageError, match=message) as caught:
        parse_edits(**kwargs)
    assert flag in str(caught.value)


@pytest.mark.parametrize(
    ("response", "field"),
    [
        ({"nope": {"gains": [1, 1, 1]}}, "names cameras the package lacks: ['nope']"),
        ({CAMERA: {"gains": [1, 0, 1]}}, "each gain must be in (0, 4]"),
        ({CAMERA: {"jpeg_quality": 101}}, "jpeg_quality"),
        ({CAMERA: {"exposure": 2}}, "exposure"),
    ],
)
def test_a_bad_response_in_env_yaml_names_the_file_and_field(package_copy, response, field):
    path = package_copy / "env.yaml"
    data = yaml.safe_load(path.read_text())
    data["format_version"] = 2
    data["render"] = {"camera_response": response}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(EnvPackageError) as caught:
        load_package(package_copy)
    assert "env.yaml" in str(caught.value) and field in str(caught.value)
