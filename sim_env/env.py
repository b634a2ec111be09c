"""The twin as a gymnasium environment: DROID observations, absolute joint or velocity actions.

``render_mode="rgb_array"`` makes :meth:`TwinEnv.render` return the exterior camera's view
(uint8 [H, W, 3], the observation's size); ``None`` (the default) renders only observations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from sim_env import droid
from sim_env.control import ActionSpace, ArmController
from sim_env.errors import SimEnvError, SimulationDiverged
from sim_env.images import ImageSize
from sim_env.package import EnvPackage, load_package
from sim_env.render import Renderer
from sim_env.render.config import HybridConfig
from sim_env.rubric import RubricState, RubricTracker, compile_rubric
from sim_env.scene import (
    PhysicsConfig,
    SceneModel,
    apply_initial_condition,
    build_scene,
    check_initial_conditions,
)
from sim_env.stability import check_stability, clear_warnings


@dataclass(frozen=True)
class EnvConfig:
    """How an episode is run and observed (the package says what the world is)."""

    action_space: ActionSpace = "joint_position"
    image_size: ImageSize | None = None  # every camera is rendered into; (w, h) or "WxH" too
    cameras: tuple[str, ...] | None = None  # which cameras to observe; None = all
    renderer: str = "auto"  # "mujoco", "splats" or "auto" (splats when the package has them)
    hybrid: HybridConfig = field(default_factory=HybridConfig)  # settings of the splat renderer
    terminate_on_success: bool = True
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)

    def __post_init__(self) -> None:
        if self.image_size is not None:
            object.__setattr__(self, "image_size", ImageSize.coerce(self.image_size))


class TwinEnv(gym.Env):
    """One environment package, simulated. reset(options={"initial_condition": i}) picks the
    package's i-th initial condition; without it, ``seed % n`` (or the next one in order).

    Spaces are ``sim_env.droid``'s: the action is bounded by the joint limits (joint_position)
    or [-1, 1] (joint_velocity), then the gripper's [0, 1]; joint positions read within the
    joint limits, the gripper within [0, 1], images are uint8.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": droid.CONTROL_HZ,
    }

    def __init__(
        self,
        package: EnvPackage | str | os.PathLike[str],
        config: EnvConfig = EnvConfig(),
        render_mode: str | None = None,
        **overrides: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise SimEnvError(
                f"unknown render_mode {render_mode!r} "
                f"(valid: None, {', '.join(map(repr, self.metadata['render_modes']))})"
            )
        if overrides:
            config = EnvConfig(**{**config.__dict__, **overrides})
        self.render_mode = render_mode
        self.package = package if isinstance(package, EnvPackage) else load_package(Path(package))
        self.config = config
        self.scene: SceneModel = build_scene(self.package, config.physics)
        check_initial_conditions(self.scene, self.package)
        self.model = self.scene.model
        self.data = mujoco.MjData(self.model)
        spec = self.package.spec
        self.control_period = 1.0 / spec.episode.control_hz
        self.substeps = config.physics.substeps(spec.episode.control_hz)
        self.horizon = spec.episode.horizon_steps
        self.metadata = {**self.metadata, "render_fps": spec.episode.control_hz}
        self.instruction = spec.instruction
        self.camera_names = (
            tuple(c.name for c in spec.cameras) if config.cameras is None else config.cameras
        )
        unknown = set(self.camera_names) - set(self.scene.cameras)
        if unknown:
            raise SimEnvError(
                f"unknown camera(s) {sorted(unknown)} (package has {sorted(self.scene.cameras)})"
            )
        self.controller = ArmController(
            self.scene, config.action_space, self.control_period, self.substeps
        )
        self.tracker = RubricTracker(compile_rubric(spec, self.package.root), self.scene.boxes)
        self._renderer: Renderer | None = None
        self._next_condition = 0
        self.initial_condition = 0
        self.steps = 0
        self.diverged: SimulationDiverged | None = None  # set by a divergence until reset()
        self.action_space = droid.action_space(config.action_space)
        self.observation_space = droid.observation_space(
            {name: self._image_size(name) for name in self.camera_names}
        )

    # -- rendering -------------------------------------------------------------------------
    def _image_size(self, camera: str) -> ImageSize:
        if self.config.image_size:
            return self.config.image_size
        w, h = self.model.cam_resolution[self.scene.cameras[camera]]
        return ImageSize(int(w), int(h))

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            from sim_env.render.select import make_renderer

            self._renderer = make_renderer(
                self.package, self.scene, self.config.renderer, self.config.hybrid
            )
        return self._renderer

    def images(self) -> dict[str, np.ndarray]:
        return {
            name: self.renderer.render(self.data, name, self.config.image_size)
            for name in self.camera_names
        }

    @property
    def render_camera(self) -> str:
        """The camera ``render()`` shows: DROID's exterior camera, else the package's first."""
        names = [camera.name for camera in self.package.spec.cameras]
        return droid.EXTERIOR_IMAGE if droid.EXTERIOR_IMAGE in names else names[0]

    def render(self) -> np.ndarray:
        """The exterior camera's view, uint8 [H, W, 3] (``render_mode="rgb_array"``).

        Raises:
            SimEnvError: the env was made with ``render_mode=None``.
        """
        if self.render_mode != "rgb_array":
            raise SimEnvError(
                f"render() needs render_mode='rgb_array' (this env has {self.render_mode!r}): "
                "pass it to sim_env.make or gymnasium.make"
            )
        return self.renderer.render(self.data, self.render_camera, self.config.image_size)

    # -- state -----------------------------------------------------------------------------
    def rubric_state(self) -> RubricState:
        d = self.data
        return RubricState(
            object_pos={o.name: d.xpos[o.body_id].copy() for o in self.scene.objects},
            object_rot={o.name: d.xmat[o.body_id].reshape(3, 3).copy() for o in self.scene.objects},
            tcp_pos=d.site_xpos[self.scene.tcp_site].copy(),
            gripper=self.scene.gripper_closure(d),
        )

    def privileged_state(self) -> dict[str, Any]:
        """Object poses and the gripper's pinch point: for scripted policies and rubrics only."""
        d = self.data
        return {
            "objects": {
                o.name: {"pos": d.xpos[o.body_id].copy(), "quat": d.xquat[o.body_id].copy()}
                for o in self.scene.objects
            },
            "tcp_pos": d.site_xpos[self.scene.tcp_site].copy(),
            "tcp_mat": d.site_xmat[self.scene.tcp_site].reshape(3, 3).copy(),
        }

    def proprioception(self) -> dict[str, np.ndarray]:
        """Joint positions (within the joint limits, as the arm reports them) and the gripper."""
        joints = np.clip(
            self.data.qpos[self.scene.arm_qpos_adr], droid.JOINT_LOWER, droid.JOINT_UPPER
        )
        return {
            droid.JOINT_POSITION: joints.astype(np.float32),
            droid.GRIPPER_POSITION: np.array(
                [self.scene.gripper_closure(self.data)], dtype=np.float32
            ),
        }

    def observe(self, images: bool = True) -> dict[str, np.ndarray]:
        obs = self.proprioception()
        if images:
            obs.update(self.images())
        return obs

    def _info(self) -> dict[str, Any]:
        return {
            "progress": self.tracker.progress,
            "success": self.tracker.success,
            "criteria": self.tracker.reached(),
            "initial_condition": self.initial_condition,
            "steps": self.steps,
            "privileged": self.privileged_state(),
        }

    # -- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        n = len(self.package.spec.initial_conditions)
        if options and "initial_condition" in options:
            index = int(options["initial_condition"])
            if not 0 <= index < n:
                raise SimEnvError(
                    f"initial_condition {index} out of range: the package has {n} (0..{n - 1})"
                )
        elif seed is not None:
            index = seed % n
        else:
            index = self._next_condition
        self._next_condition = (index + 1) % n
        self.initial_condition = index
        apply_initial_condition(self.scene, self.data, self.package.spec.initial_conditions[index])
        self.controller.reset(self.data)
        self.steps = 0
        self.diverged = None
        self.tracker.reset(self.rubric_state())
        self.tracker.update(self.rubric_state(), 0)
        return self.observe(), self._info()

    def advance(self, action: np.ndarray) -> tuple[float, bool, bool]:
        """One control step without building an observation; returns (reward, terminated, truncated).

        Chunked policies read an observation only every few steps: stepping with ``advance``
        in between skips rendering.

        Raises:
            SimulationDiverged: MuJoCo warned during the step (it resets the state on a bad
                position, velocity or acceleration, zeroes bad controls, drops contacts past
                its memory) or the state is not finite. The env refuses to step until reset.
        """
        if self.diverged is not None:
            raise SimEnvError(
                f"the simulation diverged at step {self.diverged.step}; call reset() first"
            )
        before = self.tracker.progress
        clear_warnings(self.data)
        self.controller.step(self.model, self.data, action)
        self.steps += 1
        try:
            check_stability(self.model, self.data, self.steps)
        except SimulationDiverged as exc:
            self.diverged = exc
            raise
        self.tracker.update(self.rubric_state(), self.steps)
        terminated = self.config.terminate_on_success and self.tracker.success
        return self.tracker.progress - before, terminated, self.steps >= self.horizon

    def step(self, action: np.ndarray):
        reward, terminated, truncated = self.advance(action)
        return self.observe(), reward, terminated, truncated, self._info()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
