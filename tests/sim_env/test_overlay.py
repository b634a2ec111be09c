"""sim_env.overlay puts geometry where MuJoCo draws it: points on the rendered sub-pixel, hull
outlines on the rendered silhouettes (a fixed and a gripper-mounted camera), segments and
outlines clipped at the near plane, feature edges of a box its 12 edges."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import trimesh

from sim_env.cameras import Intrinsics, add_camera, look_at, quat_to_mat
from sim_env.env import EnvConfig, TwinEnv
from sim_env.overlay import (
    NEAR,
    Pinhole,
    base_marker,
    feature_edges,
    frame_axes,
    hull_outline,
    package_wireframes,
    project_segments,
    table_point,
)
from sim_env.package.schema import CameraSpec, Pose
from sim_env.render.mujoco_renderer import MujocoRenderer

RADIUS = 0.015  # m
CENTRES = np.array([[0.0, 0.0, 0.0], [0.15, -0.08, 0.02], [-0.12, 0.1, 0.05]])  # m, world
EYE = np.array([0.1, -0.45, 0.35])  # m, world
CAMERA = CameraSpec(
    name="cam", width=320, height=240, fx=300.0, fy=340.0, cx=150.0, cy=130.0,
    pose=Pose(pos=tuple(EYE), quat=tuple(look_at(EYE, np.zeros(3)))),
)  # fmt: skip


@pytest.fixture(scope="module")
def balls():
    """(model, data, renderer): three small spheres, one geom each, seen by CAMERA."""
    spec = mujoco.MjSpec()
    for centre in CENTRES:
        spec.worldbody.add_geom(
            type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[RADIUS, 0, 0], pos=centre.tolist()
        )
    add_camera(spec.worldbody, CAMERA)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = MujocoRenderer(model, groups=(0,))
    yield model, data, renderer
    renderer.close()


def _centroid(mask: np.ndarray) -> np.ndarray:
    """(x, y) of a mask's pixels, pixel (i, j) at (i + 0.5, j + 0.5)."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5])


@pytest.mark.parametrize("size", [(320, 240), (160, 120)])
def test_points_land_where_mujoco_draws_them(balls, size):
    model, data, renderer = balls
    segmentation = renderer.render_layers(data, "cam", size, segmentation=True).segmentation
    camera = Pinhole.at(data, model.camera("cam").id, Intrinsics.of(CAMERA).scaled(*size))
    projected = camera.project(CENTRES)
    for geom, expected in enumerate(projected):
        mask = segmentation == geom
        assert mask.sum() > 20
        # a sphere's perspective silhouette is centred within 0.02 px of its centre's image
        np.testing.assert_allclose(_centroid(mask), expected, atol=0.2)


