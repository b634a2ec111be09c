"""A linear policy shipped inside test bundles: a chunk of W @ normalized state + b."""

from __future__ import annotations

import numpy as np

from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata


class LinearPolicy(Policy):
    """Weights ``linear.weight`` (H*8, 8) and ``linear.bias`` (H*8,); torch or numpy."""

    def __init__(self, config, weights):
        self.config = config
        self.weight = weights["linear.weight"]
        self.bias = weights["linear.bias"]
        self.state_norm = config.normalization.get("state")
        self.episodes = 0

    @property
    def metadata(self) -> PolicyMetadata:
        return self.config.metadata()

    def reset(self) -> None:
        self.episodes += 1

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        state = np.concatenate([obs.joint_position, obs.gripper_position])
        if self.state_norm is not None:
            state = self.state_norm.normalize(state)
        if self.config.framework == "torch":
            import torch

            with torch.no_grad():
                x = torch.as_tensor(state, dtype=self.weight.dtype)
                flat = (self.weight @ x + self.bias).double().numpy()
        else:
            flat = self.weight @ state + self.bias
        return ActionChunk(flat.reshape(self.config.chunk_length, 8), self.config.action_space)


class NotAPolicy:
    """For the test that an entry point must name a Policy subclass."""
