"""Image statistics that say how a twin's frames differ from its source world's frames of the
same state, one cause at a time: colour and exposure, sharpness, aliasing, edges, splats in
free space, robot occlusion. Pure functions over uint8 [H, W, 3] images and masks; the gap
report (``benchmarks.fidelity.gap``) renders the frames and writes what these return.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BANDS",
    "alias_rms",
    "band_power_ratio",
    "channel_stats",
    "dilate",
    "downsample2",
    "edge_f1",
    "luminance",
    "mask_iou",
    "radial_power",
    "rms",
]

LUMA = np.array([0.299, 0.587, 0.114])
# radial frequency bands as fractions of Nyquist (0.5 cycles per pixel)
BANDS = {"low": (0.0, 0.15), "mid": (0.15, 0.4), "high": (0.4, 1.0)}


def luminance(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 -> [H, W] float64 in [0, 1]."""
    return np.asarray(image, np.float64) @ LUMA / 255.0


def channel_stats(images: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, list[float]]:
    """Per-channel mean and std (0-255) over the masked pixels of every image."""
    pixels = np.concatenate([im[m] for im, m in zip(images, masks, strict=True)]).astype(float)
    return {
        "mean": pixels.mean(axis=0).round(2).tolist(),
        "std": pixels.std(axis=0).round(2).tolist(),
    }


def rms(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root mean square difference (0-255 units) over ``mask`` (all pixels if None)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if mask is not None:
        d = d[mask]
    return float(np.sqrt(np.mean(d**2))) if d.size else float("nan")


def radial_power(gray: np.ndarray, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of a Hann-windowed [H, W] image -> (frequency as a
    fraction of Nyquist [bins], mean power [bins])."""
    h, w = gray.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2((gray - gray.mean()) * window))) ** 2
    fy, fx = np.meshgrid(np.fft.fftshift(np.fft.fftfreq(h)), np.fft.fftshift(np.fft.fftfreq(w)))
    radius = np.sqrt(fx.T**2 + fy.T**2) / 0.5
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(radius, edges) - 1, 0, bins - 1)
    inside = radius <= 1
    power = np.bincount(which[inside], spectrum[inside], bins) / np.maximum(
        np.bincount(which[inside], None, bins), 1
    )
    return (edges[:-1] + edges[1:]) / 2, power


def band_power_ratio(twin: list[np.ndarray], source: list[np.ndarray]) -> dict[str, float]:
    """Per band of :data:`BANDS`: the twin's total power over the source's (1 = as sharp;
    below 1 = blurred; above = noisier or aliased), over frame pairs of the same state."""
    freq, _ = radial_power(luminance(twin[0]))
    totals = np.zeros((2, len(freq)))
    for k, frames in enumerate((twin, source)):
        for frame in frames:
            totals[k] += radial_power(luminance(frame))[1]
    return {
        band: float(
            totals[0, (freq >= lo) & (freq < hi)].sum()
            / totals[1, (freq >= lo) & (freq < hi)].sum()
        )
        for band, (lo, hi) in BANDS.items()
    }


def downsample2(image: np.ndarray) -> np.ndarray:
    """[2H, 2W, 3] uint8 -> [H, W, 3] float64 box average (what a camera of half the
    resolution integrates)."""
    f = np.asarray(image, np.float64)
    h, w = f.shape[0] // 2, f.shape[1] // 2
    return f[: 2 * h, : 2 * w].reshape(h, 2, w, 2, -1).mean(axis=(1, 3))


def alias_rms(low: np.ndarray, high: np.ndarray) -> float:
    """RMS (0-255) between a frame rendered at half size and the box average of the same frame
    at full size: zero for a renderer that integrates each pixel's footprint, larger the more
    a low-resolution render aliases or bloats detail."""
    return rms(low, downsample2(high))


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """[H, W] bool grown by ``pixels`` in every direction (a square neighbourhood)."""
    h, w = mask.shape
    padded = np.pad(mask, pixels)
    out = np.zeros_like(mask)
    for dy in range(2 * pixels + 1):
        for dx in range(2 * pixels + 1):
            out |= padded[dy : dy + h, dx : dx + w]
    return out


def _edges(gray: np.ndarray, fraction: float) -> np.ndarray:
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    return magnitude > fraction * magnitude.max()


def edge_f1(twin: np.ndarray, source: np.ndarray, fraction: float = 0.2, slack: int = 1) -> float:
    """F1 of the twin's gradient edges against the source's, a match within ``slack`` px."""
    a, b = _edges(luminance(twin), fraction), _edges(luminance(source), fraction)
    precision = (a & dilate(b, slack)).sum() / max(a.sum(), 1)
    recall = (b & dilate(a, slack)).sum() / max(b.sum(), 1)
    return float(2 * precision * recall / max(precision + recall, 1e-9))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1 when both are empty)."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0
