"""Renderers behind one interface; ``make_renderer`` picks one for a package."""

from sim_env.render.base import CameraLayers, Renderer, fit_size, pad_to
from sim_env.render.mujoco_renderer import MujocoRenderer

__all__ = ["CameraLayers", "MujocoRenderer", "Renderer", "fit_size", "pad_to"]
