"""Renderer settings (kept apart from the renderers, which import numba and GL)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HybridConfig:
    """Rendering settings of the hybrid view."""

    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # RGB in [0, 1] where nothing is
    mesh_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)  # robot colour matched to the scan
    backend: str = "auto"  # rasterizer: "auto", "cpu" or "gsplat"
    # Level of detail for cameras fixed in the world: the static scene's Gaussians smaller than
    # this many pixels are merged once per camera and size (None = exact). Moving objects and
    # moving cameras always render every Gaussian. 1 px: ~1.7x faster at 224x224 with 200k
    # Gaussians, ~42 dB PSNR against the exact render (benchmarks/RESULTS.md). Classic mode
    # only: antialiased rendering draws every Gaussian.
    lod_pixels: float | None = 1.0
    # gsplat's antialiased mode (mip-splatting's 2D filter): None follows the package's
    # ``render.antialiased`` (off unless the package opts in).
    antialiased: bool | None = None
    # splats drawn this many times finer and box-averaged (render.supersample): None follows
    # the package's ``render.supersample`` (1 unless the package opts in).
    supersample: int | None = None
    colour_match: bool = True  # apply the package's per-camera ``render.colour`` maps, if any
