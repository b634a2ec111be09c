"""A small image + state policy that predicts a chunk of joint-position actions.

Each camera image (resized with padding to S x S, as the bundle wrapper and openpi's client
do) goes through its own small CNN; the features and the normalised joint state feed an MLP
that outputs H actions, each as a normalised offset from the current state
(action = state + unnormalise(output)). This file is copied into every bundle ``train-demo``
writes, so it imports only numpy, torch, evaluate and sim_env.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from evaluate.bundle import BundleConfig, NormStats
from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from sim_env.droid import ACTION_DIM, STATE
from sim_env.images import ImageSize

STATE_DIM = sum(spec.shape[0] for spec in STATE.values())  # 7 joints + gripper


def conv_encoder(channels: Sequence[int], image_size: ImageSize, feature_dim: int) -> nn.Sequential:
    """[B, 3, H, W] -> [B, feature_dim]: stride-2 convolutions (each halves the resolution),
    then a linear layer over the flattened map, which keeps where things are in the image."""
    layers: list[nn.Module] = []
    previous, height, width = 3, image_size.height, image_size.width
    for width_out in channels:
        layers += [nn.Conv2d(previous, width_out, 3, stride=2, padding=1), nn.ReLU()]
        previous, height, width = width_out, (height + 1) // 2, (width + 1) // 2
    layers += [nn.Flatten(), nn.Linear(previous * height * width, feature_dim), nn.ReLU()]
    return nn.Sequential(*layers)


class ChunkNet(nn.Module):
    """[B, K, 3, S, S] normalised images + [B, 8] normalised state -> [B, H, 8] outputs."""

    def __init__(
        self,
        cameras: int,
        horizon: int,
        image_size: int,
        channels: Sequence[int] = (16, 32, 64, 64),
        hidden: int = 256,
        feature_dim: int = 128,
    ):
        super().__init__()
        self.horizon = horizon
        self.encoders = nn.ModuleList(
            conv_encoder(channels, ImageSize(image_size, image_size), feature_dim)
            for _ in range(cameras)
        )
        self.state = nn.Sequential(nn.Linear(STATE_DIM, 64), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(cameras * feature_dim + 64, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, horizon * ACTION_DIM),
        )

    def forward(self, images: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        parts = [encoder(images[:, k]) for k, encoder in enumerate(self.encoders)]
        parts.append(self.state(state))
        return self.head(torch.cat(parts, dim=1)).view(-1, self.horizon, ACTION_DIM)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads, then restore the process's setting.

    A network this small gains nothing from more threads, and on a busy machine OpenMP's
    spin-waiting makes it ~100x slower (measured: 2.6 ms per inference on one thread, 280 ms
    on two with other processes loading the cores).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def image_tensor(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """uint8 [B, K, S, S, 3] -> float [B, K, 3, S, S], each camera's channels standardised
    with its pixel statistics ``mean``, ``std`` [K, 3] (in [0, 1] units)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    x = (x - torch.as_tensor(mean, dtype=torch.float32)[None, :, None, None]) / torch.as_tensor(
        std + 1e-6, dtype=torch.float32
    )[None, :, None, None]
    return x.permute(0, 1, 4, 2, 3).contiguous()


def state_vector(obs: Observation) -> np.ndarray:
    """[8] joint positions + gripper position."""
    return np.concatenate([obs.joint_position, obs.gripper_position])


class CotrainPolicy(Policy):
    """The bundle entry class: ``CotrainPolicy(config, weights)`` per BUNDLE.md.

    policy.yaml's ``normalization`` holds ``state`` [8], ``action_delta`` [8] and one [3] entry
    per camera; ``params`` holds the network's ``channels``, ``hidden`` and ``feature_dim``, and
    optionally ``threads`` (intra-op threads for inference, default 1).
    """

    def __init__(self, config: BundleConfig, weights: Mapping[str, torch.Tensor]):
        self.config = config
        params = config.params
        self.net = ChunkNet(
            cameras=len(config.image_keys),
            horizon=config.chunk_length,
            image_size=config.image_size.width,  # square (train-demo writes S x S)
            channels=tuple(params["channels"]),
            hidden=int(params["hidden"]),
            feature_dim=int(params["feature_dim"]),
        )
        self.net.load_state_dict(dict(weights))
        self.net.eval()
        norm = config.normalization
        self.state_norm: NormStats = norm["state"]
        self.delta_norm: NormStats = norm["action_delta"]
        self.image_mean = np.stack([norm[key].mean for key in config.image_keys])
        self.image_std = np.stack([norm[key].std for key in config.image_keys])
        self.threads = int(params.get("threads", 1))
        self._metadata = config.metadata()

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        """Stateless between inferences: nothing to forget."""

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        state = state_vector(obs)
        images = np.stack([obs.images[key] for key in self.config.image_keys])[None]
        with torch_threads(self.threads), torch.inference_mode():
            output = self.net(
                image_tensor(images, self.image_mean, self.image_std),
                torch.as_tensor(self.state_norm.normalize(state), dtype=torch.float32)[None],
            )[0].numpy()
        return ActionChunk(state + self.delta_norm.unnormalize(output), "joint_position")
