"""What every usable environment package satisfies, checked by simulating and rendering it.

``load_package`` checks the files and ``check_initial_conditions`` the start states; these
checks go further, the way a user would find out the hard way: from every initial condition,
the world settles with the arm holding still, nothing ends up interpenetrating or moving, every
camera renders a picture (not one flat colour), and the rubric scores nothing yet.
``twinbench env validate --deep`` runs them, and the test suite runs them on every package a
test builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import SimEnvError
from sim_env.package import EnvPackage, InitialCondition
from sim_env.scene import penetration_advice, penetrations


@dataclass(frozen=True)
class InvariantConfig:
    """How long to settle, how still is settled, and the size cameras are rendered at."""

    settle_steps: int = 15  # control steps with the arm holding its start pose (1 s at 15 Hz)
    max_object_speed: float = 0.05  # m/s (and rad/s), at the end of settling
    image_size: tuple[int, int] = (64, 48)  # (width, height)
    renderer: str = "auto"


def invariant_violations(
    package: EnvPackage, config: InvariantConfig = InvariantConfig()
) -> list[str]:
    """Descriptions of every broken invariant, each naming the initial condition or camera;
    empty when the package is sound."""
    env = TwinEnv(package, EnvConfig(image_size=config.image_size, renderer=config.renderer))
    try:
        problems = []
        for index, condition in enumerate(package.spec.initial_conditions):
            where = f"initial_conditions[{index}]"
            obs, info = env.reset(options={"initial_condition": index})
            reached = reached_at_reset(info)
            if reached:
                problems.append(f"{where}: the rubric scores {reached} reached at reset")
            if index == 0:
                problems += _image_problems(obs, env.camera_names)
            problems += _settling_problems(env, condition, where, config)
        return problems
    finally:
        env.close()


def _settling_problems(
    env: TwinEnv, condition: InitialCondition, where: str, config: InvariantConfig
) -> list[str]:
    """What holding ``condition``'s arm pose for ``settle_steps`` after its reset shows: no
    settling, bodies interpenetrating after it, objects still moving at its end."""
    hold = np.array([*condition.arm_qpos, condition.gripper])
    try:
        for _ in range(config.settle_steps):
            env.advance(hold)
    except SimEnvError as exc:
        return [f"{where}: does not settle: {exc}"]
    problems = []
    found = penetrations(env.scene, env.data)
    if found:
        advice = penetration_advice(env.package)
        problems.append(f"{where}: after settling, {'; '.join(found)}; {advice}")
    for obj in env.scene.objects:
        speed = np.abs(env.data.qvel[obj.qvel_adr : obj.qvel_adr + 6]).max()
        if speed > config.max_object_speed:
            problems.append(
                f"{where}: {obj.name} still moves at {speed:.3f} m/s or rad/s after "
                f"{config.settle_steps} steps"
            )
    return problems


def reached_at_reset(info: dict[str, Any]) -> list[str]:
    """The rubric criteria a reset's ``info`` says are already reached: a start state that
    scores before the policy acts says nothing about the policy."""
    return [name for name, step in info["criteria"].items() if step is not None]


@dataclass(frozen=True)
class StartState:
    """What ``--deep`` would say of one initial condition, cameras aside."""

    reached_at_reset: list[str]  # rubric criteria already reached
    settling: list[str]  # what settling shows (``invariant_violations``' check)


def start_states(
    package: EnvPackage, config: InvariantConfig = InvariantConfig()
) -> list[StartState]:
    """Each initial condition's ``StartState``: a criterion reached at reset, an object
    hanging over the table's edge that still moves, one inside another pushed out. No camera
    is rendered, so the package stage can check its candidates cheaply."""
    env = TwinEnv(package, EnvConfig(cameras=()))
    try:
        found = []
        for index, condition in enumerate(package.spec.initial_conditions):
            reached = reached_at_reset(env.reset(options={"initial_condition": index})[1])
            where = f"initial_conditions[{index}]"
            found.append(StartState(reached, _settling_problems(env, condition, where, config)))
        return found
    finally:
        env.close()


def _image_problems(obs: dict[str, np.ndarray], cameras: tuple[str, ...]) -> list[str]:
    problems = []
    for name in cameras:
        image = obs[name]
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            problems.append(f"camera {name}: rendered {image.dtype} {image.shape}, not uint8 HxWx3")
        elif int(image.max()) - int(image.min()) < 8:
            problems.append(f"camera {name}: renders one flat colour ({int(image.mean())})")
    return problems
