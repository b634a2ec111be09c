"""A top-down picture of the table: its points, the objects, the cameras and the robot base.

Drawn in world xy (the table plane, z = 0) with a grid in world units, so that a user can read
off where to put the robot (``--base X Y YAW``) and see where it landed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reconstruct.placement import ARM_REACH_M, ROBOT_INSET_M, Placement


@dataclass(frozen=True, eq=False)
class TopDown:
    """What the picture shows, world units (``per_metre`` of them to a metre).

    Attributes:
        table: ``[T, 2]`` xy of the table-plane points.
        standing: ``[J, 3]`` xyz of the points standing on the table (coloured by height).
        cameras: ``[N, 2]`` xy of the camera centres.
        outline: ``[K, 2]`` the table's convex outline, or None.
        placement: the robot base.
        per_metre: world units per metre.
        metric: whether world units are metres.
        objects: (name, xy ``[2]``, footprint radius) of named objects, if known.
    """

    table: np.ndarray
    standing: np.ndarray
    cameras: np.ndarray
    outline: np.ndarray | None
    placement: Placement
    per_metre: float = 1.0
    metric: bool = True
    objects: list[tuple[str, np.ndarray, float]] = field(default_factory=list)


def _extent(view: TopDown) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([view.placement.base.x, view.placement.base.y])
    parts = [view.table, view.standing[:, :2], base[None]]
    xy = np.concatenate([p for p in parts if len(p)])
    lo, hi = np.percentile(xy, 1, axis=0), np.percentile(xy, 99, axis=0)
    lo, hi = np.minimum(lo, base), np.maximum(hi, base)
    pad = 0.15 * float((hi - lo).max()) + ROBOT_INSET_M * view.per_metre
    return lo - pad, hi + pad


def draw_top_down(view: TopDown, path: Path) -> Path:
    """Write the picture as a PNG at ``path``; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyArrow, Polygon

    figure = Figure(figsize=(7, 7), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    unit = "m" if view.metric else "world units"
    if view.outline is not None:
        ax.add_patch(Polygon(view.outline, closed=True, fc="#f2e6d0", ec="#a08050", lw=1.5))
    if len(view.table):
        ax.scatter(*view.table.T, s=3, c="#8a7a60", label="table points")
    if len(view.standing):
        order = np.argsort(view.standing[:, 2])
        shown = ax.scatter(
            *view.standing[order, :2].T, s=4, c=view.standing[order, 2], cmap="viridis"
        )
        figure.colorbar(shown, ax=ax, shrink=0.7, label=f"height above the table ({unit})")
    if len(view.cameras):
        ax.scatter(*view.cameras.T, s=18, marker="^", c="#444444", label="cameras")
    for name, xy, radius in view.objects:
        ax.add_patch(Circle(xy, radius, fill=False, ec="#c03030", lw=1.2))
        ax.annotate(name, xy, ha="center", va="center", fontsize=8, color="#c03030")
    base = view.placement.base
    yaw = np.radians(base.yaw_deg)
    foot = ROBOT_INSET_M * view.per_metre
    ax.add_patch(Circle((base.x, base.y), foot, fc="#3060c0", alpha=0.5, label="robot base"))
    ax.add_patch(
        Circle((base.x, base.y), ARM_REACH_M * view.per_metre, fill=False, ls="--", ec="#3060c0")
    )
    ax.add_patch(
        FancyArrow(
            base.x,
            base.y,
            1.6 * foot * np.cos(yaw),
            1.6 * foot * np.sin(yaw),
            width=0.12 * foot,
            head_width=0.4 * foot,
            color="#3060c0",
        )
    )
    axis = 0.5 * foot
    ax.arrow(0, 0, axis * 3, 0, color="red", width=0.05 * axis)
    ax.arrow(0, 0, 0, axis * 3, color="green", width=0.05 * axis)
    lo, hi = _extent(view)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.grid(True, lw=0.4, alpha=0.6)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    source = f" ({view.placement.source})" if view.placement.source else ""
    ax.set_title(
        f"robot base x={base.x:.3f} y={base.y:.3f} yaw={base.yaw_deg:.0f} deg{source}\n"
        "dashed: the arm's reach; red/green: world x/y at the origin",
        fontsize=9,
    )
    ax.legend(loc="upper right", fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
