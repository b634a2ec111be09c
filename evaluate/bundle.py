"""``bundle:PATH`` checkpoints: policy code + ``policy.yaml`` + safetensors weights.

A bundle is a directory any twinbench install can evaluate or serve without knowing how the
policy was trained; BUNDLE.md documents the format. Weights load through safetensors only:
pickle-based files (``.pt``, ``.pkl``, ``.bin`` ...) are refused because loading them runs
arbitrary code.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from evaluate.entry_points import check_module_name, load_entry_class
from evaluate.errors import EvaluateError
from evaluate.images import policy_images
from evaluate.policy import (
    ACTION_SPACES,
    DEFAULT_IMAGE_SIZE,
    DROID_IMAGE_KEYS,
    ActionChunk,
    ActionSpace,
    Observation,
    Policy,
    PolicyError,
    PolicyMetadata,
    binarize_gripper,
)
from sim_env import droid
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize
from twinbench.digests import tree_digest
from twinbench.yamlio import load_yaml

CONFIG_FILE = "policy.yaml"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
FRAMEWORKS = ("numpy", "torch")
MAX_CHUNK_LENGTH = 10_000  # actions per chunk: over 11 minutes at 15 Hz
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib"})
_REQUIRED = object()


@dataclass(frozen=True, eq=False)
class NormStats:
    """Per-dimension mean and standard deviation of one quantity (e.g. state, actions)."""

    mean: np.ndarray
    std: np.ndarray

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / (self.std + 1e-8)

    def unnormalize(self, x: np.ndarray) -> np.ndarray:
        return x * (self.std + 1e-8) + self.mean


@dataclass(frozen=True, eq=False)
class BundleConfig:
    """``policy.yaml``, parsed and checked. The entry class receives it unchanged.

    Attributes:
        directory: the bundle directory (for entry classes that read extra files).
        image_size: policy.yaml's ``[height, width]``, as an ImageSize.
        params: free-form settings of the entry class (``params:`` in policy.yaml).
    """

    directory: Path
    entry_point: str
    action_space: ActionSpace
    image_keys: tuple[str, ...]
    image_size: ImageSize
    chunk_length: int
    open_loop_horizon: int
    name: str
    framework: str = "numpy"
    gripper_threshold: float | None = droid.GRIPPER_THRESHOLD
    normalization: Mapping[str, NormStats] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> PolicyMetadata:
        return PolicyMetadata(
            policy_id=self.name,
            action_space=self.action_space,
            image_keys=self.image_keys,
            image_size=self.image_size,
            chunk_length=self.chunk_length,
            open_loop_horizon=self.open_loop_horizon,
            extra={"bundle": str(self.directory)},
        )


def read_config(directory: Path) -> BundleConfig:
    """``directory``'s policy.yaml, read (bounded, no YAML aliases) and checked."""
    return parse_config(load_yaml(directory / CONFIG_FILE, EvaluateError), directory)


