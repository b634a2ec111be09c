"""The episode worker: the one object every backend runs (in a spawned process, as a Ray
actor, or in the calling process), so the local pool and Ray execute the same code.

A worker keeps one environment per (env, observation settings) and one policy per spec,
reused across episodes, and commits each finished episode to the results store itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.policy import Policy
from evaluate.rollout import RolloutConfig, run_episode
from evaluate.run.plan import EpisodeTask
from evaluate.store import EpisodeOutcome, EpisodeRecord, ResultsStore, StoreLocation, files_dir
from sim_env.env import EnvConfig, TwinEnv
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize
from sim_env.registry import resolve_env
from sim_env.scene import PhysicsConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker of a run shares (picklable: it crosses process boundaries).

    Attributes:
        store: the results store (a file, or a PostgreSQL URL: every worker, on any
            machine, writes to the same database).
        run_id: the run episodes are recorded into.
        policy_specs: the spec (with its secrets) to build each policy id from; an id not
            here is its own spec.
        video_dir: where episode videos go; None records none.
        image_size: every camera's size; None: each camera's own.
        rollout: how episodes are run.
        physics: the simulator's settings.
    """

    store: StoreLocation
    run_id: str
    policy_specs: Mapping[str, str] = field(default_factory=dict)  # policy id -> full spec
    video_dir: Path | None = None
    image_size: ImageSize | None = None
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker reports back for one task: the episode it recorded, or why none ran.

    ``setup_error`` is set (and ``record`` None) when the policy or the environment could
    not be built: the episode is left for a later, resumed run.
    """

    task: EpisodeTask
    record: EpisodeRecord | None = None
    setup_error: str | None = None


class EpisodeWorker:
    """Runs tasks one at a time; lazily builds and caches environments and policies."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self._store: ResultsStore | None = None
        self._policies: dict[str, Policy] = {}
        self._envs: dict[tuple[str, str, tuple[str, ...] | None], TwinEnv] = {}

    def run(self, task: EpisodeTask) -> TaskOutcome:
        """Run and record one episode; never raises for a policy or environment problem."""
        key = task.key
        try:
            policy = self._policy(key.policy_id)
            env = self._env(key.env_id, policy)
        except Exception as exc:  # policy code is the user's: any failure to load is reported
            logger.warning("cannot set up %s on %s: %s", key.policy_id, key.env_id, exc)
            return TaskOutcome(task, setup_error=f"{type(exc).__name__}: {exc}")
        outcome = run_episode(
            env,
            policy,
            initial_condition=key.initial_condition,
            seed=key.seed,
            config=self.config.rollout,
            video_path=self._video_path(task),
        )
        if outcome.failure_kind == "timeout":  # its call may still be running: never reuse it
            self._policies.pop(key.policy_id, None)
        outcome = replace(outcome, video_path=self._stored_video(outcome))
        record = EpisodeRecord(self.config.run_id, key, outcome)
        self.store.record_episode(record)
        return TaskOutcome(task, record)

    @property
    def store(self) -> ResultsStore:
        if self._store is None:  # opened in the process that uses it
            self._store = ResultsStore.open(self.config.store)
        return self._store

    def close(self) -> None:
        for policy in self._policies.values():
            try:
                policy.close()
            except Exception as exc:  # a policy failing to close must not hide results
                logger.warning("closing %s failed: %s", policy.metadata.policy_id, exc)
        for env in self._envs.values():
            env.close()
        if self._store is not None:
            self._store.close()
        self._policies, self._envs, self._store = {}, {}, None

    def _policy(self, policy_id: str) -> Policy:
        if policy_id not in self._policies:
            from evaluate.policies import make_policy

            spec = self.config.policy_specs.get(policy_id, policy_id)
            self._policies[policy_id] = make_policy(spec)
        return self._policies[policy_id]

    def _env(self, env_id: str, policy: Policy) -> TwinEnv:
        """The env for ``env_id`` rendering the cameras ``policy`` reads (all of them when a
        video is wanted and the policy reads none)."""
        meta = policy.metadata
        cameras: tuple[str, ...] | None = tuple(meta.image_keys)
        if not cameras and self.config.video_dir is not None:
            cameras = None
        key = (env_id, meta.action_space, cameras)
        if key not in self._envs:
            try:
                self._envs[key] = TwinEnv(
                    resolve_env(env_id),
                    EnvConfig(
                        action_space=meta.action_space,
                        image_size=self.config.image_size,
                        cameras=cameras,
                        physics=self.config.physics,
                    ),
                )
            except SimEnvError as exc:
                raise EvaluateError(f"environment {env_id!r} for {meta.policy_id}: {exc}") from exc
        return self._envs[key]

    def _video_path(self, task: EpisodeTask) -> Path | None:
        if self.config.video_dir is None:
            return None
        key = task.key
        name = f"{_slug(key.policy_id)}__{_slug(key.env_id)}__ic{key.initial_condition:03d}_seed{key.seed}.mp4"
        return self.config.video_dir / name

    def _stored_video(self, outcome: EpisodeOutcome) -> str | None:
        """The video path as the store keeps it: relative to the store's directory if inside
        (a PostgreSQL store's is ``./twinbench-results``; other paths stay absolute)."""
        if outcome.video_path is None:
            return None
        path = Path(outcome.video_path).resolve()
        try:
            return str(path.relative_to(files_dir(self.config.store).resolve()))
        except ValueError:
            return str(path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "x"
