"""Drawing a package's projected geometry over a camera render (the environment view's right
image): hull outlines, mesh edges and names per body, the table frame's axes, the robot base.

The render is upscaled and dimmed first, so one-pixel lines stay thin and stand out on the
scan; the projection uses the intrinsics scaled to the drawing's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sim_env.overlay import Pinhole, Wireframe, hull_outline, project_segments

DIM = 0.55  # the render's brightness under the lines
EDGE_ALPHA = 150  # of 255: mesh edges, under the outlines
LABEL_SIZE = 14  # px at the drawing's size


@dataclass(frozen=True)
class Markers:
    """The frames drawn besides the bodies: world segments, metres."""

    table_axes: np.ndarray  # [3, 2, 3]: x, y, z from the table frame's origin
    base: np.ndarray  # [S, 2, 3]: the robot base marker


@dataclass(frozen=True)
class Palette:
    """Colours as ``#rrggbb``."""

    bodies: dict[str, str]  # wireframe name -> colour
    axes: tuple[str, str, str] = ("#ff3030", "#30e030", "#3080ff")
    base: str = "#ff40ff"


def _rgba(colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16 & 255, value >> 8 & 255, value & 255, alpha)


def _points(pixels: np.ndarray) -> list[tuple[float, float]]:
    """Renderer pixel coordinates (pixel i spans [i, i + 1)) -> PIL's (pixel i centred on i)."""
    return [(float(x) - 0.5, float(y) - 0.5) for x, y in pixels]


def draw_overlay(
    render: np.ndarray,
    camera: Pinhole,
    wireframes: list[Wireframe],
    markers: Markers,
    palette: Palette,
    scale: int = 2,
) -> np.ndarray:
    """[H * scale, W * scale, 3] uint8: ``render`` ([H, W, 3] uint8, seen by ``camera`` at its
    size) dimmed, with each wireframe's edges, hull outlines and name in its palette colour,
    the table frame's axes and the robot base on top."""
    h, w = render.shape[:2]
    size = (w * scale, h * scale)
    base = Image.fromarray(render).resize(size, Image.Resampling.BILINEAR)
    base = Image.fromarray((np.asarray(base, np.float32) * DIM).astype(np.uint8)).convert("RGBA")
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    scaled = Pinhole(camera.view, camera.intrinsics.scaled(*size))
    labels = []
    for frame in wireframes:
        colour = palette.bodies[frame.name]
        for segment in project_segments(frame.edges, scaled):
            draw.line(_points(segment), fill=_rgba(colour, EDGE_ALPHA), width=1)
        outlines = [hull_outline(v, e, scaled) for v, e in frame.hulls]
        outlines = [o for o in outlines if o is not None]
        for outline in outlines:
            draw.polygon(_points(outline), outline=_rgba(colour), width=2)
        if outlines:
            top = min((p for o in outlines for p in o), key=lambda p: p[1])
            labels.append((frame.name, colour, top))
    for colour, axis in zip(palette.axes, markers.table_axes, strict=True):
        for segment in project_segments(axis[None], scaled):  # none if behind the camera
            draw.line(_points(segment), fill=_rgba(colour), width=3)
    for segment in project_segments(markers.base, scaled):
        draw.line(_points(segment), fill=_rgba(palette.base), width=2)
    font = ImageFont.load_default(size=LABEL_SIZE)
    for name, colour, (x, y) in labels:
        draw.text(
            (x, y - 4), name, fill=_rgba(colour), font=font, anchor="mb",
            stroke_width=2, stroke_fill=(0, 0, 0, 255),
        )  # fmt: skip
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))
