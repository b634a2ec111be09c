"""Reconstruction figures: wall time per stage on the simulated phone scan of the source
world, held-out PSNR/SSIM of the twin's splats, and its accuracy against the source world.

    python -m benchmarks.reconstruct            # the bundled twin's settings (~25 min, 2 cores)
    python -m benchmarks.reconstruct --quick    # the default test suite's reduced build (~2 min)

Prints one JSON line per figure: {"bench": "reconstruct", "case", "metric", "value", "unit"}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from benchmarks.figures import figure as figure_line
from reconstruct.synthetic.build import BuildConfig, build, quick_config


def figures(record: dict, case: str) -> Iterator[dict]:
    figure = partial(figure_line, "reconstruct", case)

    for stage, seconds in record["seconds"].items():
        yield figure(f"{stage}_time", seconds, "s")
    yield figure("total_time", record["total_seconds"], "s")
    splats = record["splats"]
    yield figure("heldout_psnr", splats["psnr"], "dB")
    yield figure("heldout_ssim", splats["ssim"], "")
    yield figure("heldout_psnr_init", splats["psnr_init"], "dB")
    yield figure("gaussians", splats["gaussians"], "")
    accuracy = record["accuracy"]
    yield figure("scale_error", 100 * accuracy["scale_error"], "%")
    yield figure("gravity_error", accuracy["gravity_error_deg"], "deg")
    yield figure("camera_error", 1000 * accuracy["camera_error_m"], "mm")
    for name, error in accuracy["centroid_error_m"].items():
        yield figure(f"centroid_error_{name}", 100 * error, "cm")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reduced build of the test suite")
    args = parser.parse_args(argv)
    config, case = (
        (quick_config(), "synthetic_scan_quick")
        if args.quick
        else (BuildConfig(), "synthetic_scan")
    )
    with tempfile.TemporaryDirectory() as tmp:
        record = build(config, Path(tmp) / "envs", Path(tmp) / "work")
    for line in figures(record, case):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
