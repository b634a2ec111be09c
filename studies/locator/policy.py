"""A pick-and-place policy that sees the scene only through its camera: a learned
:class:`~studies.locator.net.LocatorNet` finds the object and the container in the first frame, and
the scripted expert's motion (IK, grasp, transport, release) carries out the task there.

It is a plain :class:`~evaluate.policy.Policy`: it reads the observation's image and joint
positions, never the simulator's state. What it knows besides the image is what a robot's
software knows — its own kinematics and the shapes of the objects it was trained on — taken
from its training world (``params.world``, an env id or package path). Its quality is the
locator's accuracy, so locators trained for more steps make a ladder of graded policies whose
success depends on how the world looks: what the fidelity benchmark needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from cotrain.policy_model import torch_threads
from evaluate.bundle import BundleConfig
from evaluate.policy import ActionChunk, Observation, Policy, PolicyError, PolicyMetadata
from sim_env.package import load_package
from sim_env.planner import PickPlaceConfig, PickPlaceExpert
from sim_env.registry import resolve_env
from sim_env.scene import build_scene
from studies.locator.net import LocatorConfig, Standardisation, build_net, decode_poses, predict

ENTRY_POINT = "studies.locator.policy:LocatePickPlacePolicy"


def locator_config(config: BundleConfig) -> LocatorConfig:
    """The locator's settings as a bundle's policy.yaml records them."""
    params = config.params
    return LocatorConfig(
        camera=config.image_keys[0],
        image_size=config.image_size,
        objects=(str(params["object"]), str(params["container"])),
        channels=tuple(int(c) for c in params["channels"]),
        hidden=int(params["hidden"]),
        threads=int(params.get("threads", 1)),
    )


class LocatePickPlacePolicy(Policy):
    """The bundle entry class: ``LocatePickPlacePolicy(config, weights)`` per BUNDLE.md.

    policy.yaml: one image key (the camera the locator reads); ``normalization`` holds
    ``image`` [3] and ``pose`` [M * 4] statistics; ``params`` holds ``world``, ``object``,
    ``container``, ``rest_height`` (object name -> z of its body on the table [m]),
    ``channels`` and ``hidden``, and optionally ``threads``.
    """

    def __init__(self, config: BundleConfig, weights: Mapping[str, torch.Tensor]):
        if len(config.image_keys) != 1:
            raise PolicyError(
                f"reads exactly one camera; policy.yaml names {list(config.image_keys)}"
            )
        if config.chunk_length != config.open_loop_horizon:
            raise PolicyError(
                "the expert's plan advances with every action it returns: chunk_length "
                f"({config.chunk_length}) must equal open_loop_horizon ({config.open_loop_horizon})"
            )
        self.config = config
        self.locator = locator_config(config)
        self.net = build_net(self.locator)
        self.net.load_state_dict(dict(weights))
        self.net.eval()
        norm = config.normalization
        self.standardisation = Standardisation(
            norm["image"].mean, norm["image"].std, norm["pose"].mean, norm["pose"].std
        )
        params = config.params
        self.scene = build_scene(load_package(resolve_env(str(params["world"]))))
        self.rest_height: dict[str, float] = {k: float(v) for k, v in params["rest_height"].items()}
        self.expert_config = replace(PickPlaceConfig(), **params.get("expert", {}))
        self._metadata = config.metadata()
        self._episode: tuple[PickPlaceExpert, dict[str, Any]] | None = None

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        self._episode = None

    def locate(self, image: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Object name -> {"pos" [3], "quat" [4]} as the locator sees them in ``image``."""
        with torch_threads(self.locator.threads):
            poses = predict(self.net, self.standardisation, image[None])[0]
        xy, yaw = decode_poses(poses, len(self.locator.objects))
        located = {}
        for m, name in enumerate(self.locator.objects):
            quat = np.array([np.cos(yaw[m] / 2), 0.0, 0.0, np.sin(yaw[m] / 2)])
            located[name] = {"pos": np.array([*xy[m], self.rest_height[name]]), "quat": quat}
        return located

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        if self._episode is None:  # the first frame shows the scene before the arm moves
            objects = self.locate(obs.images[self.locator.camera])
            obj, container = self.locator.objects
            self._episode = (
                PickPlaceExpert(self.scene, obj, container, self.expert_config),
                objects,
            )
        expert, objects = self._episode
        tcp_pos, tcp_mat = expert.ik.forward(obs.joint_position)
        state = {"objects": objects, "tcp_pos": tcp_pos, "tcp_mat": tcp_mat}
        rows = [expert.act(state, obs.joint_position) for _ in range(self.config.chunk_length)]
        return ActionChunk(np.stack(rows), "joint_position")
