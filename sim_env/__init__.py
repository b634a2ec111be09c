"""sim_env: the DROID robot in MuJoCo, driven by an environment package.

``sim_env.make("primitive_cube_bowl")`` or ``sim_env.make("path/to/package")`` returns a
gymnasium environment; ``gymnasium.make("twinbench/<id>", render_mode="rgb_array")`` works for
bundled packages (keyword arguments are ``EnvConfig`` fields).
"""

from __future__ import annotations

import os
from typing import Any

from sim_env.errors import EnvPackageError, SimEnvError, SimulationDiverged, SplatFileError
from sim_env.images import ImageSize
from sim_env.registry import list_envs, register_gym_envs, resolve_env

__all__ = [
    "EnvPackageError",
    "ImageSize",
    "SimEnvError",
    "SimulationDiverged",
    "SplatFileError",
    "list_envs",
    "make",
    "resolve_env",
]


def make(name_or_path: str | os.PathLike[str], render_mode: str | None = None, **config: Any):
    """A ``TwinEnv`` for a bundled or user environment id, or a package directory.

    ``config`` are ``EnvConfig`` fields, e.g. ``image_size=ImageSize(320, 180)`` (or
    ``"320x180"``, or ``(320, 180)``: always width first); ``render_mode`` is gymnasium's
    (``None`` or ``"rgb_array"``: ``render()`` returns the exterior camera's view).
    """
    from sim_env.env import EnvConfig, TwinEnv

    return TwinEnv(resolve_env(name_or_path), EnvConfig(**config), render_mode=render_mode)


register_gym_envs()
