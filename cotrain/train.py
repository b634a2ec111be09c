"""``train-demo``: fit the small chunk policy to a dataset on the CPU and save a bundle.

It proves the loop (generate -> dataset -> train -> bundle -> evaluate), not a strong policy:
a few hundred steps on a few dozen demonstrations. Images are resized with padding exactly as
the bundle wrapper will resize them at evaluation; state is normalised with the dataset's
stats.json, action offsets with their own training statistics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cotrain import features
from cotrain.augment import shift_images
from cotrain.errors import CotrainError
from cotrain.lerobot import DatasetReader, validate
from cotrain.lerobot.layout import STATS_PATH
from cotrain.lerobot.reader import read_json
from cotrain.policy_model import ChunkNet, image_tensor, torch_threads
from evaluate.bundle import save_bundle
from sim_env.images import ImageSize, resize_with_pad

ENTRY_POINT = "policy_model:CotrainPolicy"
POLICY_SOURCE = Path(__file__).with_name("policy_model.py")
MIN_STD = 1e-2  # floor of normalisation scales: a constant dimension must not blow up


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 300
    batch_size: int = 32
    horizon: int = 10  # actions per chunk
    open_loop_horizon: int = 8  # actions executed per chunk at evaluation
    image_size: int = 64  # px, square
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    shift: int = 4  # px, random-shift augmentation
    channels: tuple[int, ...] = (16, 32, 64, 64)
    hidden: int = 256
    feature_dim: int = 128
    seed: int = 0
    threads: int = 1  # torch intra-op threads (see policy_model.torch_threads)
    log_every: int = 50

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.horizon < 1:
            raise CotrainError("steps, batch_size and horizon must be >= 1")
        if not 1 <= self.open_loop_horizon <= self.horizon:
            raise CotrainError(f"must be in 1..horizon ({self.horizon})", field="open_loop_horizon")


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Every frame of a dataset, ready for the network.

    Attributes:
        images: uint8 [N, K, S, S, 3], the K cameras of ``features.CAMERAS`` (the dataset's
            ``features.IMAGE_KEYS``).
        state: [N, 8] joint + gripper positions.
        targets: [N, H, 8] the next H actions minus the frame's state (the last action repeats
            past an episode's end).
    """

    images: np.ndarray
    state: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class TrainResult:
    bundle: Path
    frames: int
    steps: int
    first_loss: float
    final_loss: float  # mean of the last ``log_every`` steps
    seconds: float


def load_training_set(dataset: Path, horizon: int, image_size: int) -> TrainingSet:
    reader = DatasetReader(dataset)
    missing = [key for key in features.IMAGE_KEYS if key not in reader.video_keys]
    if missing:
        raise CotrainError(
            f"no camera {missing[0]!r}: the policy needs {list(features.IMAGE_KEYS)}, the dataset "
            f"has {reader.video_keys}",
            file=dataset,
            field="features",
        )
    frames = {
        camera: dict(reader.iter_episode_frames(features.image_key(camera)))
        for camera in features.CAMERAS
    }
    images, states, targets = [], [], []
    for index in range(len(reader.episodes)):
        values = reader.episode(index)
        state = np.concatenate(
            [values[features.JOINT_POSITION], values[features.GRIPPER_POSITION].reshape(-1, 1)],
            axis=1,
        )
        actions = values[features.ACTIONS]
        ahead = np.minimum(np.arange(len(actions))[:, None] + np.arange(horizon), len(actions) - 1)
        targets.append(actions[ahead] - state[:, None, :])
        states.append(state)
        per_camera = [
            [resize_with_pad(f, image_size, image_size) for f in frames[camera][index]]
            for camera in features.CAMERAS
        ]
        images.append(np.stack([np.stack(views) for views in per_camera], axis=1))
    return TrainingSet(
        images=np.concatenate(images),
        state=np.concatenate(states).astype(np.float32),
        targets=np.concatenate(targets).astype(np.float32),
    )


