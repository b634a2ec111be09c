"""The bundled twins' colour maps (issue 16: 'the exposure of the real cameras matched at
render time') are the ones ``twinbench env edit --colour-from`` fits from one frame per camera
of their source worlds at initial condition 0, each camera at its own size, and their
provenance says so (the source world plays the real cameras)."""

from __future__ import annotations

import numpy as np
import pytest

from sim_env.cli import _camera_images
from sim_env.package import load_package
from sim_env.registry import resolve_env
from sim_env.render.calibrate import camera_colour_map

TWINS = {"kitchen_twin": "kitchen_source", "tabletop_twin": "tabletop_source"}


@pytest.mark.slow  # ~25 s at load 8: one source render, two splat fits
@pytest.mark.parametrize("name", sorted(TWINS))
def test_the_bundled_map_is_what_the_documented_photos_fit(name: str) -> None:
    twin = load_package(resolve_env(name))
    assert twin.spec.render is not None
    bundled = twin.spec.render.colour
    assert sorted(bundled) == sorted(c.name for c in twin.spec.cameras)
    photos = _camera_images(resolve_env(TWINS[name]), 0)  # `twinbench env render -i 0`
    for camera, photo in photos.items():
        assert photo.shape[:2] == (180, 320)  # the camera's own size
        fitted = camera_colour_map(twin, camera, photo, 0, camera)
        np.testing.assert_allclose(np.asarray(bundled[camera]), fitted, atol=2e-5)


@pytest.mark.parametrize("name", sorted(TWINS))
def test_the_provenance_names_the_photos(name: str) -> None:
    notes = load_package(resolve_env(name)).spec.provenance.notes
    assert "--colour-from" in notes and f"twinbench env render {TWINS[name]} -i 0" in notes
