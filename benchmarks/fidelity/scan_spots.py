"""Where on the table the twin misleads a locator: the task object's locator error in each
world, grouped by where the object stands relative to the scan's layout (the twin's first
initial condition: where every object stood while the phone filmed).

    python -m benchmarks.fidelity.scan_spots --source tabletop_source --twin tabletop_twin \\
        --bundle benchmarks/fidelity/ladder/src-s3000 --states 100

The table under an object was never filmed: the objects stage fills it with a copy of the table
beside it (``reconstruct.holefill``). If the fill, or a ghost of the object's base, misleads the
locator, the twin's error is larger where the task object stands on another object's scan
spot than elsewhere. One JSON line per figure: the median xy error (cm), the fraction within
2 cm and the count, per world and group.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.fidelity.gap import SEED, Report
from evaluate.bundle import load_bundle
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.run import check_pair
from studies.locator.net import LocatorConfig, decode_poses, predict, render_views

SPOT_RADIUS = 0.04  # m: the object stands on a scan spot when its centre is this close
GROUPS = ("other-objects-spot", "own-spot", "elsewhere")


def spot_groups(xy: np.ndarray, scan: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """[N] masks of GROUPS for the object ``name`` at ``xy`` [N, 2] (m), given each object's
    scan position (m): on another object's spot, on its own, or elsewhere."""
    others = [np.linalg.norm(xy - p, axis=1) for k, p in scan.items() if k != name]
    near_other = np.min(others, axis=0) < SPOT_RADIUS if others else np.zeros(len(xy), bool)
    near_own = np.linalg.norm(xy - scan[name], axis=1) < SPOT_RADIUS
    near_own &= ~near_other
    return dict(zip(GROUPS, (near_other, near_own, ~(near_other | near_own)), strict=True))


def scan_spot_errors(source_id: str, twin_id: str, bundle: Path, states: int, report: Report):
    """Figures per world and group (see the module docstring)."""
    source, twin = check_pair(source_id, twin_id)
    conditions = extra_conditions((source, twin), states, SEED)
    scan = {k: np.asarray(v.pos[:2]) for k, v in twin.spec.initial_conditions[0].objects.items()}
    policy = load_bundle(bundle).inner
    loc = policy.locator
    config = LocatorConfig(camera=loc.camera, image_size=loc.image_size, objects=loc.objects)
    name = config.objects[0]
    for world, package, ics in (("source", source, conditions[0]), ("twin", twin, conditions[1])):
        views = render_views(package, ics[:states], config)
        xy, _ = decode_poses(
            predict(policy.net, policy.standardisation, views.images), len(config.objects)
        )
        error = 100 * np.linalg.norm(xy[:, 0] - views.xy[:, 0], axis=1)  # cm
        for group, mask in spot_groups(views.xy[:, 0], scan, name).items():
            case = f"scan_spots/{world}/{group}"
            report.add(case, "count", int(mask.sum()), "states")
            if mask.any():
                report.add(case, f"{name}_xy_median", float(np.median(error[mask])), "cm")
                report.add(case, "within_2cm", float(np.mean(error[mask] < 2.0)), "fraction")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--bundle", type=Path, required=True, help="a ladder bundle's folder")
    parser.add_argument("--states", type=int, default=100)
    args = parser.parse_args(argv)
    scan_spot_errors(args.source, args.twin, args.bundle, args.states, Report())


if __name__ == "__main__":
    main()