def normalization(dataset: Path, data: TrainingSet) -> dict[str, dict[str, np.ndarray]]:
    """policy.yaml's normalization: state and image stats from stats.json, action offsets
    from the training targets; scales floored at MIN_STD."""
    stats = read_json(dataset / STATS_PATH)
    state = {
        name: np.concatenate(
            [stats[features.JOINT_POSITION][name], stats[features.GRIPPER_POSITION][name]]
        )
        for name in ("mean", "std")
    }
    state["std"] = np.maximum(state["std"], MIN_STD)
    deltas = data.targets.reshape(-1, data.targets.shape[-1])
    norms = {
        "state": state,
        "action_delta": {
            "mean": deltas.mean(axis=0),
            "std": np.maximum(deltas.std(axis=0), MIN_STD),
        },
    }
    for camera in features.CAMERAS:  # the bundle keys images by camera name
        per = stats[features.image_key(camera)]
        norms[camera] = {name: np.asarray(per[name]).reshape(3) for name in ("mean", "std")}
    return norms


def fit(
    data: TrainingSet,
    norms: dict[str, dict[str, np.ndarray]],
    config: TrainConfig,
    log: Callable[[str], None],
) -> tuple[ChunkNet, list[float]]:
    """The trained network and its per-step losses (MSE on normalised action offsets)."""
    image_mean = np.stack([norms[c]["mean"] for c in features.CAMERAS])
    image_std = np.stack([norms[c]["std"] for c in features.CAMERAS])
    state = torch.from_numpy((data.state - norms["state"]["mean"]) / norms["state"]["std"]).float()
    delta = norms["action_delta"]
    targets = torch.from_numpy((data.targets - delta["mean"]) / delta["std"]).float()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    net = ChunkNet(
        cameras=len(features.CAMERAS),
        horizon=config.horizon,
        image_size=config.image_size,
        channels=config.channels,
        hidden=config.hidden,
        feature_dim=config.feature_dim,
    )
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    losses: list[float] = []
    net.train()
    for step in range(1, config.steps + 1):
        batch = torch.randint(0, len(state), (config.batch_size,), generator=generator)
        images = image_tensor(data.images[batch.numpy()], image_mean, image_std)
        loss = nn.functional.mse_loss(
            net(shift_images(images, config.shift, generator), state[batch]), targets[batch]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % config.log_every == 0 or step == config.steps:
            log(f"step {step}/{config.steps}: loss {np.mean(losses[-config.log_every :]):.4f}")
    return net.eval(), losses


def train_demo(
    dataset: str | Path,
    output: str | Path,
    config: TrainConfig = TrainConfig(),
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train on ``dataset`` and write a ``bundle:`` checkpoint to ``output``."""
    dataset, output = Path(dataset), Path(output)
    start = time.perf_counter()
    validate(dataset)
    data = load_training_set(dataset, config.horizon, config.image_size)
    norms = normalization(dataset, data)
    with torch_threads(config.threads):
        net, losses = fit(data, norms, config, log)
    final = float(np.mean(losses[-config.log_every :]))
    save_bundle(
        output,
        ENTRY_POINT,
        {
            "action_space": "joint_position",
            "chunk_length": config.horizon,
            "open_loop_horizon": config.open_loop_horizon,
            "image_keys": list(features.CAMERAS),
            "image_size": ImageSize(config.image_size, config.image_size),
            "gripper_threshold": 0.5,
            "normalization": norms,
            "params": {
                "channels": list(config.channels),
                "hidden": config.hidden,
                "feature_dim": config.feature_dim,
                "threads": config.threads,
                "dataset": str(dataset.resolve()),
                "frames": len(data.state),
                "steps": config.steps,
                "final_loss": final,
            },
        },
        net.state_dict(),
        sources=[POLICY_SOURCE],
    )
    seconds = time.perf_counter() - start
    return TrainResult(output, len(data.state), config.steps, losses[0], final, seconds)
