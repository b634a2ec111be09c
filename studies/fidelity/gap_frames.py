"""Frames of the same state in a source world and its twin, with the layers the gap report
measures: the source's depth and robot mask (MuJoCo), the twin's composite, its splat alpha
and depth, and which of its pixels the robot wins.

Both worlds are put in the same state (each object at its own package's pose of the same
initial condition, the arm at the same joint angles) and rendered by their evaluation
renderers: the source by MuJoCo, the twin by the hybrid splat renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim_env.package import EnvPackage, InitialCondition
from sim_env.render.composite import MIN_SPLAT_ALPHA
from sim_env.render.config import HybridConfig
from sim_env.render.hybrid import HybridRenderer
from sim_env.render.mujoco_renderer import VISUAL_GROUPS, MujocoRenderer
from sim_env.scene import ROBOT_VISUAL_GROUP, apply_initial_condition, build_scene
from studies.fidelity.gap_metrics import dilate

__all__ = ["FLOATER_MARGIN", "FramePair", "WorldPair"]

FLOATER_MARGIN = 0.03  # m: a splat surface this far in front of the true one floats
FLOATER_ALPHA = 0.3  # splat alpha above which a pixel shows a splat surface
HOLE_ALPHA = 0.5  # splat alpha below which a scene pixel is a hole


@dataclass(frozen=True, eq=False)
class FramePair:
    """One camera's view of one state in both worlds, at one size (unpadded)."""

    source: np.ndarray  # [H, W, 3] uint8
    source_depth: np.ndarray  # [H, W] metres, inf where nothing
    source_robot: np.ndarray  # [H, W] bool, the robot's pixels
    source_no_robot: np.ndarray  # [H, W, 3] uint8, the source with the robot hidden
    twin: np.ndarray  # [H, W, 3] uint8, the hybrid composite
    splat_alpha: np.ndarray  # [H, W]
    splat_depth: np.ndarray  # [H, W] metres (0 where no splat)
    twin_robot: np.ndarray  # [H, W] bool, pixels where the MuJoCo robot wins the composite

    def floaters(self, margin: float = FLOATER_MARGIN) -> np.ndarray:
        """[H, W] bool: splat surfaces more than ``margin`` m in front of the true surface (or
        where there is none), off the robot and off the true depth's silhouettes (where a
        splat pixel's expected depth mixes both sides)."""
        nearer = self.splat_depth < self.source_depth - margin
        depth = np.where(np.isfinite(self.source_depth), self.source_depth, 1e3)
        jumps = np.zeros(depth.shape, bool)
        jumps[:, 1:] |= np.abs(np.diff(depth, axis=1)) > margin
        jumps[:, :-1] |= np.abs(np.diff(depth, axis=1)) > margin
        jumps[1:] |= np.abs(np.diff(depth, axis=0)) > margin
        jumps[:-1] |= np.abs(np.diff(depth, axis=0)) > margin
        off = ~dilate(jumps | self.source_robot, 1)
        return (self.splat_alpha > FLOATER_ALPHA) & nearer & off

    def holes(self) -> np.ndarray:
        """[H, W] bool: scene pixels of the source that the splats leave mostly uncovered."""
        scene = np.isfinite(self.source_depth) & ~self.source_robot & ~self.twin_robot
        return scene & (self.splat_alpha < HOLE_ALPHA)


class WorldPair:
    """A source world and its twin, rendered side by side."""

    def __init__(self, source: EnvPackage, twin: EnvPackage, hybrid: HybridConfig):
        self.source_scene, self.twin_scene = build_scene(source), build_scene(twin)
        self.source_data = mujoco.MjData(self.source_scene.model)
        self.twin_data = mujoco.MjData(self.twin_scene.model)
        self.source_renderer = MujocoRenderer(self.source_scene.model)
        groups = tuple(g for g in VISUAL_GROUPS if g != ROBOT_VISUAL_GROUP)
        self.source_bare = MujocoRenderer(self.source_scene.model, groups=groups)
        self.twin_renderer = HybridRenderer(twin, self.twin_scene, hybrid)
        self._robot_geoms = np.array(sorted(self.source_scene.robot_geoms))

    def set_state(
        self,
        source_ic: InitialCondition,
        twin_ic: InitialCondition,
        arm_qpos: np.ndarray | None = None,  # [7] rad; None: the initial condition's
    ) -> None:
        for scene, data, ic in (
            (self.source_scene, self.source_data, source_ic),
            (self.twin_scene, self.twin_data, twin_ic),
        ):
            apply_initial_condition(scene, data, ic)
            if arm_qpos is not None:
                data.qpos[scene.arm_qpos_adr] = arm_qpos
                mujoco.mj_forward(scene.model, data)

    def frame(self, camera: str, size: tuple[int, int]) -> FramePair:
        """Both worlds' views of ``camera`` at the largest size of its aspect within ``size``."""
        src = self.source_renderer.render_layers(
            self.source_data, camera, size, depth=True, segmentation=True
        )
        bare = self.source_bare.render_layers(self.source_data, camera, size)
        twin = self.twin_renderer.render_layers(self.twin_data, camera, size)
        alpha, depth = self._splat_layers(camera, size)
        h, w = alpha.shape
        mesh = self.twin_renderer.mesh.render_layers(self.twin_data, camera, (w, h), depth=True)
        drawn = np.isfinite(mesh.depth)
        twin_robot = drawn & ((mesh.depth < depth) | (alpha < MIN_SPLAT_ALPHA))
        return FramePair(
            source=src.rgb,
            source_depth=src.depth,
            source_robot=np.isin(src.segmentation, self._robot_geoms),
            source_no_robot=bare.rgb,
            twin=twin.rgb,
            splat_alpha=alpha,
            splat_depth=depth,
            twin_robot=twin_robot,
        )

    def _splat_layers(self, camera: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The twin's splat alpha and expected depth alone, as its renderer rasterizes them."""
        _, depth, alpha = self.twin_renderer.splat_layers(self.twin_data, camera, size)
        return alpha, depth

    def close(self) -> None:
        for renderer in (self.source_renderer, self.source_bare, self.twin_renderer):
            renderer.close()
