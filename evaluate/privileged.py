"""Policies that read the simulator's ground truth (object poses): scripted experts, never
learned policies.

A learned policy only ever sees an :class:`~evaluate.policy.Observation`. A scripted baseline
needs more: where the objects are, and the scene and task it acts in. It declares that by
subclassing :class:`PrivilegedPolicy`; the rollout loop hands privileged state to exactly those
policies, so nothing a learned policy is scored on can leak ground truth.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evaluate.policy import ActionChunk, Observation, Policy, PolicyError
from sim_env.package import EnvPackageSpec
from sim_env.rubric import expert_task, pick_place_task
from sim_env.scene import SceneModel

__all__ = ["PrivilegedPolicy", "PrivilegedState", "SimTask", "expert_task", "pick_place_task"]

PrivilegedState = Mapping[str, Any]  # TwinEnv.privileged_state(): objects, tcp_pos, tcp_mat


@dataclass(frozen=True, eq=False)
class SimTask:
    """The simulated world of one episode, as a privileged policy may know it.

    Attributes:
        scene: the compiled MuJoCo scene (object boxes, robot addresses).
        spec: the environment package's spec (instruction, rubric).
        seed: the episode's seed; a privileged policy draws all its randomness from it.
    """

    scene: SceneModel
    spec: EnvPackageSpec
    seed: int


class PrivilegedPolicy(Policy):
    """A policy that acts on privileged simulator state as well as the observation."""

    @abc.abstractmethod
    def begin_episode(self, task: SimTask) -> None:
        """Bind to the episode's scene, task and seed; called after :meth:`reset`."""

    @abc.abstractmethod
    def infer_privileged(
        self, obs: Observation, instruction: str, state: PrivilegedState
    ) -> ActionChunk:
        """Return the next chunk from the observation and the privileged ``state``."""

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        raise PolicyError(
            f"{self.metadata.policy_id} reads the simulator's privileged state: it runs only "
            "inside evaluate's rollout loop, not behind a policy server"
        )
