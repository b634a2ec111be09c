"""cotrain: scripted demonstrations in environment packages, exported as LeRobot v3.0 datasets,
the sim/real co-training mix, and a small demo policy saved as a ``bundle:`` checkpoint.

Names load on first use (PEP 562), so importing ``cotrain`` (as the CLI does) pulls in neither
MuJoCo nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CotrainError": "cotrain.errors",
    "DatasetError": "cotrain.errors",
    "EnvYield": "cotrain.generate",
    "GenerateConfig": "cotrain.generate",
    "GenerationReport": "cotrain.generate",
    "generate": "cotrain.generate",
    "EpisodeVariation": "cotrain.randomize",
    "RandomizationConfig": "cotrain.randomize",
    "sample_variation": "cotrain.randomize",
    "EpisodeRecord": "cotrain.scripted",
    "record_episode": "cotrain.scripted",
    "Mix": "cotrain.mix",
    "MixComponent": "cotrain.mix",
    "compute_mix": "cotrain.mix",
    "CotrainPolicy": "cotrain.policy_model",
    "TrainConfig": "cotrain.train",
    "TrainResult": "cotrain.train",
    "train_demo": "cotrain.train",
    "DatasetReader": "cotrain.lerobot",
    "validate": "cotrain.lerobot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cotrain' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
