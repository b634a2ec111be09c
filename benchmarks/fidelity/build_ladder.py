"""Build the fidelity ladder: image-conditioned policies of graded quality, as ``bundle:``
checkpoints with their provenance, for ``twinbench fidelity``.

    python -m benchmarks.fidelity.build_ladder --source tabletop_source --twin tabletop_twin

Every rung is the cotrain demo policy (``cotrain.train``: a small CNN on both cameras plus the
joint state, predicting chunks of joint positions) trained on scripted demonstrations recorded
in the source world, which plays the real robot's data. Quality is graded like SIMPLER's RT-1
checkpoints (begin / 15% / converged) by training steps, 120 to 5000 on 90 demonstrations
(each rung a run of its own, its cosine schedule complete), and every rung is trained twice on
the same source demonstrations:

- ``src-*``: source-world demonstrations only;
- ``cot-*``: the same demonstrations plus twin demonstrations making up a tenth of the
  episodes (PolaRiS co-trains with ~10% of samples from the reconstructed scene).

Both datasets come from one ``cotrain generate`` recipe: the source world listed nine times
(slot k of copy e draws from the seed [seed, e, k], so the copies are independent draws, and
both datasets hold exactly the same source episodes) with the twin as a tenth environment in
the co-training dataset. Bundles name their entry point ``cotrain.policy_model:CotrainPolicy``
(importable wherever twinbench is) instead of shipping a copy of it, and store float32
weights (~2.2 MB each). Re-running skips the datasets and bundles that already exist.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from cotrain.generate import GENERATION_FILE, GenerateConfig, generate
from cotrain.lerobot import DatasetReader
from cotrain.lerobot.layout import INFO_PATH
from cotrain.train import TrainConfig, train_demo
from evaluate.bundle import CONFIG_FILE, WEIGHTS_FILE, load_bundle
from sim_env.package import load_spec_checked
from sim_env.registry import resolve_env
from twinbench.version import __version__

ENTRY_POINT = "cotrain.policy_model:CotrainPolicy"
SOURCE_COPIES = 9  # source draws per twin draw: twin episodes are 1/10 of co-training data
PROVENANCE_FILE = "provenance.json"
GROUPS = {"src": "source-only", "cot": "with-twin-data"}


@dataclass(frozen=True)
class Rung:
    """One quality level: demonstrations per source copy (x9 in all) and optimiser steps."""

    name: str
    demos: int
    steps: int


RUNGS = (
    Rung("s120", demos=10, steps=120),
    Rung("s300", demos=10, steps=300),
    Rung("s800", demos=10, steps=800),
    Rung("s2000", demos=10, steps=2000),
    Rung("s5000", demos=10, steps=5000),
)
QUICK_RUNGS = (Rung("quick-s20", demos=1, steps=20), Rung("quick-s60", demos=1, steps=60))


@dataclass(frozen=True)
class LadderConfig:
    source: str
    twin: str | None
    out: Path
    work: Path
    rungs: tuple[Rung, ...] = RUNGS
    groups: tuple[str, ...] = tuple(GROUPS)
    image_size: tuple[int, int] = (160, 90)  # (width, height) the demos are recorded at
    workers: int = 2
    seed: int = 0


def dataset(config: LadderConfig, group: str, demos: int) -> Path:
    """The ``src`` or ``cot`` dataset with ``demos`` episodes per environment (made once)."""
    root = config.work / f"data-{group}-{demos}"
    if (root / INFO_PATH).is_file():
        return root
    envs = (config.source,) * SOURCE_COPIES + ((config.twin,) if group == "cot" else ())
    generation = GenerateConfig(
        envs=envs,
        episodes=demos,
        seed=config.seed,
        image_size=config.image_size,
        workers=config.workers,
    )
    report = generate(root, generation)
    print(f"{root}: {report.episodes} episodes, {report.frames} frames in {report.seconds:.0f} s")
    return root


def dataset_facts(root: Path, twin: str | None) -> dict[str, object]:
    """Episodes and frames per world in a generated dataset."""
    generation = json.loads((root / GENERATION_FILE).read_text())
    lengths = DatasetReader(root).episodes["length"].tolist()
    worlds = [episode["env"] for episode in generation["episodes"]]
    twin_frames = sum(n for n, env in zip(lengths, worlds, strict=True) if env == twin)
    return {
        "name": root.name,
        "episodes": len(worlds),
        "twin_episodes": worlds.count(twin),
        "frames": sum(lengths),
        "twin_frames": twin_frames,
        "twin_frame_share": round(twin_frames / sum(lengths), 4),
        "seed": generation["plan"]["seed"],
        "image_size": generation["plan"]["image_size"],
    }


def build_rung(config: LadderConfig, rung: Rung, group: str, worlds: dict[str, object]) -> Path:
    """Train one bundle into ``out/GROUP-RUNG`` with its provenance.json (skipped if there)."""
    target = config.out / f"{group}-{rung.name}"
    if (target / PROVENANCE_FILE).is_file():
        return target
    data = dataset(config, group, rung.demos)
    train = TrainConfig(steps=rung.steps, seed=config.seed, log_every=max(1, rung.steps // 5))
    scratch = config.work / "bundles" / target.name
    result = train_demo(data, scratch, train, log=lambda line: print(f"{target.name}: {line}"))
    portable_bundle(scratch, target, data.name)
    provenance = {
        "name": target.name,
        "group": GROUPS[group],
        "rung": asdict(rung),
        "worlds": worlds,
        "dataset": dataset_facts(data, config.twin),
        "training": {
            **asdict(train),
            "first_loss": result.first_loss,
            "final_loss": result.final_loss,
            "seconds": round(result.seconds, 1),
        },
        "built_by": "python -m benchmarks.fidelity.build_ladder " + " ".join(sys.argv[1:]),
        "twinbench_version": __version__,
    }
    (target / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    load_bundle(target)  # fails here, not in an evaluation, if the bundle does not load
    return target


def portable_bundle(scratch: Path, target: Path, dataset_name: str) -> None:
    """policy.yaml and weights only, the entry point imported from twinbench."""
    raw = yaml.safe_load((scratch / CONFIG_FILE).read_text())
    raw["entry_point"] = ENTRY_POINT
    raw["name"] = target.name
    raw["params"]["dataset"] = dataset_name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(scratch / WEIGHTS_FILE, target / WEIGHTS_FILE)
    (target / CONFIG_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))


def build_ladder(config: LadderConfig) -> list[Path]:
    """Every rung of the chosen groups; returns the bundle directories."""
    worlds = {
        role: {"env": env, "content_hash": load_spec_checked(resolve_env(env)).content_hash}
        for role, env in (("source", config.source), ("twin", config.twin))
        if env is not None
    }
    return [
        build_rung(config, rung, group, worlds) for group in config.groups for rung in config.rungs
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="source world env id or package path")
    parser.add_argument("--twin", help="twin env id or package path (for the cot group)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--work", type=Path, default=Path("runs/fidelity-ladder"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--group", choices=list(GROUPS), action="append", help="default: both")
    parser.add_argument("--quick", action="store_true", help="two tiny rungs, to test the script")
    args = parser.parse_args(argv)
    groups = tuple(args.group or GROUPS)
    if "cot" in groups and args.twin is None:
        parser.error("the cot group is trained on twin demonstrations: name --twin")
    config = LadderConfig(
        source=args.source,
        twin=args.twin,
        out=args.out,
        work=args.work,
        rungs=QUICK_RUNGS if args.quick else RUNGS,
        groups=groups,
        workers=args.workers,
        seed=args.seed,
    )
    start = time.perf_counter()
    bundles = build_ladder(config)
    print(f"{len(bundles)} bundles in {config.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
