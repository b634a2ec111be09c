"""A splat scene in memory: float32 structure of arrays, activated, plus the raw<->activated maps.

Files and optimisers store *raw* parameters (log scales, logit opacities, unnormalised
quaternions); renderers want *activated* ones. ``GaussianSet`` holds the activated form. The
inverse maps (``log_scales``, ``logit_opacities``) search the neighbouring float32 values so
that activating their result gives back the exact float32 input whenever such a raw value
exists, which makes write-then-read of a splat file bit-exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "SH_C0",
    "GaussianSet",
    "RawGaussians",
    "activate_opacities",
    "activate_scales",
    "concat",
    "log_scales",
    "logit_opacities",
    "normalize_quats",
    "num_sh_bases",
    "rgb_to_sh0",
    "sh0_to_rgb",
    "sh_degree_for_bases",
]

SH_C0 = 0.28209479177387814  # Y_0^0, the constant real SH basis function
MAX_SH_DEGREE = 3
_QUAT_UNIT_TOL = 4e-7  # |q| - 1 below this counts as already normalised in float32


def num_sh_bases(degree: int) -> int:
    """Number of SH coefficients per channel for ``degree`` (1, 4, 9, 16)."""
    return (degree + 1) ** 2


def sh_degree_for_bases(num_bases: int) -> int:
    """Inverse of ``num_sh_bases``; raises ValueError unless ``num_bases`` is 1, 4, 9 or 16."""
    for degree in range(MAX_SH_DEGREE + 1):
        if num_sh_bases(degree) == num_bases:
            return degree
    raise ValueError(f"{num_bases} SH coefficients per channel; expected 1, 4, 9 or 16")


def rgb_to_sh0(rgb: np.ndarray) -> np.ndarray:
    """[..., 3] colour in [0, 1] -> [..., 3] DC SH coefficient (the renderer adds 0.5 back)."""
    return ((np.asarray(rgb, np.float64) - 0.5) / SH_C0).astype(np.float32)


def sh0_to_rgb(sh0: np.ndarray) -> np.ndarray:
    """[..., 3] DC SH coefficient -> [..., 3] colour, unclamped."""
    return (np.asarray(sh0, np.float64) * SH_C0 + 0.5).astype(np.float32)


def activate_scales(raw: np.ndarray) -> np.ndarray:
    """Log scales (rounded to float32 first, as stored) -> scales in metres (exp), float32."""
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(raw, np.float32).astype(np.float64)).astype(np.float32)


def activate_opacities(raw: np.ndarray) -> np.ndarray:
    """Logit opacities (rounded to float32 first) -> opacities in (0, 1) (sigmoid), float32."""
    raw64 = np.asarray(raw, np.float32).astype(np.float64)
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-raw64))).astype(np.float32)


def _exact_inverse(values: np.ndarray, forward, inverse) -> np.ndarray:
    """float32 x with forward(x) == values where one lies within 2 ulp of inverse(values)."""
    values = np.asarray(values, np.float32)
    # 0 and 1 have no finite inverse; these finite raw values activate to them exactly
    guess = np.nan_to_num(inverse(values.astype(np.float64)), posinf=88.0, neginf=-104.0)
    guess = guess.astype(np.float32)
    best = guess.copy()
    unresolved = forward(guess) != values
    for direction in (np.inf, -np.inf):
        candidate = guess.copy()
        for _ in range(2):
            candidate = np.nextafter(candidate, np.float32(direction))
            hit = unresolved & (forward(candidate) == values)
            best[hit] = candidate[hit]
            unresolved &= ~hit
    return best


def log_scales(scales: np.ndarray) -> np.ndarray:
    """Scales (metres, > 0) -> float32 log scales that ``activate_scales`` maps back exactly."""
    with np.errstate(divide="ignore"):
        return _exact_inverse(scales, activate_scales, np.log)


def logit_opacities(opacities: np.ndarray) -> np.ndarray:
    """Opacities in (0, 1) -> float32 logits that ``activate_opacities`` maps back exactly."""
    with np.errstate(divide="ignore"):
        return _exact_inverse(opacities, activate_opacities, lambda p: np.log(p / (1.0 - p)))


def normalize_quats(quats: np.ndarray) -> np.ndarray:
    """[N, 4] quaternions -> unit float32 quaternions; rows already unit in float32 are kept
    bit-exact, so normalising twice changes nothing."""
    quats = np.asarray(quats, np.float32)
    norms = np.linalg.norm(quats.astype(np.float64), axis=-1, keepdims=True)
    if not np.all(norms > 0.0):
        raise ValueError("zero-length quaternion")
    unit = (quats / norms).astype(np.float32)
    return np.where(np.abs(norms - 1.0) <= _QUAT_UNIT_TOL, quats, unit)


class RawGaussians(NamedTuple):
    """The raw (file / optimiser) parameters of a GaussianSet."""

    means: np.ndarray  # [N, 3] world, metres
    quats: np.ndarray  # [N, 4] w x y z, unit
    log_scales: np.ndarray  # [N, 3] log metres
    logit_opacities: np.ndarray  # [N]
    sh: np.ndarray  # [N, K, 3]


@dataclass(frozen=True)
class GaussianSet:
    """N Gaussians, activated, float32, C-contiguous.

    Sets built by ``from_raw``, ``from_activated`` or ``read_ply`` (and everything derived
    from them without changing scales or opacities) round-trip through ``write_ply`` and
    ``read_ply`` bit-exactly; the plain constructor takes the values as given.

    Attributes:
        means: [N, 3] centres, world frame, metres.
        quats: [N, 4] unit quaternions w x y z (body to world).
        scales: [N, 3] standard deviations along the body axes, metres (exp of the raw value).
        opacities: [N] peak opacities in (0, 1) (sigmoid of the raw value).
        sh: [N, K, 3] real SH coefficients, K = (degree + 1)^2, degree 0..3, gsplat's basis
            order; colour = max(0, 0.5 + sum_k sh[k] * Y_k(direction)).
    """

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray

    def __post_init__(self) -> None:
        for name in ("means", "quats", "scales", "opacities", "sh"):
            object.__setattr__(
                self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float32)
            )
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "scales": (n, 3),
            "opacities": (n,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}; expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"sh has shape {self.sh.shape}; expected ({n}, K, 3)")
        sh_degree_for_bases(self.sh.shape[1])

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        return sh_degree_for_bases(self.sh.shape[1])

    @property
    def colors(self) -> np.ndarray:
        """[N, 3] view-independent colour (DC term), clamped at 0 like the renderer."""
        return np.maximum(sh0_to_rgb(self.sh[:, 0, :]), np.float32(0.0))

    @classmethod
    def from_activated(
        cls,
        means: np.ndarray,  # [N, 3] metres
        quats: np.ndarray,  # [N, 4] w x y z, any length > 0
        scales: np.ndarray,  # [N, 3] metres
        opacities: np.ndarray,  # [N] in [0, 1]
        sh: np.ndarray,  # [N, K, 3]
    ) -> GaussianSet:
        """A set from activated values, snapped (<= 1e-7 relative) to activations of float32
        raw values, so that writing it to a file and reading it back is exact."""
        return cls.from_raw(means, quats, log_scales(scales), logit_opacities(opacities), sh)

    @classmethod
    def from_colors(
        cls,
        means: np.ndarray,  # [N, 3] metres
        quats: np.ndarray,  # [N, 4] w x y z
        scales: np.ndarray,  # [N, 3] metres
        opacities: np.ndarray,  # [N] in [0, 1]
        colors: np.ndarray,  # [N, 3] in [0, 1]
    ) -> GaussianSet:
        """Degree-0 set from plain colours (snapped like ``from_activated``)."""
        return cls.from_activated(means, quats, scales, opacities, rgb_to_sh0(colors)[:, None, :])

    @classmethod
    def from_raw(
        cls,
        means: np.ndarray,  # [N, 3] metres
        quats: np.ndarray,  # [N, 4] w x y z, any length > 0
        raw_log_scales: np.ndarray,  # [N, 3]
        raw_logit_opacities: np.ndarray,  # [N]
        sh: np.ndarray,  # [N, K, 3]
    ) -> GaussianSet:
        """Activate raw parameters (exp scales, sigmoid opacities, normalise quaternions)."""
        return cls(
            means,
            normalize_quats(quats),
            activate_scales(raw_log_scales),
            activate_opacities(raw_logit_opacities),
            sh,
        )

    def to_raw(self) -> RawGaussians:
        """The raw parameters that ``from_raw`` maps back to this set."""
        return RawGaussians(
            self.means,
            self.quats,
            log_scales(self.scales),
            logit_opacities(self.opacities),
            self.sh,
        )

    def subset(self, index: np.ndarray | slice) -> GaussianSet:
        """The Gaussians selected by a boolean mask, integer indices or a slice."""
        return GaussianSet(
            self.means[index],
            self.quats[index],
            self.scales[index],
            self.opacities[index],
            self.sh[index],
        )

    def with_sh_degree(self, degree: int) -> GaussianSet:
        """Same Gaussians with SH truncated or zero-padded to ``degree`` (padding is exact)."""
        k = num_sh_bases(degree)
        if k <= self.sh.shape[1]:
            sh = self.sh[:, :k]
        else:
            sh = np.zeros((len(self), k, 3), np.float32)
            sh[:, : self.sh.shape[1]] = self.sh
        return GaussianSet(self.means, self.quats, self.scales, self.opacities, sh)


def concat(sets: Sequence[GaussianSet]) -> GaussianSet:
    """One set holding all of ``sets`` in order; SH is zero-padded to the highest degree."""
    if not sets:
        raise ValueError("concat needs at least one GaussianSet")
    degree = max(s.sh_degree for s in sets)
    padded = [s.with_sh_degree(degree) for s in sets]
    return GaussianSet(
        np.concatenate([s.means for s in padded]),
        np.concatenate([s.quats for s in padded]),
        np.concatenate([s.scales for s in padded]),
        np.concatenate([s.opacities for s in padded]),
        np.concatenate([s.sh for s in padded]),
    )
