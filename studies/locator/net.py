"""Learned object localisation from one camera image: the perception half of a policy that
sees the scene only through its camera.

A :class:`LocatorNet` maps the exterior camera's first frame to each task object's table pose
(x, y [m] and its yaw mod 90°, the symmetry of a box's grasp faces). Views for training are
rendered from an environment package at many object placements (the initial-condition draws
fidelity evaluates on, from another seed), with the renderer that world uses — MuJoCo for a
textured source world, splats for a twin — so a locator trained on source-world views meets
the twin's rendering gap exactly as a real policy would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cotrain.augment import SHIFT_ONLY, ImageAugment, augment_images
from cotrain.policy_model import conv_encoder, torch_threads
from sim_env.cameras import quat_to_mat
from sim_env.env import EnvConfig, TwinEnv
from sim_env.images import ImageSize
from sim_env.package import EnvPackage, InitialCondition
from sim_env.scene import apply_initial_condition

SYMMETRY = 4  # a box's grasp faces repeat every 90°: yaw is located mod 2*pi / SYMMETRY
POSE_DIM = 4  # per object: x, y [m], cos(SYMMETRY * yaw), sin(SYMMETRY * yaw)
VIEW_SIZE = ImageSize(160, 90)  # the camera is rendered at


@dataclass(frozen=True)
class LocatorConfig:
    """The network and its training."""

    camera: str = "exterior_image_1_left"
    image_size: ImageSize = VIEW_SIZE
    objects: tuple[str, ...] = ("red_box", "tray")
    channels: tuple[int, ...] = (16, 32, 64, 64)
    hidden: int = 256
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    augment: ImageAugment = SHIFT_ONLY  # per training image
    seed: int = 0
    threads: int = 1


class LocatorNet(nn.Module):
    """[B, 3, H, W] standardised image -> [B, M * POSE_DIM] standardised poses."""

    def __init__(self, objects: int, image_size: ImageSize, channels: Sequence[int], hidden: int):
        super().__init__()
        self.encoder = conv_encoder(channels, image_size, hidden)
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, objects * POSE_DIM)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images))


def object_yaw(quat: Sequence[float]) -> float:
    """Rotation about the vertical [rad] of a (w, x, y, z) quaternion."""
    rot = quat_to_mat(np.asarray(quat, float))
    return math.atan2(rot[1, 0], rot[0, 0])


def encode_poses(xy: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """xy [..., M, 2] [m] and yaw [..., M] [rad] -> [..., M * POSE_DIM] network targets."""
    angle = SYMMETRY * np.asarray(yaw)
    poses = np.concatenate([xy, np.cos(angle)[..., None], np.sin(angle)[..., None]], axis=-1)
    return poses.reshape(*poses.shape[:-2], -1)


def decode_poses(poses: np.ndarray, objects: int) -> tuple[np.ndarray, np.ndarray]:
    """[..., M * POSE_DIM] -> xy [..., M, 2] [m] and yaw [..., M] in (-pi/4, pi/4] [rad]."""
    poses = np.asarray(poses).reshape(*np.shape(poses)[:-1], objects, POSE_DIM)
    return poses[..., :2], np.arctan2(poses[..., 3], poses[..., 2]) / SYMMETRY


def yaw_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| modulo the grasp symmetry [rad], in [0, pi / SYMMETRY]."""
    period = 2 * np.pi / SYMMETRY
    d = np.mod(np.asarray(a) - np.asarray(b) + period / 2, period) - period / 2
    return np.abs(d)


@dataclass(frozen=True, eq=False)
class Views:
    """Rendered camera images and the object poses they show.

    Attributes:
        images: uint8 [N, H, W, 3].
        xy: [N, M, 2] object positions on the table [m], world frame.
        yaw: [N, M] object yaw [rad].
    """

    images: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray

    @property
    def targets(self) -> np.ndarray:
        return encode_poses(self.xy, self.yaw).astype(np.float32)

    def take(self, index: np.ndarray | slice) -> Views:
        return Views(self.images[index], self.xy[index], self.yaw[index])

    @staticmethod
    def concatenate(parts: Sequence[Views]) -> Views:
        return Views(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "xy", "yaw"))
        )