def parse_config(raw: Any, directory: Path) -> BundleConfig:
    """Check a policy.yaml mapping; every error names the file and the field."""
    file = directory / CONFIG_FILE
    if not isinstance(raw, Mapping):
        raise EvaluateError(f"must be a mapping of fields, got {type(raw).__name__}", file=file)

    def get(name: str, kinds: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
        if name not in raw or raw[name] is None:
            if default is _REQUIRED:
                raise EvaluateError("required field is missing", file=file, field=name)
            return default
        value = raw[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise EvaluateError(f"expected {_names(kinds)}, got {value!r}", file=file, field=name)
        return value

    def fail(name: str, message: str) -> EvaluateError:
        return EvaluateError(message, file=file, field=name)

    known = {
        "format_version", "entry_point", "action_space", "image_keys", "image_size",
        "chunk_length", "open_loop_horizon", "name", "framework", "gripper_threshold",
        "normalization", "params",
    }  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        near = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise fail(str(unknown[0]), f"unknown field; valid fields: {sorted(known)}.{hint}")
    if get("format_version", int, FORMAT_VERSION) != FORMAT_VERSION:
        raise fail("format_version", f"this twinbench reads version {FORMAT_VERSION}")
    entry_point = get("entry_point", str)
    module, _, cls = entry_point.partition(":")
    if not module or not cls.isidentifier():
        raise fail("entry_point", f"expected 'module:Class', got {entry_point!r}")
    check_module_name(module, file)
    action_space = get("action_space", str)
    if action_space not in ACTION_SPACES:
        raise fail("action_space", f"expected one of {list(ACTION_SPACES)}, got {action_space!r}")
    image_keys = get("image_keys", (list, tuple), DROID_IMAGE_KEYS)
    if not all(isinstance(key, str) for key in image_keys):
        raise fail("image_keys", f"expected a list of camera names, got {image_keys!r}")
    if len(set(image_keys)) != len(image_keys):
        raise fail("image_keys", f"names a camera more than once: {list(image_keys)!r}")
    image_size = get("image_size", (list, tuple), DEFAULT_IMAGE_SIZE.height_width)
    try:
        size = ImageSize.from_height_width(image_size)
    except SimEnvError as exc:
        raise fail("image_size", exc.message) from None
    chunk_length = get("chunk_length", int)
    if not 1 <= chunk_length <= MAX_CHUNK_LENGTH:
        raise fail("chunk_length", f"expected 1..{MAX_CHUNK_LENGTH}, got {chunk_length}")
    horizon = get("open_loop_horizon", int)
    if not 1 <= horizon <= chunk_length:
        raise fail("open_loop_horizon", f"expected 1 <= {horizon} <= chunk_length {chunk_length}")
    framework = get("framework", str, "numpy")
    if framework not in FRAMEWORKS:
        raise fail("framework", f"expected one of {list(FRAMEWORKS)}, got {framework!r}")
    threshold = (
        get("gripper_threshold", (int, float), None)
        if "gripper_threshold" in raw
        else droid.GRIPPER_THRESHOLD
    )
    if threshold is not None and not 0.0 <= threshold <= 1.0:  # NaN fails too
        raise fail("gripper_threshold", f"expected a number in [0, 1], got {threshold!r}")
    return BundleConfig(
        directory=directory,
        entry_point=entry_point,
        action_space=action_space,
        image_keys=tuple(image_keys),
        image_size=size,
        chunk_length=chunk_length,
        open_loop_horizon=horizon,
        name=get("name", str, directory.resolve().name),
        framework=framework,
        gripper_threshold=None if threshold is None else float(threshold),
        normalization=MappingProxyType(_parse_norm(get("normalization", dict, {}), file)),
        params=MappingProxyType(get("params", dict, {})),
    )


def _parse_norm(raw: Mapping[str, Any], file: Path) -> dict[str, NormStats]:
    stats = {}
    for name, entry in raw.items():
        where = f"normalization.{name}"
        if not isinstance(entry, Mapping) or set(entry) != {"mean", "std"}:
            raise EvaluateError(
                "expected a mapping with exactly 'mean' and 'std'", file=file, field=where
            )
        try:
            mean = np.asarray(entry["mean"], dtype=np.float64)
            std = np.asarray(entry["std"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise EvaluateError(
                f"mean and std must be lists of numbers: {exc}", file=file, field=where
            ) from exc
        if mean.shape != std.shape or not (np.isfinite(mean).all() and (std >= 0).all()):
            raise EvaluateError(
                "mean and std need one shape, finite values, std >= 0", file=file, field=where
            )
        stats[str(name)] = NormStats(mean, std)
    return stats


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _names(kinds: type | tuple[type, ...]) -> str:
    return " or ".join(kind.__name__ for kind in _tuple(kinds))


class BundlePolicy(Policy):
    """A bundle's entry-class instance behind the checks every bundle gets: images resized to
    the bundle's size, crashes and foreign action spaces turned into PolicyError, the gripper
    binarized."""

    def __init__(self, config: BundleConfig, inner: Policy):
        self.config = config
        self.inner = inner
        self._metadata = config.metadata()

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        self.inner.reset()

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        images = policy_images(obs, self._metadata)
        try:
            chunk = self.inner.infer(
                Observation(obs.joint_position, obs.gripper_position, images), instruction
            )
        except EvaluateError:
            raise
        except (Exception, SystemExit) as exc:  # a crash fails this episode, as behind a server
            raise PolicyError(f"{self.config.entry_point}.infer raised {exc!r}") from exc
        if not isinstance(chunk, ActionChunk):
            raise PolicyError(
                f"{self.config.entry_point}.infer returned {type(chunk).__name__}, not ActionChunk"
            )
        if chunk.action_space != self.config.action_space:
            raise PolicyError(
                f"{self.config.entry_point}.infer returned {chunk.action_space} actions; "
                f"{CONFIG_FILE} declares {self.config.action_space}"
            )
        if self.config.gripper_threshold is None:
            return chunk
        return ActionChunk(
            binarize_gripper(chunk.actions, self.config.gripper_threshold), chunk.action_space
        )

    def close(self) -> None:
        self.inner.close()


def load_bundle(path: str | Path) -> BundlePolicy:
    """Load a bundle directory (or its policy.yaml) into a ready policy.

    Raises:
        EvaluateError: a missing or invalid policy.yaml, a pickle file, unreadable weights, or
            an entry point that cannot be imported or is not a Policy.
    """
    directory = bundle_directory(path)
    file = directory / CONFIG_FILE
    config = read_config(directory)
    weights = load_weights(directory, config.framework)
    entry_class = load_entry_class(config.entry_point, directory, file=file)
    try:
        inner = entry_class(config, weights)
    except (Exception, SystemExit) as exc:  # the bundle's code may even call sys.exit
        raise EvaluateError(
            f"{config.entry_point}(config, weights) failed: {exc!r}", file=file, field="entry_point"
        ) from exc
    return BundlePolicy(config, inner)


def bundle_digest(path: str | Path) -> str:
    """A digest of every file of the bundle at ``path`` (a directory or its policy.yaml):
    the same for a copy or a moved bundle, another one once it is retrained in place.

    Raises:
        EvaluateError: ``path`` is not a bundle (no policy.yaml).
    """
    directory = bundle_directory(path)
    compiled = frozenset(p.relative_to(directory).as_posix() for p in directory.rglob("*.pyc"))
    return tree_digest(directory, exclude=compiled)  # Python's caches of the bundle's code


def bundle_directory(path: str | Path) -> Path:
    """The bundle directory ``path`` names (itself, or the folder of its policy.yaml).

    Raises:
        EvaluateError: there is no policy.yaml there.
    """
    directory = Path(path)
    if directory.name == CONFIG_FILE:
        directory = directory.parent
    if not (directory / CONFIG_FILE).is_file():
        raise EvaluateError(f"not a policy bundle: no {CONFIG_FILE} in it", file=directory)
    return directory


def load_weights(directory: Path, framework: str) -> dict[str, Any]:
    """Every tensor of the bundle's ``*.safetensors`` files, as numpy arrays or torch tensors."""
    refused = sorted(
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file()
    )
    if refused:
        raise EvaluateError(
            f"refusing pickle-based weight file(s) {refused}: loading them can run arbitrary "
            "code. Convert the tensors with safetensors' save_file to *.safetensors.",
            file=directory,
        )
    if framework == "torch":
        from safetensors.torch import load_file
    else:
        from safetensors.numpy import load_file
    weights: dict[str, Any] = {}
    for path in sorted(directory.glob("*.safetensors")):
        try:
            tensors = load_file(path)
        except Exception as exc:  # safetensors raises its own error types and TypeError
            raise EvaluateError(
                f"unreadable safetensors file ({framework}): {exc}", file=path
            ) from exc
        clash = sorted(set(tensors) & set(weights))
        if clash:
            raise EvaluateError(f"tensor names {clash} also appear in another file", file=path)
        weights.update(tensors)
    return weights


def save_bundle(
    directory: str | Path,
    entry_point: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, Any],
    *,
    sources: Sequence[str | Path] = (),
) -> Path:
    """Write a bundle: policy.yaml, ``model.safetensors`` and copies of ``sources``.

    Args:
        directory: created if needed.
        entry_point: ``module:Class``; ship the module via ``sources`` or keep it importable.
        config: the other policy.yaml fields (numpy values allowed); ``framework`` defaults to
            ``torch`` when any tensor is a torch.Tensor. ``image_size`` is an ImageSize
            (written as the file's ``[height, width]``) or that list itself.
        tensors: name -> numpy array or torch tensor.
        sources: files or package directories copied into the bundle.

    Returns:
        The bundle directory. The config is checked before anything is written.
    """
    directory = Path(directory)
    is_torch = any(type(t).__module__.startswith("torch") for t in tensors.values())
    config = dict(config)
    if isinstance(config.get("image_size"), ImageSize):
        config["image_size"] = config["image_size"].height_width
    raw = {"format_version": FORMAT_VERSION, "entry_point": entry_point, **_plain(config)}
    raw.setdefault("framework", "torch" if is_torch else "numpy")
    parse_config(raw, directory)
    directory.mkdir(parents=True, exist_ok=True)
    if is_torch:
        import torch
        from safetensors.torch import save_file

        save_file(
            {k: torch.as_tensor(v).detach().cpu().clone().contiguous() for k, v in tensors.items()},
            directory / WEIGHTS_FILE,
        )
    else:
        from safetensors.numpy import save_file

        save_file(
            {k: np.ascontiguousarray(v) for k, v in tensors.items()}, directory / WEIGHTS_FILE
        )
    for source in map(Path, sources):
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, directory / source.name, dirs_exist_ok=True, ignore=ignore)
        else:
            shutil.copy2(source, directory / source.name)
    (directory / CONFIG_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    return directory


def _plain(value: Any) -> Any:
    """numpy values and tuples as the plain lists and numbers YAML can hold."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value
