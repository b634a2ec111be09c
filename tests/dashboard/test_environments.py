"""The Environments page: registered packages and the store's, previews (shipped PNGs or a
render per camera), instruction, objects and provenance."""

from __future__ import annotations

import numpy as np

from dashboard import gallery
from sim_env.package import load_spec_checked
from sim_env.registry import BUNDLED_DIR, list_envs


def test_gallery(page, facts):
    bundled = [e.id for e in list_envs() if e.bundled]
    at = bundled.index(facts.BUNDLED_ENV)  # each package shows one row of images, one table
    app = page("environments")
    assert [h.value for h in app.subheader] == [*bundled, facts.USER_ENV, facts.LOST_ENV]
    rendered, shipped = app.image[at], app.image[len(bundled)]
    assert rendered.captions == ["exterior_image_1_left", "wrist_image_left"]
    assert shipped.captions == ["camera_0", "camera_1"]  # previews/*.png win over a render
    assert sum("put the cube in the bowl" in m.value for m in app.markdown) == 2
    assert any("Provenance:" in m.value and "seed 0" in m.value for m in app.markdown)
    assert list(app.dataframe[at].value["object"]) == ["cube", "bowl"]
    [lost] = app.warning
    assert f"unknown environment '{facts.LOST_ENV}'" in lost.value


def test_store_hash_differs_from_the_package(page, dashboard_env, facts):
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    with ResultsStore.open(dashboard_env.store) as store:
        store.record_episode(
            EpisodeRecord(
                "run-b",
                EpisodeKey("pi0", facts.USER_ENV, "0" * 64, 0, 0),
                EpisodeOutcome(True, 1.0, {}, 1, 1, 0, 0),
            )
        )
    app = page("environments")
    assert any("different version of the package" in w.value for w in app.warning)


def test_render_is_an_image_per_camera():
    package = load_spec_checked(BUNDLED_DIR / "primitive_cube_bowl")
    images = gallery.rendered_previews(package.content_hash, str(package.root))
    assert set(images) == {c.name for c in package.spec.cameras}
    for image in images.values():
        assert image.shape == (180, 320, 3) and image.dtype == np.uint8
        assert image.std() > 5  # a scene, not a blank frame


def test_damaged_preview_is_a_warning(page, dashboard_env, facts, tmp_path, monkeypatch):
    import shutil

    package = tmp_path / "envs" / facts.USER_ENV
    shutil.copytree(dashboard_env.envs / facts.USER_ENV, package)
    (package / "previews" / "camera_1.png").write_bytes(b"\x89PNG truncated")
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(tmp_path / "envs"))
    app = page("environments")
    assert any(
        f"{package / 'previews' / 'camera_1.png'}: not a readable image" in w.value
        for w in app.warning
    )
    assert any(image.captions == ["camera_0"] for image in app.image)  # the readable one
