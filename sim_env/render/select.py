"""Choosing a renderer for a package."""

from __future__ import annotations

from sim_env.errors import SimEnvError
from sim_env.package import EnvPackage
from sim_env.render.base import Renderer
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.scene import SceneModel

RENDERERS = ("auto", "mujoco")


def make_renderer(package: EnvPackage, scene: SceneModel, kind: str = "auto") -> Renderer:
    """``mujoco`` draws the package's meshes; ``auto`` picks the best renderer available."""
    if kind in ("auto", "mujoco"):
        return MujocoRenderer(scene.model)
    raise SimEnvError(f"unknown renderer {kind!r} (valid: {', '.join(RENDERERS)})")
