"""sim_env figures: physics and control rates, the choice of timestep, camera render times.

Run ``python -m benchmarks.sim_env [--quick]``; prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import figures
from sim_env.env import EnvConfig, TwinEnv
from sim_env.planner import PickPlaceExpert
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.scene import PhysicsConfig, penetrations

emit = partial(figures.emit, "sim_env")


def expert_episode(env: TwinEnv, index: int) -> tuple[bool, float]:
    """Run the pick-and-place expert; returns success and the deepest object contact (m)."""
    obs, info = env.reset(options={"initial_condition": index})
    expert = PickPlaceExpert(env.scene, "cube", "bowl")
    deepest = 0.0
    for _ in range(env.horizon):
        obs, _, terminated, truncated, info = env.step(
            expert.act(info["privileged"], obs["joint_position"])
        )
        objects = env.scene.object_geoms
        depths = [
            float(-c.dist)
            for c in env.data.contact[: env.data.ncon]
            if {int(c.geom1), int(c.geom2)} & objects
        ]
        deepest = max([deepest, *depths])
        if terminated or truncated:
            break
    return bool(info["success"]), deepest


def timestep_choice(package, episodes: int) -> None:
    """Grasp success, contact depth and cost for candidate timesteps (control stays 15 Hz)."""
    for hz in (120, 240, 480):
        env = TwinEnv(package, EnvConfig(cameras=(), physics=PhysicsConfig(timestep=1.0 / hz)))
        start = time.perf_counter()
        results = [expert_episode(env, i % 10) for i in range(episodes)]
        wall = time.perf_counter() - start
        case = f"dt_1/{hz}"
        emit(case, "pick_place_success", float(np.mean([r[0] for r in results])), "fraction")
        emit(case, "max_contact_depth", max(r[1] for r in results) * 1000, "mm")
        emit(case, "wall_per_episode", wall / episodes, "s")
        assert not penetrations(env.scene, env.data, tolerance=0.01)


def rates(package, seconds: float) -> None:
    """Physics steps/s and control steps/s with the robot moving, no rendering."""
    env = TwinEnv(package, EnvConfig(cameras=(), terminate_on_success=False))
    env.reset(options={"initial_condition": 0})
    target = np.concatenate([env.proprioception()["joint_position"], [0.0]])
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        target[:7] += 0.01 * np.sin(steps / 10.0)
        env.advance(target)
        steps += 1
    wall = time.perf_counter() - start
    emit("droid_3_objects", "control_steps_per_s", steps / wall, "1/s")
    emit("droid_3_objects", "physics_steps_per_s", steps * env.substeps / wall, "1/s")
    emit("droid_3_objects", "realtime_factor", steps / 15.0 / wall, "x")


def render_times(package, repeats: int) -> None:
    """Per-camera MuJoCo render time (shadows off), at 224x224 and 1280x720."""
    for size in ((224, 224), (1280, 720)):
        env = TwinEnv(package, EnvConfig(image_size=size, renderer="mujoco"))
        env.reset(options={"initial_condition": 0})
        env.images()  # warm up the GL contexts
        for camera in env.camera_names:
            start = time.perf_counter()
            for _ in range(repeats):
                env.renderer.render(env.data, camera, size)
            emit(
                f"{size[0]}x{size[1]}_{camera}",
                "render_ms",
                (time.perf_counter() - start) / repeats * 1000,
                "ms",
            )
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer episodes and repeats")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = write_primitive_package(
            Path(tmp) / "bench", PrimitiveSceneConfig(distractors=1, camera_size=(1280, 720))
        )
        rates(package, 2.0 if args.quick else 10.0)
        render_times(package, 5 if args.quick else 30)
        timestep_choice(package, 4 if args.quick else 20)


if __name__ == "__main__":
    main()
