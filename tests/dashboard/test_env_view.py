"""The Environment view page: a bundled package and one built here, each camera's render and
overlay, the legend, the top-down picture, objects and rubric; damaged packages are one error
naming the file and field; views are cached per content hash."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard import env_view
from dashboard.settings import STORE_ENV_VAR
from sim_env.cameras import Intrinsics
from sim_env.overlay import Pinhole, hull_outline, package_wireframes
from sim_env.package import load_spec_checked, sha256_file
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.registry import BUNDLED_DIR

BUILT = PrimitiveSceneConfig(distractors=1, splat_density=2.0, n_initial_conditions=2, seed=3)
BUILT_ID = "checked_scan"
CAMERAS = ["exterior_image_1_left", "wrist_image_left"]
PLACE = "Place the robot base"


@pytest.fixture(scope="module")
def built_package(tmp_path_factory) -> Path:
    """A package with splats and a distractor block, built once, with a top-down picture."""
    root = tmp_path_factory.mktemp("built") / BUILT_ID
    write_primitive_package(root, BUILT)
    (root / "previews").mkdir()
    Image.new("RGB", (64, 64), (90, 140, 200)).save(root / "previews" / "layout.png")
    return root


@pytest.fixture
def envs(dashboard_env, tmp_path, monkeypatch, built_package) -> Path:
    """A second package directory on TWINBENCH_ENV_PATH, holding a copy of the built package."""
    folder = tmp_path / "more_envs"
    shutil.copytree(built_package, folder / BUILT_ID)
    monkeypatch.setenv("TWINBENCH_ENV_PATH", f"{dashboard_env.envs}:{folder}")
    return folder


@pytest.fixture
def show(dashboard_env, facts) -> Callable[[str], AppTest]:
    """The page opened on one package (as ``?env=ID`` does), over the fixture's results."""

    def run(env_id: str) -> AppTest:
        app = AppTest.from_file(str(facts.APP), default_timeout=60)
        app.session_state["env"] = env_id  # the selectbox's key: no render of another package
        app.switch_page("views/env_detail.py").run()
        assert not app.exception, [e.message for e in app.exception]
        assert app.selectbox(key="env").value == env_id
        return app

    return run


def _legend(app) -> str:
    [legend] = [m.value for m in app.markdown if m.value.startswith("**Legend:**")]
    return legend


def test_bundled_package(show, facts):
    app = show(facts.BUNDLED_ENV)
    assert [h.value for h in app.subheader] == [*CAMERAS, "Objects", "Rubric", PLACE]
    assert len(app.image) == 4  # a render and an overlay per camera; no top-down picture
    for render, overlay in zip(app.image[::2], app.image[1::2], strict=True):
        assert "what the policy sees" in render.captions[0]
        assert "hull outlines" in overlay.captions[0]
    legend = _legend(app)
    for label in (
        "table (collision hulls)",
        "cube (task object)",
        "bowl (container)",
        "robot base",
    ):
        assert label in legend
    objects = app.dataframe[0].value
    assert list(objects["object"]) == ["cube", "bowl"]
    assert list(objects["role"]) == ["task object", "container"]
    np.testing.assert_allclose(objects["mass [kg]"], [0.2, 0.3], rtol=1e-6)
    assert list(objects["friction (slide, spin, roll)"]) == ["1, 0.01, 0.0001", "1, 0.005, 0.0001"]
    criteria = load_spec_checked(BUNDLED_DIR / facts.BUNDLED_ENV).spec.rubric.criteria
    assert list(app.dataframe[1].value["criterion"]) == [c.name for c in criteria]
    assert not app.error


def test_package_built_in_the_test(show, envs):
    app = show(BUILT_ID)
    assert [h.value for h in app.subheader] == [
        *CAMERAS, "From above", "Objects", "Rubric", PLACE,
    ]  # fmt: skip
    assert len(app.image) == 5
    assert "block0" in _legend(app)
    assert list(app.dataframe[0].value["object"]) == ["cube", "bowl", "block0"]
    assert list(app.dataframe[0].value["splats"]) == ["yes"] * 3


