"""The typed rows of a results store: runs, episodes and jobs (frozen, validated on creation)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from evaluate.errors import EvaluateError

JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class RunRecord:
    """One evaluation run: the config it ran with and the twinbench that ran it."""

    run_id: str
    created: float  # unix time [s]
    config: Mapping[str, object]
    twinbench_version: str


@dataclass(frozen=True)
class EpisodeKey:
    """What makes an episode unique within a run; a resumed run skips keys already stored."""

    policy_id: str
    env_id: str
    env_hash: str
    initial_condition: int
    seed: int


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode, as a worker records it.

    ``criteria`` maps each rubric criterion's name to the first control step at which it was
    reached, or None if it never was. ``failure_reason`` is None for an episode that ran to
    its end; otherwise it says why it stopped early (policy server gone, sim diverged).
    """

    run_id: str
    policy_id: str
    env_id: str
    env_hash: str
    initial_condition: int
    seed: int
    success: bool
    progress: float  # fraction of rubric criteria reached, [0, 1]
    criteria: Mapping[str, int | None]
    length_steps: int
    wall_time_s: float
    latency_mean_s: float
    latency_max_s: float
    failure_reason: str | None = None
    video_path: str | None = None
    created: float = field(default_factory=time.time)  # unix time [s]

    def __post_init__(self) -> None:
        for name in ("run_id", "policy_id", "env_id", "env_hash"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise EvaluateError(f"expected a non-empty string, got {value!r}", field=name)
        for name in ("initial_condition", "seed", "length_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EvaluateError(f"expected an integer >= 0, got {value!r}", field=name)
        if not isinstance(self.success, bool):
            raise EvaluateError(f"expected a bool, got {self.success!r}", field="success")
        if not 0.0 <= float(self.progress) <= 1.0:
            raise EvaluateError(
                f"expected a fraction in [0, 1], got {self.progress!r}", field="progress"
            )
        for name in ("wall_time_s", "latency_mean_s", "latency_max_s"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise EvaluateError(f"expected seconds >= 0, got {value!r}", field=name)
        for name, step in self.criteria.items():
            if not isinstance(name, str) or not (
                step is None or (isinstance(step, int) and not isinstance(step, bool) and step >= 0)
            ):
                raise EvaluateError(
                    f"expected criterion name -> first step reached (int >= 0) or None, got {name!r}: {step!r}",
                    field="criteria",
                )

    @property
    def key(self) -> EpisodeKey:
        return EpisodeKey(
            self.policy_id, self.env_id, self.env_hash, self.initial_condition, self.seed
        )


@dataclass(frozen=True)
class JobRecord:
    """A queued evaluation: a policy over some environments, claimed and run by one worker.

    ``attempts`` counts claims; ``run_id`` is set by the worker once it has a run, so a job
    requeued after a dead worker resumes the same run.
    """

    job_id: str
    created: float  # unix time [s]
    policy_spec: str
    envs: tuple[str, ...]
    episodes: int  # per environment
    seed: int
    state: JobState
    reason: str | None
    worker_id: str | None
    heartbeat: float | None
    started: float | None
    finished: float | None
    run_id: str | None
    attempts: int
