"""One evaluation episode: reset to an initial condition, run the policy open loop chunk by
chunk until success or the horizon, and report what happened as an
:class:`evaluate.store.EpisodeOutcome` (the caller knows which episode it was, its key).

Images are rendered only when the policy is about to read a new observation (a chunk
boundary); the steps inside a chunk use ``env.advance``. A policy that raises, hangs past its
deadline or returns unusable actions, and a simulation that rejects an action, end the
episode as failed with the reason; a simulation that diverges (MuJoCo warned during a step,
see :mod:`sim_env.stability`) ends it as ``diverged``, not as the policy's failure. An
evaluation run never stops for one episode.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.policy import (
    ActionChunk,
    ChunkBroker,
    Observation,
    Policy,
    PolicyError,
    PolicyMetadata,
)
from evaluate.privileged import PrivilegedPolicy, SimTask
from evaluate.store import EpisodeOutcome, FailureKind
from evaluate.video import VideoWriter
from sim_env.env import TwinEnv
from sim_env.errors import SimEnvError, SimulationDiverged

_T = TypeVar("_T")


@dataclass(frozen=True)
class RolloutConfig:
    """How episodes are run (the same for every episode of a run).

    Attributes:
        open_loop_horizon: actions executed per chunk; None uses the policy's own.
        infer_timeout_s: longest a policy may take for one call (reset, infer) [s].
        max_steps: end the episode after this many control steps; None: the env's horizon.
        stop_on_success: end the episode once every criterion is reached; False runs to the
            horizon (fixed-length episodes, e.g. for throughput figures).
        video_fps: frame rate of episode videos (DROID's control rate) [Hz].
    """

    open_loop_horizon: int | None = None
    infer_timeout_s: float = 60.0
    max_steps: int | None = None
    stop_on_success: bool = True
    video_fps: int = 15

    def __post_init__(self) -> None:
        if self.open_loop_horizon is not None and self.open_loop_horizon < 1:
            raise EvaluateError(
                f"must be >= 1, got {self.open_loop_horizon}", field="open_loop_horizon"
            )
        if not self.infer_timeout_s > 0:
            raise EvaluateError(f"must be > 0, got {self.infer_timeout_s}", field="infer_timeout_s")
        if self.max_steps is not None and self.max_steps < 1:
            raise EvaluateError(f"must be >= 1, got {self.max_steps}", field="max_steps")


class _Failure(Exception):
    def __init__(self, kind: FailureKind, reason: str):
        self.kind, self.reason = kind, reason
        super().__init__(reason)


def call_with_deadline(fn: Callable[[], _T], timeout_s: float, what: str) -> _T:
    """``fn()`` on a helper thread; a policy that raises or overruns becomes a PolicyError.

    A hung call cannot be killed: its daemon thread is abandoned, and the caller must not
    reuse the policy (the runner rebuilds it after a ``timeout`` failure).
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"policy-{what}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise _Failure("timeout", f"policy {what} did not return within {timeout_s:g} s")
    error = outcome.get("error")
    if isinstance(error, PolicyError):
        raise error
    if error is not None:
        raise PolicyError(f"policy {what} raised {type(error).__name__}: {error}") from error
    return outcome["value"]  # type: ignore[return-value]


class _Guarded(Policy):
    """What the ChunkBroker talks to: deadlines, privileged state for privileged policies
    only, checked chunks, and timed inference."""

    def __init__(self, policy: Policy, env: TwinEnv, timeout_s: float):
        self.policy, self.env, self.timeout_s = policy, env, timeout_s
        self.latencies: list[float] = []

    @property
    def metadata(self) -> PolicyMetadata:
        return self.policy.metadata

    def reset(self) -> None:
        call_with_deadline(self.policy.reset, self.timeout_s, "reset")

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        policy = self.policy
        if isinstance(policy, PrivilegedPolicy):
            call = partial(policy.infer_privileged, obs, instruction, self.env.privileged_state())
        else:
            call = partial(policy.infer, obs, instruction)
        start = time.perf_counter()
        chunk = call_with_deadline(call, self.timeout_s, "infer")
        self.latencies.append(time.perf_counter() - start)
        if not isinstance(chunk, ActionChunk):
            raise PolicyError(f"infer must return an ActionChunk, got {type(chunk).__name__}")
        if chunk.action_space != self.env.config.action_space:
            raise PolicyError(
                f"chunk is in {chunk.action_space!r}, the env runs {self.env.config.action_space!r}"
            )
        return chunk


def run_episode(
    env: TwinEnv,
    policy: Policy,
    *,
    initial_condition: int,
    seed: int,
    config: RolloutConfig = RolloutConfig(),
    video_path: Path | None = None,
) -> EpisodeOutcome:
    """Run one episode of ``policy`` in ``env`` (whose cameras are what gets rendered).

    Args:
        initial_condition: index of the package's initial condition to reset to.
        seed: the episode's seed (the env's reset, a privileged policy's task).
        video_path: write an mp4 of the env's camera views, side by side, one frame per step
            (none if the env renders no camera).
    """
    start = time.perf_counter()
    guarded = _Guarded(policy, env, config.infer_timeout_s)
    broker = ChunkBroker(guarded, config.open_loop_horizon)
    max_steps = env.horizon if config.max_steps is None else min(config.max_steps, env.horizon)
    wants_video = video_path is not None and bool(env.camera_names)
    video = VideoWriter(video_path, config.video_fps) if wants_video else None
    failure: _Failure | None = None
    started = False
    try:
        sim_obs, _ = env.reset(seed=seed, options={"initial_condition": initial_condition})
        started = True
        _loop(env, guarded, broker, seed, sim_obs, replace(config, max_steps=max_steps), video)
    except _Failure as exc:
        failure = exc
    except PolicyError as exc:  # the policy's fault, or its server's (errored, retried)
        failure = (
            _Failure("error", f"infrastructure error: {exc}")
            if exc.infrastructure
            else _Failure("policy", f"policy error: {exc}")
        )
    except SimulationDiverged as exc:  # "simulation diverged at step N: ..."
        failure = _Failure("diverged", str(exc))
    except SimEnvError as exc:
        failure = _Failure("sim", f"simulation error: {exc}")
    finally:
        if video is not None:
            video.close()
    latencies = guarded.latencies or [0.0]
    tracker = env.tracker
    return EpisodeOutcome(
        success=started and bool(tracker.success),
        progress=float(tracker.progress) if started else 0.0,
        criteria=dict(tracker.reached()) if started else {},
        length_steps=env.steps if started else 0,
        wall_time_s=time.perf_counter() - start,
        latency_mean_s=float(np.mean(latencies)),
        latency_max_s=float(np.max(latencies)),
        failure_kind=None if failure is None else failure.kind,
        failure_reason=None if failure is None else failure.reason,
        video_path=str(video_path) if video is not None and video.frames else None,
    )


def _loop(
    env: TwinEnv,
    guarded: _Guarded,
    broker: ChunkBroker,
    seed: int,
    sim_obs: Mapping[str, np.ndarray],
    config: RolloutConfig,
    video: VideoWriter | None,
) -> None:
    """Step from the reset observation until success, the horizon or ``config.max_steps``;
    failures propagate as exceptions."""
    broker.reset()
    policy = guarded.policy
    if isinstance(policy, PrivilegedPolicy):
        task = SimTask(env.scene, env.package.spec, seed)
        call_with_deadline(partial(policy.begin_episode, task), guarded.timeout_s, "begin_episode")
    obs = Observation.from_dict(sim_obs)
    if video is not None:
        video.add(_views(sim_obs, env.camera_names))
    while True:
        if broker.chunk_exhausted and env.steps > 0:
            if video is None:  # with a video, every step's images are already rendered
                sim_obs = env.observe()
            obs = Observation.from_dict(sim_obs)
        action = broker.act(obs, env.instruction)
        _, terminated, truncated = env.advance(action)  # raises SimulationDiverged
        if video is not None:
            sim_obs = env.observe()
            video.add(_views(sim_obs, env.camera_names))
        if (terminated and config.stop_on_success) or truncated or env.steps >= config.max_steps:
            return


def _views(sim_obs: Mapping[str, np.ndarray], cameras: tuple[str, ...]) -> list[np.ndarray]:
    return [sim_obs[name] for name in cameras]
