"""The environment view's data: per robot camera, what the policy sees at reset (sim_env's
renderer: splats composited with the robot where the package has splats) and the same picture
with the package's geometry drawn over it, so a scan can be checked without reading its YAML.

A view costs seconds on a CPU (the simulator is built and every camera rendered), so it is
cached per package content hash (:func:`cached_view`): the same content renders the same
wherever it lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from dashboard.overlay_draw import Markers, Palette, draw_overlay
from sim_env import ImageSize
from sim_env.cameras import Intrinsics
from sim_env.overlay import TABLE, Pinhole, base_marker, frame_axes, package_wireframes
from sim_env.package import EnvPackageSpec, Pose
from sim_env.render.base import fit_size

RENDER_BOX = ImageSize(480, 360)  # a larger camera is rendered at its aspect within this
OVERLAY_SCALE = 2  # the overlay is drawn at twice the render's size
AXIS_LENGTH = 0.1  # m
BASE_RADIUS = 0.08  # m
# none close to the axes' red, green and blue or the robot base's magenta
BODY_COLOURS = (
    "#ff7f0e", "#17becf", "#ffd700", "#9467bd", "#bcbd22", "#8c564b", "#aec7e8", "#c5b0d5",
)  # fmt: skip
TABLE_COLOUR = "#f0f0f0"


@dataclass(frozen=True)
class CameraPanel:
    """One robot camera: its render ([H, W, 3] uint8) and the overlay (OVERLAY_SCALE x larger)."""

    name: str
    render: np.ndarray
    overlay: np.ndarray
    pinhole: Pinhole  # the camera at reset, at the render's size
    fixed: bool  # in the world (not on the robot)


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str  # "#rrggbb"


@dataclass(frozen=True)
class EnvView:
    """Everything the view shows that needs the simulator."""

    cameras: tuple[CameraPanel, ...]
    legend: tuple[LegendEntry, ...]
    masses: dict[str, float]  # object -> simulated mass, kg (given, or density x hull volume)


def object_roles(spec: EnvPackageSpec) -> dict[str, str]:
    """Object -> its part in the task: ``task object`` (a criterion's ``object``), ``container``
    (a criterion's ``container``), or an empty string."""
    roles = {o.name: "" for o in spec.objects}
    for criterion in spec.rubric.criteria:
        for param, role in (("container", "container"), ("object", "task object")):
            name = criterion.params.get(param)
            if isinstance(name, str) and name in roles and not roles[name]:
                roles[name] = role
    return roles


def render_size(camera: Intrinsics) -> ImageSize:
    """The camera's own size, or the largest of its aspect within RENDER_BOX."""
    if camera.width <= RENDER_BOX.width and camera.height <= RENDER_BOX.height:
        return ImageSize(camera.width, camera.height)
    return ImageSize(*fit_size((camera.width, camera.height), RENDER_BOX))


def palette(spec: EnvPackageSpec) -> tuple[Palette, tuple[LegendEntry, ...]]:
    """A colour per body (the table, then each object in order) and the legend naming them."""
    roles = object_roles(spec)
    bodies = {TABLE: TABLE_COLOUR}
    for i, obj in enumerate(spec.objects):
        bodies[obj.name] = BODY_COLOURS[i % len(BODY_COLOURS)]
    colours = Palette(bodies)
    legend = [LegendEntry("table (collision hulls)", TABLE_COLOUR)]
    legend += [
        LegendEntry(f"{o.name} ({roles[o.name]})" if roles[o.name] else o.name, bodies[o.name])
        for o in spec.objects
    ]
    legend += [
        LegendEntry(f"table frame {axis}", colour)
        for axis, colour in zip("xyz", colours.axes, strict=True)
    ]
    legend.append(LegendEntry("robot base (ring, spoke along its x)", colours.base))
    return colours, tuple(legend)


def build_view(root: Path, initial_condition: int = 0) -> EnvView:
    """Build the package's simulator at ``initial_condition`` and draw every camera.

    Raises:
        TwinbenchError: the package does not load, compile or render (naming file and field).
    """
    from sim_env.env import EnvConfig, TwinEnv  # gymnasium: only when a view is drawn

    env = TwinEnv(root, EnvConfig())
    try:
        env.reset(options={"initial_condition": initial_condition})
        spec = env.package.spec
        colours, legend = palette(spec)
        wireframes = package_wireframes(env.package, env.scene, env.data)
        markers = Markers(
            frame_axes(Pose(), AXIS_LENGTH), base_marker(spec.robot.base_pose, BASE_RADIUS)
        )
        panels = []
        for camera in spec.cameras:
            size = render_size(Intrinsics.of(camera))
            render = env.renderer.render_layers(env.data, camera.name, size).rgb
            pinhole = Pinhole.at(
                env.data, env.scene.cameras[camera.name], Intrinsics.of(camera).scaled(*size)
            )
            overlay = draw_overlay(render, pinhole, wireframes, markers, colours, OVERLAY_SCALE)
            fixed = camera.parent == "world"
            panels.append(CameraPanel(camera.name, render, overlay, pinhole, fixed))
        masses = {o.name: float(env.model.body_mass[o.body_id]) for o in env.scene.objects}
        return EnvView(tuple(panels), legend, masses)
    finally:
        env.close()


@st.cache_data(show_spinner=False, max_entries=16)
def cached_view(content_hash: str, _root: str) -> EnvView:
    """:func:`build_view` of the package at ``_root``, cached by ``content_hash`` alone."""
    return build_view(Path(_root))
