"""The policy interface every evaluated policy implements, and the checks on what it returns.

A policy sees one DROID observation plus a language instruction and answers with a chunk of
``H`` actions of 8 numbers each (7 arm joints + gripper), as ``sim_env.droid`` declares them.
The rollout loop runs a chunk open loop through :class:`ChunkBroker`; a bad chunk raises
:class:`PolicyError`, which fails the episode without stopping the run.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from evaluate.errors import EvaluateError
from sim_env import droid
from sim_env.droid import ACTION_DIM, ACTION_SPACES, ActionSpace
from sim_env.images import ImageSize

DROID_IMAGE_KEYS: tuple[str, ...] = droid.IMAGE_KEYS
DEFAULT_IMAGE_SIZE = droid.POLICY_IMAGE_SIZE


class PolicyError(EvaluateError):
    """A policy failed one inference: it crashed, timed out or returned unusable actions.

    Args:
        message: what went wrong, for the episode's failure record.
        remote_traceback: the traceback a policy server sent, when there was one.
        infrastructure: the policy itself is not to blame (its server is unreachable, went
            away, did not answer in time, or sent a frame that is not a reply): the episode
            is recorded as errored, left out of the rates, and run again on resume.
    """

    def __init__(
        self, message: str, *, remote_traceback: str | None = None, infrastructure: bool = False
    ):
        self.remote_traceback = remote_traceback
        self.infrastructure = infrastructure
        super().__init__(message)


@dataclass(frozen=True, eq=False)
class Observation:
    """One DROID observation as the simulator produces it.

    Attributes:
        joint_position: (7,) arm joint angles [rad], float64 (the contract's float32, widened).
        gripper_position: (1,) gripper position in [0, 1] (0 open, 1 closed), float64.
        images: camera name (e.g. ``exterior_image_1_left``) -> uint8 (H, W, 3) RGB image.
    """

    joint_position: np.ndarray
    gripper_position: np.ndarray
    images: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # state is copied (the simulator may reuse its buffers); images are not (size)
        state = {}
        for key in droid.STATE_KEYS:
            value = np.array(getattr(self, key), dtype=np.float64).reshape(-1)
            if value.shape != droid.STATE[key].shape:
                raise ValueError(
                    f"{key} must have {droid.STATE[key].shape[0]} values, got shape {value.shape}"
                )
            state[key] = value
        for name, image in self.images.items():
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.size:
                raise ValueError(
                    f"image {name!r} must be uint8 (H, W, 3) with H, W >= 1, got {image.dtype} "
                    f"{image.shape}"
                )
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "images", MappingProxyType(dict(self.images)))

    @classmethod
    def from_dict(cls, obs: Mapping[str, Any]) -> Observation:
        """Build from the simulator's flat dict: the two state keys, and every 3-D array as a
        camera image; other entries (2-D depth maps, extra state) are not the policy's business."""
        images = {
            key: value
            for key, value in obs.items()
            if isinstance(value, np.ndarray) and value.ndim == 3
        }
        return cls(obs[droid.JOINT_POSITION], obs[droid.GRIPPER_POSITION], images)


@dataclass(frozen=True, eq=False)
class ActionChunk:
    """``H`` actions for the policy's action space; validated on construction.

    Attributes:
        actions: (H, 8) float64, read-only: 7 joint positions [rad] or DROID's normalized
            joint velocities [-1, 1] (``sim_env.droid.MAX_JOINT_DELTA``), then the gripper
            position in [0, 1].
        action_space: how the first 7 columns are meant.
    """

    actions: np.ndarray
    action_space: ActionSpace

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", check_actions(self.actions, self.action_space))

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])


def check_actions(actions: Any, action_space: str) -> np.ndarray:
    """Return ``actions`` as a read-only float64 (H, 8) array, or raise PolicyError saying why."""
    if action_space not in ACTION_SPACES:
        raise PolicyError(f"unknown action space {action_space!r}; expected one of {ACTION_SPACES}")
    if not isinstance(actions, np.ndarray):
        raise PolicyError(f"actions must be a numpy array, got {type(actions).__name__}")
    if actions.dtype.kind != "f":
        raise PolicyError(f"actions must be floating point, got dtype {actions.dtype}")
    if actions.ndim != 2 or actions.shape[0] < 1 or actions.shape[1] != ACTION_DIM:
        raise PolicyError(f"actions must have shape (H>=1, {ACTION_DIM}), got {actions.shape}")
    finite = np.isfinite(actions)
    if not finite.all():
        step, column = np.argwhere(~finite)[0]
        raise PolicyError(
            f"actions contain a non-finite value ({actions[step, column]}) at step {step}, "
            f"column {column}"
        )
    checked = np.array(actions, dtype=np.float64)
    checked.flags.writeable = False
    return checked


