"""Build the fidelity ladder: image-conditioned policies of graded quality, as ``bundle:``
checkpoints with their provenance, for ``twinbench fidelity``.

    python -m benchmarks.fidelity.build_ladder --source tabletop_source --twin tabletop_twin

Every rung is :class:`studies.locator.policy.LocatePickPlacePolicy`: a small CNN finds the red
box and the tray in the exterior camera's first frame and the scripted expert's motion does
the rest, so the policy's success is its perception's — it sees the world only through the
camera. Views are rendered in the source world, which plays the real robot's data, at object
placements drawn as ``twinbench fidelity`` draws its initial conditions (from another seed,
so no evaluated placement is trained on). Quality is graded like SIMPLER's RT-1 checkpoints
(begin / 15% / converged) by optimiser steps, each rung a run of its own with its cosine
schedule complete, and every rung is trained twice:

- ``src-*``: source-world views only;
- ``cot-*``: the same views plus twin views making up a tenth of the set (PolaRiS co-trains
  with ~10% of samples from the reconstructed scene);
- ``aug-*``: source-world views only, augmented as openpi trains its policies (random crop
  and rotation, colour jitter: :data:`cotrain.augment.OPENPI`) where the other groups only
  shift by 2 px; real generalist policies meet a twin with that training.

Each provenance.json records the locator's errors on held-out views of both worlds: the gap
between them is the twin's visual gap as this policy feels it. Bundles name their entry point
(importable wherever twinbench is) and store float32 weights. Re-running reuses the rendered
views and skips the bundles that already exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.progress import Progress

from cotrain.augment import OPENPI
from evaluate.bundle import load_bundle, save_bundle
from sim_env.package import EnvPackage, load_package
from sim_env.registry import resolve_env
from sim_env.rubric import pick_place_task
from studies.fidelity.conditions import extra_conditions
from studies.locator.net import (
    LocatorConfig,
    Standardisation,
    Views,
    fit_locator,
    location_errors,
    predict,
    render_views,
)
from studies.locator.policy import ENTRY_POINT
from twinbench.version import __version__

PROVENANCE_FILE = "provenance.json"
GROUPS = {"src": "source-only", "cot": "with-twin-data", "aug": "source-only-augmented"}
AUGMENT = {"aug": OPENPI}  # per group; the others keep LocatorConfig's
TWIN_SHARE = 0.1  # of the co-training views
CHUNK = 8  # actions per inference, all executed (the expert's plan advances with each)


@dataclass(frozen=True)
class Rung:
    """One quality level: optimiser steps."""

    name: str
    steps: int


RUNGS = (
    Rung("s60", steps=60),
    Rung("s150", steps=150),
    Rung("s400", steps=400),
    Rung("s1000", steps=1000),
    Rung("s3000", steps=3000),
)
QUICK_RUNGS = (Rung("quick-s20", steps=20), Rung("quick-s60", steps=60))


@dataclass(frozen=True)
class LadderConfig:
    source: str
    twin: str | None
    out: Path
    work: Path
    rungs: tuple[Rung, ...] = RUNGS
    groups: tuple[str, ...] = tuple(GROUPS)
    views: int = 2000  # source-world training views
    heldout: int = 200  # views per world for the errors in provenance.json
    seed: int = 1  # placements; fidelity evaluates seed 0's
    locator: LocatorConfig = field(default_factory=LocatorConfig)


def placements(packages: tuple[EnvPackage, ...], count: int, seed: int) -> list[list]:
    """Per package, ``count`` drawn initial conditions (the packages' own left out)."""
    own = len(packages[0].spec.initial_conditions)
    return [ics[own:] for ics in extra_conditions(packages, own + count, seed)]


def cached_views(path: Path, render: Callable[[], Views]) -> Views:
    """Views from ``path`` (an .npz) or rendered by ``render()`` and saved there."""
    if path.is_file():
        with np.load(path) as data:
            return Views(data["images"], data["xy"], data["yaw"])
    views = render()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=views.images, xy=views.xy, yaw=views.yaw)
    return views


def world_views(
    config: LadderConfig,
    packages: dict[str, EnvPackage],
    role: str,
    count: int,
    seed: int,
    tag: str,
) -> Views:
    """``count`` views of world ``role`` at the placements of ``seed`` (shared by both worlds),
    cached under ``config.work`` by the worlds' content (a --work folder shared by two ladders
    of other worlds gave the second the first's views)."""
    pair = tuple(packages.values())
    worlds = "-".join(p.content_hash[:10] for p in pair)
    path = config.work / f"views-{tag}-{role}-{seed}-{count}-{worlds}.npz"

    def render() -> Views:
        conditions = placements(pair, count, seed)[list(packages).index(role)]
        with Progress(transient=True) as bar:
            task = bar.add_task(f"rendering {tag} views of the {role} world", total=count)
            return render_views(
                packages[role],
                conditions,
                config.locator,
                progress=lambda n: bar.update(task, completed=n),
            )

    return cached_views(path, render)


def training_views(config: LadderConfig, packages: dict[str, EnvPackage], group: str) -> Views:
    source = world_views(config, packages, "source", config.views, config.seed, "train")
    if group != "cot":
        return source
    twin_count = round(config.views * TWIN_SHARE / (1 - TWIN_SHARE))
    twin = world_views(config, packages, "twin", twin_count, config.seed + 100, "train")
    return Views.concatenate([source, twin])


