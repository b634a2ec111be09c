"""Image preprocessing that must match what openpi policies were trained with."""

from __future__ import annotations

import numpy as np

from evaluate.errors import EvaluateError
from evaluate.policy import Observation, PolicyMetadata
from sim_env.images import resize_with_pad


def policy_images(obs: Observation, metadata: PolicyMetadata) -> dict[str, np.ndarray]:
    """The cameras a policy reads, resized-with-pad to its image size.

    Raises:
        EvaluateError: the observation lacks one of them (a setup error that would fail every
            episode, so not a PolicyError).
    """
    missing = [key for key in metadata.image_keys if key not in obs.images]
    if missing:
        raise EvaluateError(
            f"policy {metadata.policy_id!r} reads cameras {list(metadata.image_keys)} but the "
            f"observation has no {missing}; it has {sorted(obs.images)}"
        )
    size = metadata.image_size
    return {
        key: resize_with_pad(obs.images[key], size.height, size.width)
        for key in metadata.image_keys
    }
