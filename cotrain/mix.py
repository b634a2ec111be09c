"""The co-training mix: sampling weights that make sim a fixed fraction of training samples.

PolaRiS co-fine-tunes on real demonstrations plus a small share of simulated ones (10% of the
samples by default). With R real frames and S sim frames, drawing every frame with weight
``(1 - f) / R`` if real and ``f / S`` if sim makes sim exactly a fraction ``f`` of the samples
in expectation, however many frames each side has; within a side, datasets are drawn in
proportion to their size. Pipelines that can only concatenate datasets get integer repeat
counts that approximate the same fraction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Literal

from cotrain.errors import CotrainError
from cotrain.lerobot.validate import DatasetSummary

Role = Literal["real", "sim"]
MAX_REPEAT = 20  # largest repeat count offered for concatenation-only pipelines


@dataclass(frozen=True)
class MixComponent:
    """One dataset's place in the mix.

    Attributes:
        probability: chance a drawn sample comes from this dataset.
        frame_weight: sampling weight of each of its frames (weights sum to 1 over all frames).
        boost: how much more often its frames are drawn than in plain concatenation.
        repeat: copies of it in a concatenation that approximates the mix.
    """

    path: str
    role: Role
    episodes: int
    frames: int
    probability: float
    frame_weight: float
    boost: float
    repeat: int


@dataclass(frozen=True)
class Mix:
    sim_fraction: float
    concatenated_sim_fraction: float  # what the repeat counts achieve
    components: tuple[MixComponent, ...]
    arithmetic: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "sim_fraction": self.sim_fraction,
            "concatenated_sim_fraction": self.concatenated_sim_fraction,
            "datasets": [asdict(c) for c in self.components],
            "arithmetic": list(self.arithmetic),
            "warnings": list(self.warnings),
        }


def _repeats(real_frames: int, sim_frames: int, fraction: float) -> tuple[int, int]:
    """(real copies, sim copies), each <= MAX_REPEAT, closest to the target fraction."""
    best = (1, 1)
    for real in range(1, MAX_REPEAT + 1):
        for sim in range(1, MAX_REPEAT + 1):
            share = sim * sim_frames / (sim * sim_frames + real * real_frames)
            old = best[1] * sim_frames / (best[1] * sim_frames + best[0] * real_frames)
            if abs(share - fraction) < abs(old - fraction) - 1e-12:
                best = (real, sim)
    return best


def _compatibility(summaries: Sequence[DatasetSummary]) -> list[str]:
    first = summaries[0]
    if any(s.fps != first.fps for s in summaries):
        rates = {str(s.root): s.fps for s in summaries}
        raise CotrainError(f"datasets must share one frame rate to be mixed, got {rates}")
    warnings = []
    for s in summaries[1:]:
        for key in sorted(set(first.features) ^ set(s.features)):
            owner = first.root if key in first.features else s.root
            warnings.append(f"feature {key!r} is only in {owner}: map or drop it in training")
        for key in sorted(set(first.features) & set(s.features)):
            if first.features[key]["shape"] != s.features[key]["shape"]:
                warnings.append(
                    f"feature {key!r} has shape {first.features[key]['shape']} in {first.root} "
                    f"but {s.features[key]['shape']} in {s.root}: resize it in training"
                )
    return warnings


def compute_mix(
    real: Sequence[DatasetSummary], sim: Sequence[DatasetSummary], sim_fraction: float = 0.1
) -> Mix:
    """Weights for validated datasets so that sim makes up ``sim_fraction`` of the samples."""
    if not 0.0 < sim_fraction < 1.0:
        raise CotrainError(
            f"must be strictly between 0 and 1, got {sim_fraction}", field="sim_fraction"
        )
    if not real or not sim:
        raise CotrainError("a mix needs at least one real and one sim dataset")
    warnings = _compatibility([*real, *sim])
    f = sim_fraction
    real_frames, sim_frames = sum(s.frames for s in real), sum(s.frames for s in sim)
    natural = sim_frames / (real_frames + sim_frames)
    real_copies, sim_copies = _repeats(real_frames, sim_frames, f)
    concatenated = sim_copies * sim_frames / (sim_copies * sim_frames + real_copies * real_frames)
    components = []
    for role, group, total, share, copies in (
        ("real", real, real_frames, 1.0 - f, real_copies),
        ("sim", sim, sim_frames, f, sim_copies),
    ):
        natural_share = total / (real_frames + sim_frames)
        for s in group:
            components.append(
                MixComponent(
                    path=str(s.root),
                    role=role,  # type: ignore[arg-type]
                    episodes=s.episodes,
                    frames=s.frames,
                    probability=share * s.frames / total,
                    frame_weight=share / total,
                    boost=share / natural_share,
                    repeat=copies,
                )
            )
    ratio = Fraction(sim_copies, real_copies)
    arithmetic = (
        f"real frames R = {real_frames} in {len(real)} dataset(s); "
        f"sim frames S = {sim_frames} in {len(sim)} dataset(s)",
        f"plain concatenation: sim share = S / (R + S) = {sim_frames} / {real_frames + sim_frames} "
        f"= {natural:.4f}",
        f"target sim share f = {f:.4f}",
        f"real frame weight = (1 - f) / R = {1 - f:.4f} / {real_frames} = {(1 - f) / real_frames:.6g}",
        f"sim frame weight = f / S = {f:.4f} / {sim_frames} = {f / sim_frames:.6g}",
        f"sim frames are drawn {f / natural:.3f}x, real frames {(1 - f) / (1 - natural):.3f}x "
        "as often as in plain concatenation",
        f"concatenation alternative: real x{real_copies}, sim x{sim_copies} (sim:real copies "
        f"{ratio}) gives sim share {concatenated:.4f}",
    )
    return Mix(f, concatenated, tuple(components), arithmetic, tuple(warnings))
