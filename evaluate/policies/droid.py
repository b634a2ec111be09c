"""How our Observation, instruction and PolicyMetadata map onto openpi's DROID wire keys.

Shared by the websocket client and server so the two cannot drift apart: a request is
``{"observation/<camera>": uint8 image, "observation/joint_position": float32 (7,),
"observation/gripper_position": float32 (1,), "prompt": str}``, the keys, shapes and dtypes
``sim_env.droid`` declares (a server also takes float64 state, as openpi's own client sends);
the first frame of a connection is the metadata map, whose known keys fill PolicyMetadata and
whose other keys land in ``extra``.
Its ``image_size`` is ``[height, width]`` (as in a bundle's policy.yaml), converted to and from
:class:`ImageSize` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.images import policy_images
from evaluate.policy import Observation, PolicyError, PolicyMetadata
from sim_env import droid
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize

PREFIX = droid.OPENPI_PREFIX
PROMPT = droid.PROMPT
# RoboArena's extension of openpi's protocol: a request whose "endpoint" is "reset" resets the
# served policy between episodes. A server that offers it lists it under "endpoints" in its
# metadata frame; the client sends it only then, so plain openpi servers never see it.
ENDPOINT = "endpoint"
ENDPOINTS = "endpoints"
RESET = "reset"
INFER = "infer"
METADATA_FIELDS = (
    "policy_id",
    "action_space",
    "image_keys",
    "image_size",
    "chunk_length",
    "open_loop_horizon",
)


def encode_request(obs: Observation, instruction: str, metadata: PolicyMetadata) -> dict:
    """The request for one inference, images resized-with-pad to ``metadata.image_size``."""
    images = policy_images(obs, metadata)
    request: dict[str, Any] = {droid.openpi_key(key): image for key, image in images.items()}
    for key, spec in droid.STATE.items():
        request[droid.openpi_key(key)] = getattr(obs, key).astype(spec.dtype)
    request[PROMPT] = instruction
    return request


def decode_request(request: Mapping[str, Any]) -> tuple[Observation, str]:
    """The Observation and instruction in a request; every other ``observation/`` array of
    rank 3 is taken as a camera image (uint8 (H, W, 3), checked by Observation).

    Raises:
        ValueError: a state key is missing, breaks the contract's shape, is not floating or
            holds NaN or infinity; the prompt is not a string.
    """
    state = {}
    for key, spec in droid.STATE.items():
        wire_key = droid.openpi_key(key)
        if wire_key not in request:
            raise ValueError(f"request has no {wire_key!r}; it has {sorted(request)}")
        value = np.asarray(request[wire_key])
        if value.shape != spec.shape or value.dtype.kind != "f":
            raise ValueError(
                f"{wire_key} must be a float array of shape {spec.shape} [{spec.unit}], "
                f"got {value.dtype} {value.shape}"
            )
        if not np.isfinite(value).all():
            raise ValueError(f"{wire_key} holds a non-finite value: {value.tolist()}")
        state[key] = value
    images = {
        key.removeprefix(PREFIX): value
        for key, value in request.items()
        if key.startswith(PREFIX) and isinstance(value, np.ndarray) and value.ndim == 3
    }
    prompt = request.get(PROMPT, "")
    if not isinstance(prompt, str):
        raise ValueError(f"{PROMPT!r} must be a string, got {type(prompt).__name__}")
    obs = Observation(state[droid.JOINT_POSITION], state[droid.GRIPPER_POSITION], images)
    return obs, prompt


def metadata_to_frame(metadata: PolicyMetadata) -> dict[str, Any]:
    """The metadata map a server sends first: the known fields, then ``extra`` alongside."""
    frame = dict(metadata.extra)
    frame.update(
        policy_id=metadata.policy_id,
        action_space=metadata.action_space,
        image_keys=list(metadata.image_keys),
        image_size=list(metadata.image_size.height_width),
        chunk_length=metadata.chunk_length,
        open_loop_horizon=metadata.open_loop_horizon,
    )
    return frame


def metadata_from_frame(
    frame: Mapping[str, Any], defaults: PolicyMetadata, overrides: Mapping[str, Any]
) -> PolicyMetadata:
    """Combine what a server sent with the client's defaults and explicit overrides.

    Precedence: ``overrides`` (the user's spec) > ``frame`` (the server) > ``defaults``.
    openpi's own servers send no such fields, so the defaults (DROID, 224x224) apply there.
    """
    if not isinstance(frame, Mapping):
        raise PolicyError(f"server metadata must be a map, got {type(frame).__name__}")
    known = {key: frame[key] for key in METADATA_FIELDS if frame.get(key) is not None}
    if "image_keys" in known:
        known["image_keys"] = tuple(known["image_keys"])
    extra = {str(key): value for key, value in frame.items() if key not in METADATA_FIELDS}
    try:
        if "image_size" in known:
            known["image_size"] = ImageSize.from_height_width(known["image_size"])
        return replace(defaults, **{**known, **overrides}, extra=extra)
    except (TypeError, ValueError, EvaluateError, SimEnvError) as exc:
        raise PolicyError(f"server metadata {dict(known)} is unusable: {exc}") from exc
