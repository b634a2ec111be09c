"""Renderers behind one interface; ``make_renderer`` picks one for a package."""

from sim_env.render.base import CameraLayers, Renderer, fit_size, pad_to
from sim_env.render.config import HybridConfig
from sim_env.render.mujoco_renderer import MujocoRenderer

__all__ = ["CameraLayers", "HybridConfig", "MujocoRenderer", "Renderer", "fit_size", "pad_to"]
