"""The gap as the ladder policies feel it: each bundle's locator on the exterior camera's first
frame (the study's size) of the same states in the source world and in each twin look."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import numpy as np

from evaluate.bundle import load_bundle
from evaluate.metrics import mmrv, pearson
from sim_env.package import EnvPackage
from studies.locator.net import LocatorConfig, decode_poses, predict, render_views

GRASP_SLACK = 0.02  # m: a red box located within this is grasped (8.5 cm jaws, 5 cm box)
PLACE_SLACK = 0.03  # m: a tray located within this takes the box


def check_ladder(ladder: Path, objects: tuple[str, ...], package: EnvPackage) -> None:
    """Refuse a ladder whose locators find objects ``package`` lacks (another world's)."""
    missing = [name for name in objects if name not in {o.name for o in package.spec.objects}]
    if missing:
        raise SystemExit(
            f"{ladder}: its locators find {', '.join(objects)}, and {package.spec.name} has no "
            f"{', '.join(missing)}; give --ladder with this world's rungs (kitchen_source's are "
            "benchmarks/fidelity/ladder-kitchen)"
        )


def load_ladder(
    ladder: Path, package: EnvPackage, pattern: str = "*"
) -> tuple[dict, LocatorConfig]:
    """Bundle name -> policy for every bundle directly under ``ladder`` named ``pattern``
    (shell-style), and the view their locators read (the first bundle's camera, size and
    objects), checked against ``package``."""
    bundles = {
        d.name: load_bundle(d).inner
        for d in sorted(ladder.iterdir())
        if fnmatch.fnmatch(d.name, pattern) and (d / "policy.yaml").is_file()
    }
    if not bundles:
        raise SystemExit(f"{ladder}: no policy bundles named {pattern}")
    first = next(iter(bundles.values())).locator
    check_ladder(ladder, tuple(first.objects), package)
    config = LocatorConfig(camera=first.camera, image_size=first.image_size, objects=first.objects)
    return bundles, config


def xy_offsets(
    policy,
    images: np.ndarray,  # [N, H, W, 3] uint8, the first frames the locator reads
    truth: np.ndarray,  # [N, M, 2] m, where its M objects really are
) -> np.ndarray:
    """[N, M, 2] m: where the policy's locator puts each object, less where it is."""
    found, _ = decode_poses(predict(policy.net, policy.standardisation, images), truth.shape[1])
    return found - truth


def xy_errors(policy, images: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """[N, M] m: how far the policy's locator puts each object from where it is."""
    return np.linalg.norm(xy_offsets(policy, images, truth), axis=-1)


def lean(offsets: np.ndarray) -> np.ndarray:
    """[M] m: the length of each object's mean offset over the N states of ``offsets``
    [N, M, 2]. A locator misled the same way in every state leans; one that only scatters
    does not, so a cause that removes the lean is one the twin adds, not noise."""
    return np.linalg.norm(np.asarray(offsets).mean(axis=0), axis=-1)


def located(errors: np.ndarray) -> np.ndarray:
    """[N] bool of ``errors`` [N, 2] m (object, container): both close enough to succeed."""
    return (errors[:, 0] < GRASP_SLACK) & (errors[:, 1] < PLACE_SLACK)


def locator_errors(
    report, source: EnvPackage, twins: dict[str, EnvPackage], conditions, ladder: Path, count: int
) -> dict:
    """world -> bundle -> {object, container: median xy error [cm] (the bundles' task, e.g.
    red_box and tray), "grasp": fraction of states with the object within GRASP_SLACK and the
    container within PLACE_SLACK}; figures go to ``report``."""
    bundles, config = load_ladder(ladder, source)
    worlds = {"source": (source, conditions[0][:count])}
    worlds |= {f"twin {look}": (package, conditions[1][:count]) for look, package in twins.items()}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for world, (package, ics) in worlds.items():
        views = render_views(package, ics, config)
        print(f"locator views of {world}: {len(ics)}", file=sys.stderr, flush=True)
        out[world] = {}
        for name, policy in bundles.items():
            dist = xy_errors(policy, views.images, views.xy)  # [N, M] m
            row = {obj: 100 * float(np.median(dist[:, m])) for m, obj in enumerate(config.objects)}
            row["grasp"] = float(np.mean(located(dist)))
            out[world][name] = row
            case = f"locator/{world.replace(' ', '-')}/{name}"
            for obj in config.objects:
                report.add(case, f"{obj}_xy_median", row[obj], "cm")
            report.add(case, "located", row["grasp"], "fraction")
    return out


def task_objects(locator: dict) -> tuple[str, str]:
    """The (object, container) that ``locator_errors``' rows are keyed by: the task's, so
    the report names what the ladder locates in any world."""
    row = next(iter(next(iter(locator.values())).values()))
    obj, container = (k for k in row if k != "grasp")
    return obj, container


def proxy_agreement(report, locator: dict) -> dict[str, dict[str, float]]:
    """Per twin look: Pearson and MMRV of the located fractions against the source world's,
    over every bundle and over the source-only ones (``src-*``): the study's agreement with
    perception as the only difference between worlds."""
    source = locator["source"]
    out = {}
    for world, rows in locator.items():
        if world == "source":
            continue
        out[world] = {}
        for subset, names in (
            ("all", list(source)),
            ("src", [n for n in source if n.startswith("src-")]),
        ):
            real = np.array([source[n]["grasp"] for n in names])
            sim = np.array([rows[n]["grasp"] for n in names])
            case = f"proxy/{world.replace(' ', '-')}/{subset}"
            out[world][f"pearson_{subset}"] = report.add(case, "pearson", pearson(sim, real), "r")
            out[world][f"mmrv_{subset}"] = report.add(case, "mmrv", mmrv(sim, real), "rate")
    return out