def bundle_config(
    config: LadderConfig,
    rung: Rung,
    group: str,
    standardisation: Standardisation,
    source: EnvPackage,
) -> dict:
    """policy.yaml for a rung (see LocatePickPlacePolicy)."""
    locator = config.locator
    obj, container = locator.objects
    first = source.spec.initial_conditions[0]
    return {
        "name": f"{group}-{rung.name}",
        "action_space": "joint_position",
        "image_keys": [locator.camera],
        "image_size": locator.image_size,  # save_bundle writes policy.yaml's [height, width]
        "chunk_length": CHUNK,
        "open_loop_horizon": CHUNK,
        "gripper_threshold": 0.5,
        "normalization": {
            "image": {"mean": standardisation.image_mean, "std": standardisation.image_std},
            "pose": {"mean": standardisation.target_mean, "std": standardisation.target_std},
        },
        "params": {
            "world": config.source,
            "object": obj,
            "container": container,
            "rest_height": {name: float(first.objects[name].pos[2]) for name in (obj, container)},
            "channels": list(locator.channels),
            "hidden": locator.hidden,
            "threads": locator.threads,
        },
    }


def build_rung(
    config: LadderConfig,
    rung: Rung,
    group: str,
    packages: dict[str, EnvPackage],
    heldout: dict[str, Views],
) -> Path:
    """Train one bundle into ``out/GROUP-RUNG`` with its provenance.json (skipped if there)."""
    target = config.out / f"{group}-{rung.name}"
    if (target / "provenance.json").is_file():
        return target
    views = training_views(config, packages, group)
    standardisation = Standardisation.of(views)
    locator = replace(
        config.locator, steps=rung.steps, augment=AUGMENT.get(group, config.locator.augment)
    )
    started = time.perf_counter()
    with Progress(transient=True) as bar:
        task = bar.add_task(f"training {target.name}", total=rung.steps)
        net, losses = fit_locator(
            views, locator, standardisation, lambda step, _: bar.update(task, completed=step)
        )
    seconds = time.perf_counter() - started
    save_bundle(
        target,
        ENTRY_POINT,
        bundle_config(config, rung, group, standardisation, packages["source"]),
        net.state_dict(),
    )
    errors = {
        role: asdict(
            location_errors(predict(net, standardisation, held.images), held, locator.objects)
        )
        for role, held in heldout.items()
    }
    provenance = {
        "name": target.name,
        "group": GROUPS[group],
        "rung": asdict(rung),
        "worlds": {
            role: {"env": p.name, "content_hash": p.content_hash} for role, p in packages.items()
        },
        "views": {
            "source": config.views,
            "twin": len(views.images) - config.views,
            "seed": config.seed,
        },
        "training": {
            **asdict(locator),
            "image_size": str(locator.image_size),  # WIDTHxHEIGHT
            "first_loss": losses[0],
            "final_loss": float(np.mean(losses[-max(1, rung.steps // 10) :])),
            "seconds": round(seconds, 1),
        },
        "heldout_errors": errors,
        "built_by": "python -m benchmarks.fidelity.build_ladder " + " ".join(sys.argv[1:]),
        "twinbench_version": __version__,
    }
    (target / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    load_bundle(target)  # fails here, not in an evaluation, if the bundle does not load
    print(
        f"{target.name}: {rung.steps} steps in {seconds:.0f} s; held-out xy error (median, m): "
        + ", ".join(f"{role} {e['xy_median']}" for role, e in errors.items())
    )
    return target


def build_ladder(config: LadderConfig) -> list[Path]:
    """Every rung of the chosen groups; returns the bundle directories."""
    packages = {"source": load_package(resolve_env(config.source))}
    if config.twin is not None:
        packages["twin"] = load_package(resolve_env(config.twin))
    objects = pick_place_task(packages["source"].spec)
    config = replace(config, locator=replace(config.locator, objects=objects))
    heldout = {
        role: world_views(config, packages, role, config.heldout, config.seed + 200, "heldout")
        for role in packages
    }
    return [
        build_rung(config, rung, group, packages, heldout)
        for group in config.groups
        for rung in config.rungs
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="source world env id or package path")
    parser.add_argument("--twin", help="twin env id or package path (needed by the cot group)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--work", type=Path, default=Path("runs/fidelity-ladder"))
    parser.add_argument("--views", type=int, default=LadderConfig.views)
    parser.add_argument("--group", choices=list(GROUPS), action="append", help="default: all")
    parser.add_argument("--quick", action="store_true", help="two tiny rungs, to test the script")
    parser.add_argument(
        "--train-seed", type=int, default=LocatorConfig.seed, help="the networks' initialisation "
        "and batches (another draw of the same ladder; the views stay the same)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    groups = tuple(args.group or GROUPS)
    if "cot" in groups and args.twin is None:
        parser.error("the cot group is trained on twin views too: name --twin")
    config = LadderConfig(
        source=args.source,
        twin=args.twin,
        out=args.out,
        work=args.work,
        rungs=QUICK_RUNGS if args.quick else RUNGS,
        groups=groups,
        views=args.views,
        heldout=20 if args.quick else LadderConfig.heldout,
        locator=LocatorConfig(seed=args.train_seed),
    )
    bundles = build_ladder(config)
    print(json.dumps({"bundles": [str(b) for b in bundles]}))


if __name__ == "__main__":
    main()
