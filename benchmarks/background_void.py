"""How much of the robot's views is void (issue 21): pixels no splat, robot or background covers.

    python -m benchmarks.background_void PACKAGE [PACKAGE ...] [--size 320x180] [--poses 5]

For each package (a path or a registered id) and camera: the mean over the first initial
condition's reset and ``--poses`` arm poses around it (the wrist camera moves) of the
fraction of pixels that are *open* (splat alpha < 0.5, no robot), *void* (open and no
background: they render as flat black) and *unseen* (open, and the background dome there was
filled, not seen by the capture). One JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import sim_env
from sim_env.images import ImageSize
from sim_env.render.void import void_fractions
from sim_env.robot import HOME_QPOS


def _figure(case: str, metric: str, value: float, unit: str) -> dict:
    return {"bench": "background_void", "case": case, "metric": metric,
            "value": round(value, 4), "unit": unit}  # fmt: skip


def arm_poses(count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` arm targets around the home pose (rad), reproducible."""
    rng = np.random.default_rng(seed)
    spread = np.array([0.6, 0.3, 0.4, 0.4, 0.5, 0.3, 0.5])
    return [np.asarray(HOME_QPOS) + rng.uniform(-1, 1, 7) * spread for _ in range(count)]


def measure(package: str, size: ImageSize, poses: int) -> list[dict]:
    """The void figures of one package's cameras."""
    env = sim_env.make(package, renderer="splats", image_size=size)
    try:
        env.reset(options={"initial_condition": 0})
        totals: dict[str, np.ndarray] = {c: np.zeros(3) for c in env.camera_names}
        started = time.perf_counter()
        for i, target in enumerate([None, *arm_poses(poses)]):
            if target is not None:
                for _ in range(10):  # 2/3 s toward the target
                    env.step(np.r_[target, 0.0].astype(np.float32))
            for camera in env.camera_names:
                v = void_fractions(env.renderer, env.data, camera, size)
                totals[camera] += [v.open, v.void, v.unseen]
            print(f"{package}: pose {i + 1}/{poses + 1}", file=sys.stderr, flush=True)
        views = poses + 1
        name = Path(package).name  # the argument, so two builds of one package differ
        figures = [
            _figure(f"{name}/{camera}", metric, value / views, "fraction")
            for camera, sums in totals.items()
            for metric, value in zip(("open", "void", "unseen"), sums, strict=True)
        ]
        figures.append(_figure(name, "seconds", time.perf_counter() - started, "s"))
        return figures
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="+", help="package paths or registered ids")
    parser.add_argument("--size", default="320x180", help="WIDTHxHEIGHT of the views")
    parser.add_argument("--poses", type=int, default=5, help="arm poses besides the reset")
    args = parser.parse_args()
    size = ImageSize.parse(args.size)
    for package in args.packages:
        for figure in measure(package, size, args.poses):
            print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
