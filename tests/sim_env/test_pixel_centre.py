"""MuJoCo's meshes and the splat rasterizer put a point on the same sub-pixel (issue 17).

A small sphere off the optical axis is drawn once as a finely tessellated MuJoCo mesh and once
as Gaussians sampled from the same mesh, with the intrinsics the hybrid renderer hands to the
rasterizer. Both silhouettes' coverage-weighted centroids must sit on the centre of the
sphere's exact perspective silhouette (an ellipse), and so on each other.

Both images are averaged over each pixel's area before their centroids are taken: MuJoCo's
by rendering at up to SUPERSAMPLE_WIDTH and box-filtering down, the splats' by averaging
renders at the size under test, with the hybrid renderer's ``K``, over sub-pixel shifts of the
principal point. Without that the two differ by up to 0.09 px at 224 px for a reason other
than the pixel centre: MuJoCo estimates edge coverage from 16 MSAA samples, the rasterizer
samples each pixel's centre, and a sphere 8 px in radius aliases differently under each (both
are within 0.01 px of the ellipse once area-averaged).
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import trimesh

from sim_env.cameras import Intrinsics, add_camera, look_at, world_to_camera
from sim_env.package.schema import CameraSpec, Pose
from sim_env.render.base import fit_size
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.splats import GaussianSet, rasterize
from sim_env.splats.from_mesh import MeshSampling, gaussians_from_mesh
from sim_env.splats.transform import transform

RADIUS = 0.02  # m
CENTRE = np.array([0.12, -0.07, 0.0])  # m, world; off the optical axis in x and y
EYE, TARGET = np.array([0.0, 0.0, 0.5]), np.array([0.0, 0.02, 0.0])  # m, world
SIZES = {"square": (224, 224), "wide": (1280, 720)}  # camera name -> native (width, height)
SUPERSAMPLE_WIDTH = 1280  # px


def _cameras() -> list[CameraSpec]:
    """Pinhole cameras in the package's OpenCV convention, fx != fy, the principal point off
    the image centre (left and down for one, right and up for the other)."""
    quat = tuple(look_at(EYE, TARGET, up=np.array([0.0, 1.0, 0.0])))
    return [
        CameraSpec(
            name=name,
            width=w,
            height=h,
            fx=0.9 * w,
            fy=0.8 * w,
            cx=(w - 1) / 2 + shift * w,
            cy=(h - 1) / 2 - shift * h,
            pose=Pose(pos=tuple(EYE), quat=quat),
        )
        for (name, (w, h)), shift in zip(SIZES.items(), (-0.03, 0.05), strict=True)
    ]


@pytest.fixture(scope="module")
def sphere():
    """(model, data, mesh renderer, Gaussians in the world): a white unlit ball on black."""
    # 20480 faces: the polygon's silhouette departs from the sphere's by < 0.01 px at 1280.
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=RADIUS)
    spec = mujoco.MjSpec()
    spec.visual.global_.offwidth = spec.visual.global_.offheight = SUPERSAMPLE_WIDTH
    spec.visual.quality.offsamples = 16  # finer edge coverage than the default 4
    spec.visual.headlight.ambient = [1.0, 1.0, 1.0]
    spec.visual.headlight.diffuse = spec.visual.headlight.specular = [0.0, 0.0, 0.0]
    spec.add_mesh(
        name="ball", uservert=mesh.vertices.ravel().tolist(), userface=mesh.faces.ravel().tolist()
    )
    spec.worldbody.add_geom(
        type=mujoco.mjtGeom.mjGEOM_MESH, meshname="ball", pos=CENTRE.tolist(), rgba=[1, 1, 1, 1]
    )
    for camera in _cameras():
        add_camera(spec.worldbody, camera)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    renderer = MujocoRenderer(model, groups=(0,))
    local = gaussians_from_mesh(mesh, MeshSampling(count=40_000, opacity=0.99, spacing_factor=0.5))
    yield model, data, renderer, transform(local, np.eye(3), CENTRE)
    renderer.close()


def _box_filter(image: np.ndarray, factor: int) -> np.ndarray:
    """[H * factor, W * factor] -> [H, W], the mean of each factor x factor block."""
    h, w = image.shape[0] // factor, image.shape[1] // factor
    return image.reshape(h, factor, w, factor).mean(axis=(1, 3))


def _splat_coverage(
    gaussians: GaussianSet, view: np.ndarray, k: Intrinsics, factor: int
) -> np.ndarray:
    """[H, W] alpha of ``gaussians`` (world) through ``k``, averaged over factor x factor
    principal-point shifts symmetric about zero (each pixel's mean over its area)."""
    shifts = (np.arange(factor) + 0.5) / factor - 0.5
    total = np.zeros((k.height, k.width))
    for dx in shifts:
        for dy in shifts:
            shifted = k.matrix() + [[0, 0, dx], [0, 0, dy], [0, 0, 0]]
            total += rasterize(
                gaussians.means,
                gaussians.quats,
                gaussians.scales,
                gaussians.opacities,
                gaussians.sh,
                view,
                shifted,
                k.width,
                k.height,
                backend="cpu",
            )[2]
    return total / factor**2


def _centroid(weight: np.ndarray) -> np.ndarray:
    """(x, y) of an [H, W] coverage image, pixel (i, j) at (i + 0.5, j + 0.5)."""
    rows, cols = np.mgrid[: weight.shape[0], : weight.shape[1]] + 0.5
    total = weight.sum()
    return np.array([(weight * cols).sum() / total, (weight * rows).sum() / total])


def _silhouette_centre(k: Intrinsics, p: np.ndarray) -> np.ndarray:
    """Pixel centre of the ellipse a sphere of RADIUS at ``p`` (camera frame, m) projects to.

    The silhouette is the cone of rays x (x_z = 1) tangent to the sphere:
    x^T (p p^T - (|p|^2 - r^2) I) x = 0; the centre of that conic maps affinely to pixels.
    """
    q = np.outer(p, p) - (p @ p - RADIUS**2) * np.eye(3)
    x, y = np.linalg.solve(q[:2, :2], -q[:2, 2])
    return np.array([k.fx * x + k.cx, k.fy * y + k.cy])


@pytest.mark.parametrize(
    "camera, size", [("square", (224, 224)), ("wide", (1280, 720)), ("wide", (224, 224))]
)
def test_mesh_and_splats_agree_on_the_sphere_centre(sphere, camera, size):
    model, data, renderer, gaussians = sphere
    spec = next(c for c in _cameras() if c.name == camera)
    w, h = fit_size(SIZES[camera], size)
    k = Intrinsics.of(spec).scaled(w, h)  # what HybridRenderer hands the rasterizer
    view = world_to_camera(data, model.camera(camera).id)
    factor = max(1, SUPERSAMPLE_WIDTH // w)

    mesh = renderer.render_layers(data, camera, (w * factor, h * factor)).rgb[..., 0] / 255.0
    assert mesh.shape == (h * factor, w * factor)
    mesh = _box_filter(mesh, factor)
    splats = _splat_coverage(gaussians, view, k, factor)
    exact = _silhouette_centre(k, view[:3, :3] @ CENTRE + view[:3, 3])
    assert mesh.sum() > 100 and splats.sum() > 100  # 8 px in radius at 224
    np.testing.assert_allclose(_centroid(splats), _centroid(mesh), atol=0.1)
    np.testing.assert_allclose(_centroid(mesh), exact, atol=0.05)
    np.testing.assert_allclose(_centroid(splats), exact, atol=0.05)
