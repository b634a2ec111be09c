"""Match a twin's splat colours to the real cameras: fit each camera's colour map from frames
of a state both worlds can show, and write the twin with it as an opt-in ``render`` section.

The source world plays the real robot: its frames stand for one picture per robot camera of
the scanned scene (at a known arm pose), which is all a real deployment needs for this. Only
pixels where both worlds show the static scene or objects (not the robot, fully covered by
splats) enter the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim_env.package import EnvPackage
from sim_env.package.schema import SplatRenderSpec
from sim_env.render.colour import fit_colour
from studies.fidelity.gap_frames import FramePair
from studies.fidelity.variants import write_variant

__all__ = ["COVERED_ALPHA", "fit_camera_colour", "scene_mask", "styled_twin"]

COVERED_ALPHA = 0.95  # splat alpha above which a twin pixel is all splat


def scene_mask(pair: FramePair) -> np.ndarray:
    """[H, W] bool: pixels where both worlds show the scene (no robot, splats fully cover)."""
    return (
        ~pair.source_robot
        & ~pair.twin_robot
        & np.isfinite(pair.source_depth)
        & (pair.splat_alpha > COVERED_ALPHA)
    )


def fit_camera_colour(frames: Sequence[FramePair]) -> list[list[float]]:
    """The 3x4 map (M | b) taking the twin's colours to the source's over ``frames`` (one
    camera's calibration views)."""
    masks = [scene_mask(f) for f in frames]
    twin = np.concatenate([f.twin[m] for f, m in zip(frames, masks, strict=True)]) / 255.0
    real = np.concatenate([f.source[m] for f, m in zip(frames, masks, strict=True)]) / 255.0
    return fit_colour(twin, real).round(5).tolist()


def styled_twin(twin: EnvPackage, render: SplatRenderSpec, root: Path) -> EnvPackage:
    """The twin written under ``root`` with ``render`` as its splat look (name ``*_styled``)."""
    spec = twin.spec.model_dump(mode="json")
    spec["render"] = render.model_dump(mode="json")
    spec["format_version"] = 2  # the first version that has ``render``
    files = {rel: twin.path(rel) for rel in twin.spec.referenced_files()}
    look = ", ".join(
        (["antialiased"] if render.antialiased else [])
        + [f"colour map for {c}" for c in sorted(render.colour)]
    )
    origin = f"twin {twin.name} ({twin.content_hash[:12]}) with {look or 'no change'}"
    return write_variant(spec, files, root, twin, origin, f"{twin.name}_styled")
