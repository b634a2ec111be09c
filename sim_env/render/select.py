"""Choosing a renderer for a package."""

from __future__ import annotations

from sim_env.errors import SimEnvError
from sim_env.package import EnvPackage
from sim_env.render.base import Renderer
from sim_env.render.config import HybridConfig
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.scene import SceneModel

RENDERERS = ("auto", "mujoco", "splats")


def has_splats(package: EnvPackage) -> bool:
    spec = package.spec
    return spec.scene.splats is not None or any(o.splats for o in spec.objects)


def make_renderer(
    package: EnvPackage,
    scene: SceneModel,
    kind: str = "auto",
    hybrid: HybridConfig = HybridConfig(),
) -> Renderer:
    """``mujoco`` draws the package's meshes; ``splats`` its Gaussian splats composited with the
    MuJoCo robot; ``auto`` picks ``splats`` when the package has any. Cameras with a
    ``render.camera_response`` get it applied to their images, whichever renderer draws them."""
    renderer = _drawing_renderer(package, scene, kind, hybrid)
    render = package.spec.render
    if render is None or not render.camera_response:
        return renderer
    from sim_env.render.camera_response import CameraResponse, RespondingRenderer

    responses = {
        camera: CameraResponse(tuple(r.gains), r.jpeg_quality)
        for camera, r in render.camera_response.items()
    }
    return RespondingRenderer(renderer, responses)


def _drawing_renderer(
    package: EnvPackage, scene: SceneModel, kind: str, hybrid: HybridConfig
) -> Renderer:
    if kind not in RENDERERS:
        raise SimEnvError(f"unknown renderer {kind!r} (valid: {', '.join(RENDERERS)})")
    if kind == "splats" or (kind == "auto" and has_splats(package)):
        if not has_splats(package):
            raise SimEnvError(
                f"renderer 'splats' needs splat files, and package {package.name!r} has none"
            )
        from sim_env.render.hybrid import HybridRenderer

        return HybridRenderer(package, scene, hybrid)
    return MujocoRenderer(scene.model)