def _filled(outline: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[H, W] bool: the pixels whose centres lie inside the convex ``outline`` ([K, 2] pixel
    coordinates in order around it)."""
    rows, cols = np.mgrid[: size[1], : size[0]] + 0.5
    centres = np.stack([cols.ravel(), rows.ravel()], axis=1)
    edges = np.roll(outline, -1, axis=0) - outline
    offsets = centres[:, None, :] - outline[None]
    cross = edges[None, :, 0] * offsets[..., 1] - edges[None, :, 1] * offsets[..., 0]
    inside = (cross >= 0).all(axis=1) | (cross <= 0).all(axis=1)
    return inside.reshape(size[1], size[0])


@pytest.mark.parametrize("camera", ["exterior_image_1_left", "wrist_image_left"])
def test_hull_outlines_match_the_rendered_silhouette(primitive_package, camera):
    env = TwinEnv(primitive_package.root, EnvConfig(renderer="mujoco"))
    try:
        env.reset(options={"initial_condition": 0})
        spec = next(c for c in env.package.spec.cameras if c.name == camera)
        layers = env.renderer.render_layers(env.data, camera, segmentation=True)
        pinhole = Pinhole.at(env.data, env.scene.cameras[camera], Intrinsics.of(spec))
        [cube] = [
            w for w in package_wireframes(env.package, env.scene, env.data) if w.name == "cube"
        ]
        body = env.scene.objects[0].body_id
        geoms = [g for g in env.scene.object_geoms if env.model.geom_bodyid[g] == body]
        rendered = np.isin(layers.segmentation, geoms)
        [(vertices, edges)] = cube.hulls
        drawn = _filled(hull_outline(vertices, edges, pinhole), (spec.width, spec.height))
    finally:
        env.close()
    assert rendered.sum() > 50
    iou = (rendered & drawn).sum() / (rendered | drawn).sum()
    assert iou > 0.97, iou  # exact here; half a pixel off gives 0.88 (exterior), 0.92 (wrist)


def test_segments_are_clipped_at_the_near_plane():
    camera = Pinhole(np.eye(4), Intrinsics(100, 100, 50.0, 50.0, 50.0, 50.0))  # at the origin
    segments = np.array(
        [
            [[0.1, 0.0, -1.0], [0.1, 0.0, 1.0]],  # crosses the camera plane
            [[0.0, 0.0, -1.0], [0.0, 0.1, -0.5]],  # wholly behind
            [[0.0, 0.0, 1.0], [0.2, 0.0, 2.0]],  # wholly in front
        ]
    )
    pixels = project_segments(segments, camera)
    assert pixels.shape == (2, 2, 2)
    np.testing.assert_allclose(pixels[0, 0], [50 + 50 * 0.1 / NEAR, 50])  # cut at z = NEAR
    np.testing.assert_allclose(pixels[0, 1], [55, 50])
    np.testing.assert_allclose(pixels[1], [[50, 50], [55, 50]])
    assert np.isnan(camera.project(np.array([[0.0, 0.0, -1.0]]))).all()


def test_outline_of_a_body_around_the_camera_keeps_its_front():
    camera = Pinhole(np.eye(4), Intrinsics(100, 100, 50.0, 50.0, 50.0, 50.0))
    box = trimesh.creation.box(extents=(0.4, 0.4, 2.0))  # from z = -1 to 1 around the camera
    outline = hull_outline(np.asarray(box.vertices), np.asarray(box.edges_unique), camera)
    # the front face (z = 1) projects to [40, 60]^2; the cut at z = NEAR spreads far wider
    assert outline.min() < -100 and outline.max() > 200
    behind = box.vertices - [0.0, 0.0, 2.0]
    assert hull_outline(behind, np.asarray(box.edges_unique), camera) is None


def test_feature_edges_of_a_box_are_its_twelve_edges():
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    box.unmerge_vertices()  # as a textured OBJ loads: every face its own vertices
    edges = feature_edges(box)
    assert edges.shape == (12, 2, 3)
    lengths = sorted(np.round(np.linalg.norm(edges[:, 1] - edges[:, 0], axis=1), 6))
    assert lengths == [1.0] * 4 + [2.0] * 4 + [3.0] * 4
    assert len(feature_edges(box, limit=5)) == 5
    side = np.flatnonzero((box.face_normals == box.face_normals[0]).all(axis=1))
    open_box = trimesh.Trimesh(box.vertices, np.delete(box.faces, side, axis=0), process=False)
    assert len(feature_edges(open_box)) == 12  # its border edges are among them


def test_frame_axes_and_base_marker():
    pose = Pose(pos=(0.1, -0.2, 0.0), quat=(np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)))
    axes = frame_axes(pose, 0.1)  # yawed 90 degrees: x points along world y
    np.testing.assert_allclose(axes[:, 0], [[0.1, -0.2, 0.0]] * 3)
    np.testing.assert_allclose(
        axes[:, 1] - axes[:, 0], [[0, 0.1, 0], [-0.1, 0, 0], [0, 0, 0.1]], atol=1e-12
    )
    marker = base_marker(pose, 0.08)
    ring, spoke = marker[:-1].reshape(-1, 3), marker[-1]
    np.testing.assert_allclose(np.linalg.norm(ring - pose.pos, axis=1), 0.08)
    np.testing.assert_allclose(spoke[1] - spoke[0], [0.0, 0.12, 0.0], atol=1e-12)


def test_table_point_inverts_the_projection(primitive_package):
    env = TwinEnv(primitive_package.root, EnvConfig(renderer="mujoco"))
    try:
        env.reset(options={"initial_condition": 0})
        for spec in env.package.spec.cameras:
            camera = Pinhole.at(env.data, env.scene.cameras[spec.name], Intrinsics.of(spec))
            points = np.array([[0.45, -0.1, 0.0], [0.6, 0.15, 0.0], [0.5, 0.0, 0.0]])
            for point, pixel in zip(points, camera.project(points), strict=True):
                if np.isfinite(pixel).all():
                    np.testing.assert_allclose(table_point(camera, pixel), point, atol=1e-9)
    finally:
        env.close()
    # a camera at the origin looking along world x, level: y (down) is world -z
    rot = quat_to_mat(look_at(np.zeros(3), np.array([1.0, 0.0, 0.0])))  # camera -> world
    view = np.eye(4)
    view[:3, :3] = rot.T
    level = Pinhole(view, Intrinsics(100, 100, 50.0, 50.0, 50.0, 50.0))
    assert table_point(level, (50.0, 50.0), z=-1.0) is None  # the axis is parallel to it
    np.testing.assert_allclose(table_point(level, (50.0, 100.0), z=-1.0), [1.0, 0.0, -1.0])
    assert table_point(level, (50.0, 0.0), z=-1.0) is None  # looking up: it meets it behind
