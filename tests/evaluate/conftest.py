"""Fixtures for the policy-side tests: observations, a fake policy and servers on free ports."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from evaluate.serving import BackgroundServer, ServerConfig

CHUNK = 10


class FakePolicy(Policy):
    """Row i of the chunk is [joints, gripper] + i / 100, so a round trip can be checked exactly.

    ``mode``: "ok", "raise" (RuntimeError in infer) or "nan" (a NaN in the chunk).
    """

    def __init__(self, mode: str = "ok", policy_id: str = "fake", **metadata: object):
        self.mode = mode
        self.resets = 0
        self.seen: list[tuple[Observation, str]] = []
        self._metadata = PolicyMetadata(policy_id=policy_id, chunk_length=CHUNK, **metadata)

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        self.resets += 1

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        self.seen.append((obs, instruction))
        if self.mode == "raise":
            raise RuntimeError("the fake policy exploded")
        return ActionChunk(expected_actions(obs, self.mode), self._metadata.action_space)


def expected_actions(obs: Observation, mode: str = "ok") -> np.ndarray:
    state = np.concatenate([obs.joint_position, obs.gripper_position])
    actions = state[None, :] + np.arange(CHUNK)[:, None] / 100
    if mode == "nan":
        actions[3, 2] = np.nan
    return actions


def make_observation(seed: int = 0, height: int = 90, width: int = 160) -> Observation:
    """A random DROID observation with both cameras at (height, width); its state is float32,
    as the env observes it and the wire carries it (``sim_env.droid``)."""
    rng = np.random.default_rng(seed)
    return Observation(
        joint_position=rng.uniform(-1, 1, 7).astype(np.float32),
        gripper_position=rng.uniform(0, 1, 1).astype(np.float32),
        images={
            "exterior_image_1_left": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            "wrist_image_left": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        },
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def obs() -> Observation:
    return make_observation()


@pytest.fixture
def make_obs() -> Callable[..., Observation]:
    return make_observation


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def fake_policy() -> type[FakePolicy]:
    return FakePolicy


@pytest.fixture
def expected() -> Callable[..., np.ndarray]:
    return expected_actions


@pytest.fixture
def serve() -> Iterator[Callable[..., BackgroundServer]]:
    """Start a BackgroundServer on a free loopback port; every one is stopped after the test."""
    servers: list[BackgroundServer] = []

    def start(policy: Policy, **config: object) -> BackgroundServer:
        config.setdefault("port", 0)
        server = BackgroundServer(policy, ServerConfig(host="127.0.0.1", **config)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