def _damage_field(root: Path) -> None:
    data = yaml.safe_load((root / "env.yaml").read_text())
    data["objects"][0]["mass"] = -1.0
    (root / "env.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _damage_mesh(root: Path) -> None:
    """A corrupt mesh whose new sha256 is recorded: only loading the geometry finds it."""
    (root / "meshes" / "cube.obj").write_text("v 0 0 nonsense\nf 1 2 3\n")
    data = yaml.safe_load((root / "env.yaml").read_text())
    data["provenance"]["files"]["meshes/cube.obj"] = sha256_file(root / "meshes" / "cube.obj")
    (root / "env.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    "damage, where",
    [(_damage_field, "env.yaml: objects[0].mass"), (_damage_mesh, "meshes/cube.obj: mesh")],
)
def test_damaged_package_is_one_error(show, envs, damage, where):
    damage(envs / BUILT_ID)
    app = show(BUILT_ID)
    [error] = app.error
    assert where in error.value
    assert not app.image


def test_overlay_draws_each_body_where_it_projects():
    view = env_view.build_view(BUNDLED_DIR / "primitive_cube_bowl")
    assert [p.name for p in view.cameras] == CAMERAS
    for panel in view.cameras:
        h, w = panel.render.shape[:2]
        assert (w, h) == (320, 180) and panel.render.std() > 5
        assert panel.overlay.shape == (2 * h, 2 * w, 3)
    from sim_env.env import EnvConfig, TwinEnv

    env = TwinEnv(BUNDLED_DIR / "primitive_cube_bowl", EnvConfig(renderer="mujoco"))
    try:
        env.reset(options={"initial_condition": 0})
        spec = env.package.spec
        colours, _ = env_view.palette(spec)
        wireframes = package_wireframes(env.package, env.scene, env.data)
        for camera, panel in zip(spec.cameras, view.cameras, strict=True):
            size = (panel.overlay.shape[1], panel.overlay.shape[0])
            pinhole = Pinhole.at(
                env.data, env.scene.cameras[camera.name], Intrinsics.of(camera).scaled(*size)
            )
            for frame in wireframes[1:]:  # the objects (the table's edge runs off the image)
                rgb = [int(colours.bodies[frame.name][i : i + 2], 16) for i in (1, 3, 5)]
                painted = (panel.overlay == rgb).all(axis=2)
                corners = [hull_outline(v, e, pinhole) for v, e in frame.hulls]
                corners = np.concatenate([c for c in corners if c is not None])
                inside = (corners >= 1) & (corners < np.array(size) - 1)
                corners = corners[inside.all(axis=1)]
                # every outline corner in the image is painted in the body's colour (within 1 px)
                for x, y in np.floor(corners).astype(int):
                    assert painted[y - 1 : y + 2, x - 1 : x + 2].any(), (camera.name, frame.name)
                assert len(corners) or frame.name == "bowl"  # the wrist camera misses the bowl
    finally:
        env.close()


def test_views_are_cached_per_content_hash(monkeypatch):
    calls = []
    monkeypatch.setattr(env_view, "build_view", lambda root: calls.append(root) or len(calls))
    env_view.cached_view.clear()
    try:
        assert env_view.cached_view("a" * 64, "/one") == 1
        assert env_view.cached_view("a" * 64, "/elsewhere") == 1  # same content, not rebuilt
        assert env_view.cached_view("b" * 64, "/one") == 2
    finally:
        env_view.cached_view.clear()
    assert calls == [Path("/one"), Path("/one")]


@pytest.mark.parametrize("store_bytes", [None, b"this is not SQLite" * 100])
def test_without_a_readable_store(open_page, tmp_path, monkeypatch, store_bytes):
    store = tmp_path / "results.sqlite"
    if store_bytes is not None:
        store.write_bytes(store_bytes)
    monkeypatch.setenv(STORE_ENV_VAR, str(store))
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(tmp_path / "no-envs"))
    app = open_page("env_detail")
    warnings = [w.value for w in app.warning]
    if store_bytes is None:
        assert not warnings and not store.exists()  # reading never creates it
    else:
        [warning] = warnings
        assert "not a readable SQLite database" in warning
    # the bundled packages need no store: the first one's two cameras, each rendered and
    # overlaid (and its top-down picture where it has one)
    assert len(app.image) >= 4


def test_a_click_is_the_table_point_under_it():
    from dashboard.base_placement import clicked_point, command
    from dashboard.gallery import GalleryEntry
    from sim_env.package.base import BasePlacement

    [exterior, wrist] = env_view.build_view(BUNDLED_DIR / "primitive_cube_bowl").cameras
    assert (exterior.fixed, wrist.fixed) == (True, False)
    shown = (500, 281)  # the overlay as the browser drew it, px
    camera = Pinhole(exterior.pinhole.view, exterior.pinhole.intrinsics.scaled(*shown))
    point = np.array([0.35, -0.25, 0.0])  # m, on the table
    x, y = camera.project(point[None])[0]
    exact = {"x": x - 0.5, "y": y - 0.5, "width": shown[0], "height": shown[1]}
    np.testing.assert_allclose(clicked_point(exterior, exact), point, atol=1e-9)
    click = {"x": int(x), "y": int(y), "width": shown[0], "height": shown[1]}  # whole pixels
    np.testing.assert_allclose(clicked_point(exterior, click), point, atol=0.01)

    package = load_spec_checked(BUNDLED_DIR / "primitive_cube_bowl")
    bundled = GalleryEntry("primitive_cube_bowl", "bundled", package.root, package, None, ())
    user = GalleryEntry("mine", "user", Path("/envs/mine"), package, None, ())
    placement = BasePlacement(0.35, -0.25, 15.0)
    assert command(bundled, placement) == (
        "twinbench env edit primitive_cube_bowl -o primitive_cube_bowl_moved --base 0.350,-0.250,15"
    )
    assert command(user, placement) == "twinbench env edit mine --base 0.350,-0.250,15"


def test_damaged_top_down_picture_is_a_warning(show, envs):
    picture = envs / BUILT_ID / "previews" / "layout.png"
    picture.write_bytes(b"not a PNG")
    app = show(BUILT_ID)
    [warning] = app.warning
    assert f"{picture}: not a readable image" in warning.value
    assert len(app.image) == 4 and not app.error  # the cameras are still shown