def binarize_gripper(actions: np.ndarray, threshold: float = droid.GRIPPER_THRESHOLD) -> np.ndarray:
    """Snap the gripper column to 0 or 1 (closed above ``threshold``), as DROID clients do."""
    snapped = np.array(actions, dtype=np.float64)
    column = droid.GRIPPER_INDEX
    snapped[:, column] = (snapped[:, column] > threshold).astype(np.float64)
    return snapped


@dataclass(frozen=True)
class PolicyMetadata:
    """What a policy expects and produces; the rollout and the wire client both read it.

    Attributes:
        policy_id: a name for reports (the spec, a bundle name, a server's id).
        action_space: meaning of the first 7 action columns.
        image_keys: cameras the policy reads, in the simulator's naming.
        image_size: what images are resized-with-pad to before inference; an ImageSize or
            ``"WIDTHxHEIGHT"`` (a plain pair is refused: its order would be a guess).
        chunk_length: actions per chunk, when known in advance.
        open_loop_horizon: actions executed from each chunk before asking again.
        extra: anything else the policy or its server reported (e.g. openpi metadata).
    """

    policy_id: str
    action_space: ActionSpace = "joint_position"
    image_keys: tuple[str, ...] = DROID_IMAGE_KEYS
    image_size: ImageSize = DEFAULT_IMAGE_SIZE
    chunk_length: int | None = None
    open_loop_horizon: int = droid.OPEN_LOOP_HORIZON
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.action_space not in ACTION_SPACES:
            raise EvaluateError(
                f"unknown action space {self.action_space!r}; expected one of {ACTION_SPACES}"
            )
        if isinstance(self.image_size, str):
            object.__setattr__(self, "image_size", ImageSize.parse(self.image_size))
        if not isinstance(self.image_size, ImageSize):
            raise EvaluateError(
                f"image_size must be an ImageSize(width, height) or 'WIDTHxHEIGHT', got "
                f"{self.image_size!r} (a plain pair is ambiguous)",
                field="image_size",
            )
        if self.open_loop_horizon < 1:
            raise EvaluateError(f"open_loop_horizon must be >= 1, got {self.open_loop_horizon}")
        if self.chunk_length is not None and self.chunk_length < 1:
            raise EvaluateError(f"chunk_length must be >= 1, got {self.chunk_length}")
        object.__setattr__(self, "image_keys", tuple(self.image_keys))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


class Policy(abc.ABC):
    """A policy under evaluation: local weights, a remote server or a scripted expert."""

    @property
    @abc.abstractmethod
    def metadata(self) -> PolicyMetadata:
        """What the policy expects and produces; constant over its lifetime."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget per-episode state; called before every episode."""

    @abc.abstractmethod
    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        """Return the next chunk of actions; raise PolicyError when it cannot."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release connections or devices; the default holds none."""

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ChunkBroker:
    """Per-episode open-loop execution: one action per step, a new chunk every ``horizon`` steps.

    Args:
        policy: the policy asked for chunks.
        horizon: actions executed per chunk; defaults to ``policy.metadata.open_loop_horizon``.
            A shorter chunk is used up and then replaced.
    """

    def __init__(self, policy: Policy, horizon: int | None = None):
        self.policy = policy
        self.horizon = policy.metadata.open_loop_horizon if horizon is None else horizon
        if self.horizon < 1:
            raise EvaluateError(f"open-loop horizon must be >= 1, got {self.horizon}")
        self._chunk: ActionChunk | None = None
        self._step = 0

    def reset(self) -> None:
        """Reset the policy and drop the current chunk; call at the start of each episode."""
        self.policy.reset()
        self._chunk = None
        self._step = 0

    @property
    def chunk_exhausted(self) -> bool:
        """Whether the next :meth:`act` asks the policy for a new chunk."""
        return self._chunk is None or self._step >= min(self.horizon, self._chunk.horizon)

    def act(self, obs: Observation, instruction: str) -> np.ndarray:
        """The (8,) action to execute now; a writable copy."""
        if self.chunk_exhausted:
            self._chunk = self.policy.infer(obs, instruction)
            self._step = 0
        action = self._chunk.actions[self._step].copy()
        self._step += 1
        return action