def render_views(
    package: EnvPackage,
    conditions: Sequence[InitialCondition],
    config: LocatorConfig,
    renderer: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> Views:
    """The camera's view of every initial condition, as the episode's first observation shows it
    (robot at its initial pose), rendered as evaluation renders ``package``."""
    size = config.image_size
    env = TwinEnv(package, EnvConfig(image_size=size, cameras=(config.camera,), renderer=renderer))
    images, xy, yaw = [], [], []
    try:
        for index, condition in enumerate(conditions):
            apply_initial_condition(env.scene, env.data, condition)
            images.append(env.renderer.render(env.data, config.camera, size))
            poses = [condition.objects[name] for name in config.objects]
            xy.append([pose.pos[:2] for pose in poses])
            yaw.append([object_yaw(pose.quat) for pose in poses])
            if progress is not None:
                progress(index + 1)
    finally:
        env.close()
    return Views(np.stack(images), np.asarray(xy, np.float64), np.asarray(yaw, np.float64))


@dataclass(frozen=True, eq=False)
class Standardisation:
    """Per-channel image statistics ([3], in [0, 1] units) and per-output target statistics."""

    image_mean: np.ndarray
    image_std: np.ndarray
    target_mean: np.ndarray
    target_std: np.ndarray

    @staticmethod
    def of(views: Views) -> Standardisation:
        pixels = views.images.reshape(-1, 3).astype(np.float64) / 255.0
        targets = views.targets
        return Standardisation(
            pixels.mean(axis=0), np.maximum(pixels.std(axis=0), 1e-3),
            targets.mean(axis=0), np.maximum(targets.std(axis=0), 1e-3),
        )  # fmt: skip

    def images(self, images: np.ndarray) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> float [B, 3, H, W], standardised."""
        return self.standardise(unit_images(images))

    def standardise(self, images: torch.Tensor) -> torch.Tensor:
        """float [B, 3, H, W] in [0, 1] -> standardised as :meth:`images` does."""
        mean = torch.as_tensor(self.image_mean, dtype=torch.float32)[None, :, None, None]
        std = torch.as_tensor(self.image_std + 1e-6, dtype=torch.float32)[None, :, None, None]
        return (images - mean) / std

    def poses(self, outputs: torch.Tensor) -> np.ndarray:
        """Network outputs -> pose vectors [B, M * POSE_DIM]."""
        return outputs.detach().numpy() * self.target_std + self.target_mean


def unit_images(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).permute(0, 3, 1, 2)


def build_net(config: LocatorConfig) -> LocatorNet:
    return LocatorNet(len(config.objects), config.image_size, config.channels, config.hidden)


def fit_locator(
    views: Views,
    config: LocatorConfig,
    standardisation: Standardisation,
    log: Callable[[int, float], None] | None = None,
) -> tuple[LocatorNet, list[float]]:
    """The trained network and its per-step losses (MSE on standardised targets)."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    targets = torch.from_numpy(
        (views.targets - standardisation.target_mean) / standardisation.target_std
    ).float()
    net = build_net(config)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps)
    losses: list[float] = []
    net.train()
    with torch_threads(config.threads):
        for step in range(1, config.steps + 1):
            batch = torch.randint(0, len(targets), (config.batch_size,), generator=generator)
            images = unit_images(views.images[batch.numpy()])
            images = standardisation.standardise(augment_images(images, config.augment, generator))
            loss = nn.functional.mse_loss(net(images), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if log is not None:
                log(step, losses[-1])
    return net.eval(), losses


def predict(
    net: LocatorNet, standardisation: Standardisation, images: np.ndarray, batch: int = 256
) -> np.ndarray:
    """Pose vectors [N, M * POSE_DIM] for uint8 images [N, H, W, 3]."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            out.append(
                standardisation.poses(net(standardisation.images(images[start : start + batch])))
            )
    return np.concatenate(out)


@dataclass(frozen=True)
class LocationErrors:
    """Per object: median and 90th-percentile xy error [m] and median yaw error [rad]."""

    xy_median: dict[str, float]
    xy_p90: dict[str, float]
    yaw_median: dict[str, float]


def location_errors(poses: np.ndarray, views: Views, objects: Sequence[str]) -> LocationErrors:
    """How far predicted ``poses`` [N, M * POSE_DIM] are from the views' true poses."""
    xy, yaw = decode_poses(poses, len(objects))
    dist = np.linalg.norm(xy - views.xy, axis=-1)
    turn = yaw_error(yaw, views.yaw)
    return LocationErrors(
        {name: float(np.median(dist[:, m])) for m, name in enumerate(objects)},
        {name: float(np.percentile(dist[:, m], 90)) for m, name in enumerate(objects)},
        {name: float(np.median(turn[:, m])) for m, name in enumerate(objects)},
    )
