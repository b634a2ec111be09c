"""The typed rows of a results store: runs, episodes and jobs (frozen, validated on creation).

An episode is one :class:`EpisodeRecord`: the run it belongs to, its :class:`EpisodeKey`
(which episode) and its :class:`EpisodeOutcome` (what happened). The rollout returns the
outcome, workers record and report the record, and every reader (summaries, correlation,
fidelity, the dashboard) reads the same fields back.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from evaluate.errors import EvaluateError

JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")

FailureKind = Literal["policy", "timeout", "sim", "diverged", "error"]
"""Why an episode ended early. policy: the policy raised or returned unusable actions;
timeout: it overran its deadline; sim: the environment rejected the episode (bad initial
condition, bad action); diverged: the physics blew up; error: the infrastructure failed
(the worker running it died on every attempt, or the policy's server was unreachable, went
away, did not answer in time or sent a frame that is not a reply). An errored episode is run
again when its run resumes."""
FAILURE_KINDS: tuple[FailureKind, ...] = ("policy", "timeout", "sim", "diverged", "error")
EXCLUDED_KINDS: tuple[FailureKind, ...] = ("diverged", "error")
"""Failures that are not the policy's: such episodes are left out of success rates and
correlations, and counted on their own."""


@dataclass(frozen=True)
class RunRecord:
    """One evaluation run: the config it ran with and the twinbench that ran it."""

    run_id: str
    created: float  # unix time [s]
    config: Mapping[str, object]
    twinbench_version: str


def _check_name(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise EvaluateError(f"expected a non-empty string, got {value!r}", field=name)


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EvaluateError(f"expected an integer >= 0, got {value!r}", field=name)


def _is_number(value: object) -> bool:
    """A finite real number (numpy's included), not a bool, not a string."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_text_or_none(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise EvaluateError(f"expected a text or None, got {value!r}", field=name)


@dataclass(frozen=True)
class EpisodeKey:
    """Which episode: unique within a run; a resumed run skips keys already stored."""

    policy_id: str  # the policy's spec
    env_id: str
    env_hash: str  # content hash of the environment package it runs on
    initial_condition: int
    seed: int

    def __post_init__(self) -> None:
        for name in ("policy_id", "env_id", "env_hash"):
            _check_name(name, getattr(self, name))
        for name in ("initial_condition", "seed"):
            _check_count(name, getattr(self, name))


@dataclass(frozen=True)
class EpisodeOutcome:
    """What one episode did.

    ``criteria`` maps each rubric criterion's name to the first control step at which it was
    reached, or None if it never was. ``failure_kind`` and ``failure_reason`` are both None
    for an episode that ran to success or its horizon; otherwise they say why it stopped
    early. An episode whose kind is in :data:`EXCLUDED_KINDS` does not count (``counts``).
    """

    success: bool
    progress: float  # fraction of rubric criteria reached, [0, 1]
    criteria: Mapping[str, int | None]
    length_steps: int  # control steps executed
    wall_time_s: float
    latency_mean_s: float  # policy inference, per call [s]
    latency_max_s: float
    failure_kind: FailureKind | None = None
    failure_reason: str | None = None
    video_path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.success, bool):
            raise EvaluateError(f"expected a bool, got {self.success!r}", field="success")
        if not _is_number(self.progress) or not 0.0 <= float(self.progress) <= 1.0:
            raise EvaluateError(
                f"expected a fraction in [0, 1], got {self.progress!r}", field="progress"
            )
        _check_count("length_steps", self.length_steps)
        for name in ("wall_time_s", "latency_mean_s", "latency_max_s"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise EvaluateError(f"expected seconds >= 0, got {value!r}", field=name)
        if not isinstance(self.criteria, Mapping):
            raise EvaluateError(
                f"expected criterion name -> first step reached, got {self.criteria!r}",
                field="criteria",
            )
        for name, step in self.criteria.items():
            if not isinstance(name, str) or not (
                step is None or (isinstance(step, int) and not isinstance(step, bool) and step >= 0)
            ):
                raise EvaluateError(
                    f"expected criterion name -> first step reached (int >= 0) or None, got {name!r}: {step!r}",
                    field="criteria",
                )
        if self.failure_kind is not None and self.failure_kind not in FAILURE_KINDS:
            raise EvaluateError(
                f"unknown failure kind {self.failure_kind!r}; expected one of {', '.join(FAILURE_KINDS)}",
                field="failure_kind",
            )
        _check_text_or_none("failure_reason", self.failure_reason)
        _check_text_or_none("video_path", self.video_path)
        if (self.failure_kind is None) != (self.failure_reason is None):
            raise EvaluateError(
                "a failure needs both its kind and its reason, got "
                f"{self.failure_kind!r} and {self.failure_reason!r}",
                field="failure_kind",
            )

    @property
    def counts(self) -> bool:
        """Whether the episode enters success rates: not diverged, not an infrastructure error."""
        return self.failure_kind not in EXCLUDED_KINDS

    @classmethod
    def aborted(cls, kind: FailureKind, reason: str) -> EpisodeOutcome:
        """An episode that never ran a step."""
        return cls(False, 0.0, {}, 0, 0.0, 0.0, 0.0, failure_kind=kind, failure_reason=reason)


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode as the store holds it: its run, its key and its outcome."""

    run_id: str
    key: EpisodeKey
    outcome: EpisodeOutcome
    created: float = field(default_factory=time.time)  # unix time [s]

    def __post_init__(self) -> None:
        _check_name("run_id", self.run_id)
        if not _is_number(self.created):
            raise EvaluateError(f"expected a unix time [s], got {self.created!r}", field="created")

    def row(self) -> dict[str, object]:
        """Column name -> value, the ``episodes`` table's columns (criteria still a mapping)."""
        return {
            "run_id": self.run_id,
            **{name: getattr(self.key, name) for name in KEY_COLUMNS},
            **{name: getattr(self.outcome, name) for name in OUTCOME_COLUMNS},
            "created": self.created,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> EpisodeRecord:
        """The record of an ``episodes`` row (``criteria`` decoded, NULLs as None)."""
        key = EpisodeKey(**{name: row[name] for name in KEY_COLUMNS})  # type: ignore[arg-type]
        outcome = EpisodeOutcome(**{name: row[name] for name in OUTCOME_COLUMNS})  # type: ignore[arg-type]
        return cls(str(row["run_id"]), key, outcome, float(row["created"]))  # type: ignore[arg-type]


KEY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(EpisodeKey))
OUTCOME_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(EpisodeOutcome))
EPISODE_COLUMNS: tuple[str, ...] = ("run_id", *KEY_COLUMNS, *OUTCOME_COLUMNS, "created")


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
