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
    MuJoCo robot; ``auto`` picks ``splats`` when the package has any."""
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
