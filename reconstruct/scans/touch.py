"""A scripted episode for an object too big to grasp: the arm touches its top.

A real scan whose one object is wider than the gripper (the Buddha head) gets a touch task (a
``reach`` criterion). This drives the pick-and-place expert's touch (no container: approach
and descend to ``clearance`` above the object's box top) without the policy machinery and
stops once the descent is done; the episode's rubric says whether it succeeded. The bundled
build and the tests use it to show an episode runs on a reconstructed package; ``twinbench
eval --policy scripted`` runs the same touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim_env.cameras import quat_to_mat
from sim_env.env import EnvConfig, TwinEnv
from sim_env.planner import Phase, PickPlaceConfig, PickPlaceExpert


@dataclass(frozen=True)
class TouchOutcome:
    success: bool
    progress: float
    steps: int  # control steps taken
    tcp_to_top_m: float  # the pinch point's height above the object's box top at the end


def touch_episode(
    package: Path, obj: str, *, condition: int = 0, clearance: float = 0.01
) -> TouchOutcome:
    """Run one episode of ``package`` (initial condition ``condition``, no cameras): approach
    ``obj`` from above and come down to ``clearance`` metres over its top."""
    env = TwinEnv(package, EnvConfig(cameras=()))
    try:
        obs, info = env.reset(options={"initial_condition": condition})
        expert = PickPlaceExpert(env.scene, obj, None, PickPlaceConfig(touch_clearance=clearance))
        steps = 0
        while steps < env.horizon and expert.phase < Phase.DONE:
            action = expert.act(info["privileged"], obs["joint_position"])
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            if terminated or truncated:
                break
        state, box = info["privileged"], env.scene.boxes[obj]
        placed = state["objects"][obj]
        centre = placed["pos"] + quat_to_mat(placed["quat"]) @ box.center
        top = float(centre[2] + box.half_extents[2])  # upright
        return TouchOutcome(
            bool(info["success"]), float(info["progress"]), steps, float(state["tcp_pos"][2]) - top
        )
    finally:
        env.close()
