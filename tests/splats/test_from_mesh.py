"""Mesh -> Gaussians: coloured and textured quads render their colour where the quad is."""

import numpy as np
import pytest
import trimesh
from PIL import Image

from sim_env.splats import MeshSampling, gaussians_from_mesh, rasterize

SIZE = 0.4  # quad edge, metres


def _quad() -> trimesh.Trimesh:
    h = SIZE / 2
    vertices = np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]], float)
    return trimesh.Trimesh(vertices, [[0, 1, 2], [0, 2, 3]], process=False)


def _render_from_above(gs, width=48, height=48):
    """Camera 1 m above the quad looking down; the quad spans the middle ~half of the image."""
    view = np.diag([1.0, -1.0, -1.0, 1.0])
    view[2, 3] = 1.0
    f = 0.5 * width / np.tan(np.radians(25))
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])
    rgb, depth, alpha = rasterize(
        gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view, K, width, height
    )
    inside = np.zeros((height, width), bool)
    half = int(0.5 * SIZE * f) - 3  # pixels safely inside the quad's image
    inside[height // 2 - half : height // 2 + half, width // 2 - half : width // 2 + half] = True
    return rgb, depth, alpha, inside


@pytest.mark.parametrize("kind", ["face", "vertex"])
def test_coloured_quad_renders_its_colour(kind):
    mesh = _quad()
    color = np.array([200, 60, 30, 255], np.uint8)
    if kind == "face":
        mesh.visual.face_colors = color
    else:
        mesh.visual.vertex_colors = color
    gs = gaussians_from_mesh(mesh, MeshSampling(count=4000, seed=0))
    rgb, depth, alpha, inside = _render_from_above(gs)
    np.testing.assert_allclose(
        rgb[inside], np.broadcast_to(color[:3] / 255, rgb[inside].shape), atol=2e-3
    )
    assert alpha[inside].min() > 0.998
    np.testing.assert_allclose(depth[inside], 1.0, atol=1e-3)
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0


def test_textured_quad_samples_the_texture():
    mesh = _quad()
    image = np.zeros((2, 2, 3), np.uint8)
    image[:, 0] = (255, 0, 0)  # left half red (u < 0.5)
    image[:, 1] = (0, 0, 255)  # right half blue
    uv = (mesh.vertices[:, :2] + SIZE / 2) / SIZE
    material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(image))
    mesh.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    gs = gaussians_from_mesh(mesh, MeshSampling(count=4000, seed=1))
    colors = gs.colors
    left = gs.means[:, 0] < -0.02
    right = gs.means[:, 0] > 0.02
    np.testing.assert_allclose(
        colors[left], np.broadcast_to([1, 0, 0], colors[left].shape), atol=1e-6
    )
    np.testing.assert_allclose(
        colors[right], np.broadcast_to([0, 0, 1], colors[right].shape), atol=1e-6
    )


def test_discs_lie_in_the_surface_and_are_deterministic():
    mesh = _quad()
    sampling = MeshSampling(count=500, seed=3, opacity=0.9)
    a, b = gaussians_from_mesh(mesh, sampling), gaussians_from_mesh(mesh, sampling)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.quats, b.quats)
    assert not np.array_equal(a.means, gaussians_from_mesh(mesh, MeshSampling(500, seed=4)).means)
    np.testing.assert_allclose(a.means[:, 2], 0, atol=1e-7)
    spacing = np.sqrt(SIZE**2 / 500)
    np.testing.assert_allclose(a.scales[:, :2], spacing, rtol=1e-6)
    np.testing.assert_allclose(a.scales[:, 2], 1e-4 * np.linalg.norm(mesh.extents), rtol=1e-5)
    np.testing.assert_allclose(a.opacities, 0.9, rtol=1e-6)
    # the third (thin) axis of every disc is the face normal, +z
    w, x, y, z = a.quats.T.astype(float)
    third_axis = np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], 1)
    np.testing.assert_allclose(np.abs(third_axis[:, 2]), 1, atol=1e-6)


def test_rejects_empty_requests():
    with pytest.raises(ValueError, match="count"):
        gaussians_from_mesh(_quad(), MeshSampling(count=0))
