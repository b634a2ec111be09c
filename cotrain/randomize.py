"""Per-episode variation, so demonstrations are not one trajectory replayed.

Each episode draws, from its own seed: object poses around one of the package's initial
conditions and small camera extrinsic offsets (both from :mod:`sim_env.variation`), an
exposure and white-balance gain for every image, and the expert's approach (approach and lift
heights, grasp depth, joint speed, place clearance, and a grasp yaw among the object's
symmetric options).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from sim_env.env import TwinEnv
from sim_env.package import InitialCondition
from sim_env.planner import PickPlaceConfig
from sim_env.variation import (
    CameraPose,
    PoseVariation,
    draw_camera_poses,
    draw_free_conditions,
)

Interval = tuple[float, float]


@dataclass(frozen=True)
class RandomizationConfig:
    """Uniform ranges of the per-episode draws; a zero width turns a knob off."""

    poses: PoseVariation = field(default_factory=PoseVariation)  # objects and cameras
    exposure: Interval = (0.8, 1.2)  # image brightness gain
    white_balance: float = 0.08  # largest per-channel deviation of the colour gain
    approach_height: Interval = (0.08, 0.16)  # m
    lift_height: Interval = (0.12, 0.20)  # m
    grasp_depth: Interval = (0.0, 0.008)  # m
    joint_speed: Interval = (0.9, 1.5)  # rad/s
    place_clearance: Interval = (0.03, 0.08)  # m
    yaw_jitter: float = 0.08  # rad, added to the chosen symmetric grasp yaw

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class EpisodeVariation:
    """Everything random about one episode.

    Attributes:
        initial_condition: the package's initial condition the objects were placed around.
        condition: that initial condition with the objects moved (collision-free).
        camera_poses: camera -> (position [3], quaternion [4]) in its parent body's frame.
        colour_gain: [3] per-channel multiplier of every image.
        expert: the expert's approach for this episode.
    """

    initial_condition: int
    condition: InitialCondition
    camera_poses: Mapping[str, CameraPose]
    colour_gain: np.ndarray
    expert: PickPlaceConfig

    def summary(self) -> dict:
        """JSON-friendly record of the draws (stored with each staged episode)."""
        return {
            "initial_condition": self.initial_condition,
            "objects": {k: [list(p.pos), list(p.quat)] for k, p in self.condition.objects.items()},
            "cameras": {k: [p.tolist(), q.tolist()] for k, (p, q) in self.camera_poses.items()},
            "colour_gain": self.colour_gain.tolist(),
            "expert": asdict(self.expert),
        }


def _uniform(rng: np.random.Generator, interval: Interval) -> float:
    return float(rng.uniform(*interval))


def symmetric_yaws(half_extents: np.ndarray) -> tuple[float, ...]:
    """Grasp-yaw offsets that grip the same faces: quarter turns for a square footprint."""
    hx, hy = float(half_extents[0]), float(half_extents[1])
    if abs(hx - hy) <= 0.1 * max(hx, hy):
        return (-np.pi / 2, 0.0, np.pi / 2, np.pi)
    return (0.0, np.pi)


def sample_expert(
    rng: np.random.Generator, config: RandomizationConfig, half_extents: np.ndarray
) -> PickPlaceConfig:
    yaws = symmetric_yaws(half_extents)
    yaw = yaws[int(rng.integers(len(yaws)))] + float(rng.uniform(-1, 1)) * config.yaw_jitter
    return PickPlaceConfig(
        approach_height=_uniform(rng, config.approach_height),
        lift_height=_uniform(rng, config.lift_height),
        grasp_depth=_uniform(rng, config.grasp_depth),
        joint_speed=_uniform(rng, config.joint_speed),
        place_clearance=_uniform(rng, config.place_clearance),
        yaw_offset=yaw,
    )


def sample_variation(
    env: TwinEnv,
    rng: np.random.Generator,
    config: RandomizationConfig,
    conditions: Sequence[int],
    obj: str,
) -> EpisodeVariation:
    """One episode's draws; ``obj`` is the object the expert grasps (for its symmetry).

    When no collision-free placement is drawn in ``placement_attempts`` tries, the package's
    own poses (valid by construction) are used, so a crowded scene still yields episodes.
    """
    index = int(conditions[int(rng.integers(len(conditions)))])
    own = env.package.spec.initial_conditions[index]
    drawn = draw_free_conditions(rng, [env.scene], [own], config.poses)
    condition = own if drawn is None else drawn[0]
    cameras = draw_camera_poses(rng, env.scene, env.camera_names, config.poses)
    balance = rng.uniform(-config.white_balance, config.white_balance, 3)
    gain = _uniform(rng, config.exposure) * (1.0 + balance)
    expert = sample_expert(rng, config, env.scene.boxes[obj].half_extents)
    return EpisodeVariation(index, condition, cameras, gain, expert)


def apply_gain(image: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] image with each channel scaled by ``gain`` [3], clipped to 0..255."""
    return np.clip(image * np.asarray(gain, np.float32) + 0.5, 0, 255).astype(np.uint8)
