"""``scripted[:LEVEL][,KEY=VALUE...]``: the pick-and-place expert with tunable failure modes.

On a package whose rubric is a touch (a ``reach`` criterion, no container: a real scan's one
object too big to grasp) the expert touches the object's top instead.

A ladder of scripted policies of graded quality stands in for a set of real policies when
there is no robot: their success rates are known to be ordered, so a sim-vs-real comparison
of them tests the evaluation machinery itself. Each policy drives
:class:`sim_env.planner.PickPlaceExpert` from privileged state and degrades it with

- ``noise`` [rad]: Gaussian noise on every joint target, every step;
- ``grasp_offset`` [m]: an xy error of the grasp point, drawn once per episode (std per axis);
- ``yaw`` [rad]: an error of the grasp yaw, drawn once per episode (std);
- ``hesitate`` [probability]: each step, repeat the last action instead of moving on;
- ``delay`` [control steps]: actions execute this many steps after the expert chose them.

``images=1`` makes it receive the DROID camera images as a learned policy does (and ignore
them): the same rendering cost, for throughput measurements.

Any scalar knob of :class:`~sim_env.planner.PickPlaceConfig` (``joint_speed=0.8``, ...) may be
set too. All randomness comes from the episode's seed, so an episode replays exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from types import MappingProxyType

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.policy import (
    DROID_IMAGE_KEYS,
    ActionChunk,
    Observation,
    PolicyError,
    PolicyMetadata,
)
from evaluate.privileged import PrivilegedPolicy, PrivilegedState, SimTask, expert_task
from sim_env.planner import PickPlaceConfig, PickPlaceExpert
from twinbench.registry import unknown_name_message

SCHEME = "scripted"


@dataclass(frozen=True)
class ScriptedConfig:
    """Failure modes layered on the expert (see the module docstring for their meaning)."""

    noise: float = 0.0  # rad, std of per-step joint-target noise
    grasp_offset: float = 0.0  # m, std per axis of the per-episode grasp-point error
    yaw: float = 0.0  # rad, std of the per-episode grasp-yaw error
    hesitate: float = 0.0  # probability per step of repeating the last action
    delay: int = 0  # control steps from decision to execution
    horizon: int = 8  # actions per chunk, executed open loop
    images: bool = False  # receive (and ignore) the DROID cameras, for cost parity
    expert: PickPlaceConfig = field(default_factory=PickPlaceConfig)

    def __post_init__(self) -> None:
        for name in ("noise", "grasp_offset", "yaw"):
            if not getattr(self, name) >= 0.0:
                raise EvaluateError(f"must be >= 0, got {getattr(self, name)!r}", field=name)
        if not 0.0 <= self.hesitate < 1.0:
            raise EvaluateError(f"must be in [0, 1), got {self.hesitate!r}", field="hesitate")
        if self.delay < 0:
            raise EvaluateError(f"must be >= 0, got {self.delay!r}", field="delay")
        if self.horizon < 1:
            raise EvaluateError(f"must be >= 1, got {self.horizon!r}", field="horizon")


# The ladder, best to worst: one place to change a rung. The per-episode grasp error is the
# main dial; noise, yaw error, hesitation and delay add realistic sloppiness. Success rates
# measured on primitive_cube_bowl at the default physics (40 episodes each, seeds 0-39):
# expert 1.00, good 0.82, fair 0.50, poor 0.25, bad 0.07. On tabletop_source / tabletop_twin
# (the demo's sides; 20 episodes each, seeds 0-19): expert 1.00 / 1.00, good 0.70 / 0.75,
# fair 0.40 / 0.50, poor 0.30 / 0.30, bad 0.10 / 0.15.
LADDER: Mapping[str, ScriptedConfig] = MappingProxyType(
    {
        "expert": ScriptedConfig(),
        "good": ScriptedConfig(grasp_offset=0.010, noise=0.002, yaw=0.05, hesitate=0.05),
        "fair": ScriptedConfig(grasp_offset=0.018, noise=0.003, yaw=0.1, hesitate=0.1, delay=1),
        "poor": ScriptedConfig(grasp_offset=0.025, noise=0.004, yaw=0.15, hesitate=0.15, delay=2),
        "bad": ScriptedConfig(grasp_offset=0.045, noise=0.005, yaw=0.2, hesitate=0.2, delay=3),
    }
)


def ladder_specs() -> tuple[str, ...]:
    """The ladder as policy specs, best first: ``scripted:expert`` ... ``scripted:bad``."""
    return tuple(f"{SCHEME}:{level}" for level in LADDER)


def flag(text: str) -> bool:
    """0/1/true/false/yes/no, for on-off knobs."""
    value = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if text.lower() not in value:
        raise ValueError(text)
    return value[text.lower()]


_OWN_KNOBS = {
    "noise": float,
    "grasp_offset": float,
    "yaw": float,
    "hesitate": float,
    "delay": int,
    "horizon": int,
    "images": flag,
}
# The expert's scalar knobs; its grasp_offset / yaw_offset are the per-episode draws above.
_EXPERT_KNOBS = {
    f.name: type(getattr(PickPlaceConfig(), f.name))
    for f in fields(PickPlaceConfig)
    if f.name not in ("grasp_offset", "yaw_offset")
}


def parse_scripted(argument: str) -> ScriptedConfig:
    """``[LEVEL][,KEY=VALUE...]`` -> config: a ladder level (default ``expert``) and overrides.

    Raises:
        EvaluateError: unknown level or key (with the valid ones), or a bad value.
    """
    parts = [part.strip() for part in argument.split(",") if part.strip()]
    level = "expert"
    if parts and "=" not in parts[0]:
        level = parts.pop(0)
        if level in _OWN_KNOBS or level in _EXPERT_KNOBS:
            raise EvaluateError(f"expected {level}=VALUE, got {level!r}", field=level)
        if level not in LADDER:
            raise EvaluateError(
                unknown_name_message("scripted level", level, list(LADDER)), field="scripted"
            )
    own: dict[str, float | int] = {}
    expert: dict[str, float | int] = {}
    for part in parts:
        key, sep, text = (s.strip() for s in part.partition("="))
        kind = _OWN_KNOBS.get(key) or _EXPERT_KNOBS.get(key)
        if not sep or kind is None:
            choices = [*_OWN_KNOBS, *_EXPERT_KNOBS]
            what = f"expected KEY=VALUE, got {part!r}" if not sep else None
            raise EvaluateError(
                what or unknown_name_message("scripted option", key, choices), field=key or part
            )
        try:
            value = kind(text)
        except ValueError as exc:
            raise EvaluateError(f"expected {kind.__name__}, got {text!r}", field=key) from exc
        (own if key in _OWN_KNOBS else expert)[key] = value
    base = LADDER[level]
    return replace(base, **own, expert=replace(base.expert, **expert))


@dataclass
class _Episode:
    """Mutable per-episode state: the expert, the random stream and the action pipeline."""

    expert: PickPlaceExpert
    rng: np.random.Generator
    pending: deque[np.ndarray]  # delayed actions, oldest first
    last: np.ndarray | None = None


class ScriptedPolicy(PrivilegedPolicy):
    """The pick-and-place expert degraded by :class:`ScriptedConfig`; joint-position actions."""

    def __init__(self, config: ScriptedConfig, policy_id: str = SCHEME):
        self.config = config
        self._metadata = PolicyMetadata(
            policy_id=policy_id,
            action_space="joint_position",
            image_keys=DROID_IMAGE_KEYS if config.images else (),  # it reads poses, not pixels
            chunk_length=config.horizon,
            open_loop_horizon=config.horizon,
            extra={"scripted": asdict(config)},
        )
        self._episode: _Episode | None = None

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        self._episode = None

    def begin_episode(self, task: SimTask) -> None:
        cfg = self.config
        rng = np.random.default_rng(task.seed)
        offset = rng.normal(0.0, cfg.grasp_offset, 2) if cfg.grasp_offset else np.zeros(2)
        yaw = float(rng.normal(0.0, cfg.yaw)) if cfg.yaw else 0.0
        obj, container = expert_task(task.spec)  # no container: touch obj
        expert_config = replace(cfg.expert, grasp_offset=(*offset.tolist(),), yaw_offset=yaw)
        expert = PickPlaceExpert(task.scene, obj, container, expert_config)
        self._episode = _Episode(expert, rng, deque())

    def infer_privileged(
        self, obs: Observation, instruction: str, state: PrivilegedState
    ) -> ActionChunk:
        if self._episode is None:
            raise PolicyError(f"{self._metadata.policy_id}: infer before begin_episode")
        rows = [self._next_action(self._episode, state, obs) for _ in range(self.config.horizon)]
        return ActionChunk(np.stack(rows), "joint_position")

    def _next_action(
        self, episode: _Episode, state: PrivilegedState, obs: Observation
    ) -> np.ndarray:
        """One step of the pipeline: hesitate, else plan -> delay -> noise."""
        cfg = self.config
        if episode.last is not None and cfg.hesitate and episode.rng.random() < cfg.hesitate:
            return episode.last
        planned = episode.expert.act(state, obs.joint_position)
        if cfg.delay:
            if not episode.pending:  # the arm holds still until the first decision arrives
                hold = np.concatenate([obs.joint_position, obs.gripper_position])
                episode.pending.extend(hold.copy() for _ in range(cfg.delay))
            episode.pending.append(planned)
            planned = episode.pending.popleft()
        action = np.array(planned, dtype=np.float64)
        if cfg.noise:
            action[:7] += episode.rng.normal(0.0, cfg.noise, 7)
        episode.last = action
        return action


def make_scripted(argument: str) -> ScriptedPolicy:
    """The ``scripted`` scheme's factory: ``make_policy("scripted:fair,noise=0.01")``."""
    spec = f"{SCHEME}:{argument}" if argument else SCHEME
    return ScriptedPolicy(parse_scripted(argument), policy_id=spec)
