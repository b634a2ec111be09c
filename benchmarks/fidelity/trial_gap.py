"""Where the twin loses the trials the source world wins, condition by condition.

    python -m benchmarks.fidelity.trial_gap --store runs/estimate/s10/results.sqlite \\
        --rung src-s3000 --rung src-s400 --out benchmarks/fidelity/trial-gap

The store is one that ``python -m benchmarks.estimate_trials`` recorded: each rung in the
source world and its twin at the same initial conditions, read here read-only. For every
condition where one world succeeds and the other fails it says where the failing episode
went wrong, twice:

1. The rubric: the first criterion (rubric order) the winning episode reached and the losing
   one did not, its stage (``reach`` -> reach/grasp, ``lift`` -> lift, ``inside_xy`` and
   ``gripper_open`` -> transport/place), and the step lag on the criteria both reached.
2. The cause, from the rung's own object locator (the ``studies.locator`` policies locate the
   object and container once, on the exterior camera's first frame, and the scripted expert
   does the rest): its xy error on the twin's first frame of that condition, against the true
   pose in the twin, for the object the lost stage needs (the object for reach/grasp and lift,
   the container for transport/place). The thresholds come from the source world's own
   successful trials: under the 90th percentile of their errors the twin was read as well as
   the source is when it succeeds, so the loss is physics or geometry; over the largest error
   any source success had, a vision loss; between, unclear.
3. The swapped-eyes replay (``--no-replay`` skips it): each disagreeing episode run again in
   the losing world, its locator's reading replaced, once by its own (which must repeat the
   stored failure) and once by the winning world's reading carried to where the objects stand
   in the losing world (the worlds place them within a few mm of each other). Success with the
   winner's eyes is a vision loss; failing again, a physics/geometry one.

The worlds are the run's ``worlds/`` folder next to the store (``estimate_trials`` writes the
packages with their conditions there); without it they are rebuilt as ``estimate_trials``
builds them (:func:`studies.fidelity.conditions.expand_pair`, seed 0) under ``--work``, and
either way their content hashes must be the store's. Writes ``OUT/trial-gap.md``,
``OUT/trial-gap.jsonl`` (also printed: one JSON line per figure), ``OUT/trial-gap.csv`` (one
row per disagreeing condition) and ``OUT/trial-gap.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.estimate_trials import CONDITIONS, SOURCE, TWIN
from benchmarks.fidelity.trial_gap_replay import swap_eyes
from benchmarks.fidelity.trial_gap_report import gap_figures, write_report
from evaluate.bundle import load_bundle
from evaluate.correlation.inputs import read_store_episodes
from evaluate.run.plan import policy_hashes
from evaluate.store import EXCLUDED_KINDS, ResultsStore
from sim_env.package import EnvPackage, load_package
from studies.fidelity.conditions import expand_pair
from studies.fidelity.run import check_pair
from studies.locator.net import LocatorConfig, Views, decode_poses, predict, render_views, yaw_error

STAGES = {
    "reach": "reach/grasp",
    "lift": "lift",
    "inside_xy": "transport/place",
    "gripper_open": "transport/place",
}
"""Rubric criterion kind -> the stage of the pick-and-place it belongs to."""


@dataclass(frozen=True)
class CriteriaDiff:
    """How a losing episode's rubric record departs from a winning one's at a condition."""

    first_missed: str | None  # the first criterion the winner reached and the loser did not
    lags: dict[str, int]  # criterion -> loser's step - winner's step, where both reached it


def criteria_diff(
    winner: Mapping[str, int | None], loser: Mapping[str, int | None], order: Sequence[str]
) -> CriteriaDiff:
    """Compare two episodes' ``criteria`` (name -> first step reached, None = never) in
    rubric ``order``.

    Raises:
        ValueError: a record lacks a criterion of ``order``.
    """
    for name in order:
        if name not in winner or name not in loser:
            raise ValueError(f"criterion {name!r} missing from a record: {winner} / {loser}")
    missed = [n for n in order if winner[n] is not None and loser[n] is None]
    lags = {
        n: int(loser[n]) - int(winner[n])  # type: ignore[arg-type]
        for n in order
        if winner[n] is not None and loser[n] is not None
    }
    return CriteriaDiff(missed[0] if missed else None, lags)


@dataclass(frozen=True)
class Thresholds:
    """Locator xy error [m] bounds between a physics/geometry loss and a vision loss."""

    physics_below: float = 0.02
    vision_above: float = 0.04

    def __post_init__(self) -> None:
        if not 0 < self.physics_below <= self.vision_above:
            raise ValueError(
                f"need 0 < physics_below <= vision_above, got {self.physics_below} and "
                f"{self.vision_above}"
            )

    def cause(self, error: float) -> str:
        """physics/geometry, unclear or vision, for the locator's error [m] on what the lost
        stage needs."""
        if error < self.physics_below:
            return "physics/geometry"
        if error > self.vision_above:
            return "vision"
        return "unclear"


@dataclass(frozen=True)
class Rubric:
    """The rubric as the twin package declares it: criteria in order, each one's stage and the
    locator object (0: the task's object, 1: its container) that stage depends on."""

    order: tuple[str, ...]
    stage: dict[str, str]
    needs: dict[str, int]

    @staticmethod
    def of(package: EnvPackage) -> Rubric:
        criteria = package.spec.rubric.criteria
        unknown = [c.kind for c in criteria if c.kind not in STAGES]
        if unknown:
            raise SystemExit(
                f"{package.root / 'env.yaml'}: rubric.criteria kind {unknown[0]!r} has no "
                f"pick-and-place stage (known: {', '.join(STAGES)})"
            )
        stage = {c.name: STAGES[c.kind] for c in criteria}
        needs = {n: int(s == "transport/place") for n, s in stage.items()}
        return Rubric(tuple(c.name for c in criteria), stage, needs)


def rung_episodes(frame: pd.DataFrame, store: Path, rung: str) -> pd.DataFrame:
    """The store's episodes of ``rung`` (a bundle folder's name), failed runs left out.

    Raises:
        SystemExit: the store holds no episode of that rung (names the rungs it holds).
    """
    names = frame["policy_id"].str.rsplit("/", n=1).str[-1]
    mine = frame[(names == rung) & ~frame["failure_kind"].isin(EXCLUDED_KINDS)]
    if mine.empty:
        held = ", ".join(sorted(set(names))) or "none"
        raise SystemExit(f"{store}: no episodes of rung {rung!r} (the store holds: {held})")
    return mine


def paired(episodes: pd.DataFrame, hashes: Mapping[str, str]) -> pd.DataFrame:
    """One row per condition both worlds ran: ``{world}_{field}`` for world in source, twin and
    field in success, criteria, length_steps, failure_kind, seed. ``hashes``: world -> content hash."""
    columns = ["success", "criteria", "length_steps", "failure_kind", "seed"]
    sides = []
    for world, digest in hashes.items():
        side = episodes[episodes["env_hash"] == digest].drop_duplicates("initial_condition")
        side = side.set_index("initial_condition")[columns]
        sides.append(side.add_prefix(f"{world}_"))
    return pd.concat(sides, axis=1, join="inner").sort_index()


def worlds_for(store: Path, episodes: pd.DataFrame, folder: Path, work: Path) -> dict:
    """world -> the package the store's episodes ran in: ``folder``/source and /twin, or, where
    those are missing, the pair rebuilt by ``estimate_trials``' own code under ``work``.

    Raises:
        SystemExit: a package's content hash is not one the store's episodes ran in.
    """
    if all((folder / w / "env.yaml").is_file() for w in ("source", "twin")):
        packages = {w: load_package(folder / w) for w in ("source", "twin")}
    else:
        count = max(CONDITIONS, int(episodes["initial_condition"].max()) + 1)
        print(f"{folder}: not there; rebuilding {count} conditions", file=sys.stderr)
        source, twin = expand_pair(*check_pair(SOURCE, TWIN), count, 0, work / "worlds")
        packages = {"source": source, "twin": twin}
    ran = set(episodes["env_hash"])
    for package in packages.values():
        if package.content_hash not in ran:
            raise SystemExit(
                f"{package.root / 'env.yaml'}: content hash {package.content_hash[:12]} is "
                f"not a world of {store}'s episodes ({', '.join(sorted(h[:12] for h in ran))})"
            )
    return packages


def check_bundle(store: Path, policy_id: str) -> Path:
    """The bundle folder of ``policy_id`` (``bundle:PATH``), checked against the digest the
    store's runs recorded for it.

    Raises:
        SystemExit: not a bundle, or its files changed since the run.
    """
    if not policy_id.startswith("bundle:"):
        raise SystemExit(f"{store}: policy {policy_id!r} is not a bundle; no locator to read")
    now = policy_hashes([policy_id]).get(policy_id)
    with ResultsStore.open(store, read_only=True) as db:
        recorded = {
            str(run.config["policy_hashes"][policy_id])  # type: ignore[index]
            for run in db.runs()
            if policy_id in (run.config.get("policy_hashes") or {})  # type: ignore[operator]
        }
    if recorded and now not in recorded:
        raise SystemExit(
            f"{store}: {policy_id} was recorded with files {sorted(recorded)[0][:12]}, the "
            f"bundle now has {str(now)[:12]}: it was retrained since"
        )
    return Path(policy_id.removeprefix("bundle:"))


@dataclass(frozen=True)
class Located:
    """One world's first frames and a locator's reading of them at every condition."""

    views: Views  # images [C, H, W, 3], true xy [C, M, 2] m, yaw [C, M] rad
    xy: np.ndarray  # [C, M, 2] located, m
    yaw: np.ndarray  # [C, M] located, rad

    @property
    def error(self) -> np.ndarray:
        """[C, M] xy error, m."""
        return np.linalg.norm(self.xy - self.views.xy, axis=-1)

    @property
    def yaw_error(self) -> np.ndarray:
        """[C, M] yaw error modulo the grasp symmetry, rad."""
        return yaw_error(self.yaw, self.views.yaw)


class ViewCache:
    """First frames per (world, camera, size), rendered once for every rung that reads them."""

    def __init__(self, packages: Mapping[str, EnvPackage]) -> None:
        self.packages = packages
        self._views: dict[tuple, Views] = {}

    def locate(self, world: str, bundle: Path) -> Located:
        policy = load_bundle(bundle).inner
        config: LocatorConfig = policy.locator
        key = (world, config.camera, tuple(config.image_size), config.objects)
        if key not in self._views:
            package = self.packages[world]
            started = time.perf_counter()
            self._views[key] = render_views(package, package.spec.initial_conditions, config)
            seconds = time.perf_counter() - started
            print(f"first frames of {world}: {seconds:.0f} s", file=sys.stderr, flush=True)
        views = self._views[key]
        poses = predict(policy.net, policy.standardisation, views.images)
        xy, yaw = decode_poses(poses, len(config.objects))
        return Located(views, xy, yaw)


def diagnose(
    pairs: pd.DataFrame, rubric: Rubric, located: dict, limits: Sequence[Thresholds]
) -> pd.DataFrame:
    """One row per condition the worlds disagree on: ``lost`` (source won) or ``gained``, the
    first criterion missed and its stage, the lags, the locator's errors in both worlds [cm]
    and the cause (the losing world's error on the object the stage needs, against ``limits``
    for that object)."""
    objects = located["twin"].views.xy.shape[1]
    errors = {w: located[w].error for w in ("source", "twin")}
    yaws = {w: np.degrees(located[w].yaw_error) for w in ("source", "twin")}
    rows = []
    for condition, row in pairs.iterrows():
        if row["source_success"] == row["twin_success"]:
            continue
        lost = bool(row["source_success"])
        winner, loser = ("source", "twin") if lost else ("twin", "source")
        diff = criteria_diff(row[f"{winner}_criteria"], row[f"{loser}_criteria"], rubric.order)
        missed = diff.first_missed or rubric.order[-1]
        need = rubric.needs[missed]
        c = int(condition)  # type: ignore[call-overload]
        out = {
            "condition": c,
            "direction": "lost" if lost else "gained",
            "first_missed": missed,
            "stage": rubric.stage[missed],
            "lag_steps": max(diff.lags.values(), default=0),
            "loser_length": int(row[f"{loser}_length_steps"]),
            "loser_failure_kind": row[f"{loser}_failure_kind"] or "",
            "needs": need,
            "cause": limits[need].cause(float(errors[loser][c, need])),
        }
        for w in ("source", "twin"):
            for m in range(objects):
                out[f"{w}_err{m}_cm"] = 100 * float(errors[w][c, m])
                out[f"{w}_yaw{m}_deg"] = float(yaws[w][c, m])
        rows.append(out)
    return pd.DataFrame(rows)


def source_thresholds(located: Located, success: np.ndarray) -> list[Thresholds]:
    """Per locator object, thresholds from the source world's own successful trials
    (``success`` [C] bool): under the 90th percentile of their errors the twin read the scene
    as well as the source does when it succeeds; over their largest error, worse than the
    source ever succeeded with.

    Raises:
        SystemExit: the source world never succeeded (nothing to rest them on).
    """
    if not success.any():
        raise SystemExit("the source world never succeeded: no errors to set thresholds by")
    errors = located.error[success]  # [S, M] m
    return [
        Thresholds(float(np.percentile(e, 90)), max(float(e.max()), float(np.percentile(e, 90))))
        for e in errors.T
    ]


@dataclass(frozen=True)
class RungGap:
    """One rung's paired outcomes and where their disagreements went wrong."""

    rung: str
    pairs: pd.DataFrame
    located: dict  # world -> Located
    thresholds: list  # per locator object
    objects: tuple[str, str]
    camera: str  # the one the locator reads
    packages: dict  # world -> EnvPackage
    diagnosis: pd.DataFrame


def analyse(
    frame: pd.DataFrame, store: Path, rung: str, packages: dict, cache: ViewCache, swap: bool
) -> RungGap:
    """One rung's pairs, locator readings, thresholds and diagnosis (replayed if ``swap``).

    Raises:
        SystemExit: the rung is missing, names several bundles, was retrained since the run,
            or has no condition run in both worlds.
    """
    episodes = rung_episodes(frame, store, rung)
    policy_ids = sorted(set(episodes["policy_id"]))
    if len(policy_ids) > 1:
        raise SystemExit(f"{store}: rung {rung!r} names several bundles: {', '.join(policy_ids)}")
    bundle = check_bundle(store, policy_ids[0])
    pairs = paired(episodes, {w: p.content_hash for w, p in packages.items()})
    if pairs.empty:
        raise SystemExit(f"{store}: rung {rung!r} has no condition run in both worlds")
    located = {w: cache.locate(w, bundle) for w in ("source", "twin")}
    limits = source_thresholds(
        Located(
            located["source"].views.take(pairs.index.to_numpy()),
            located["source"].xy[pairs.index],
            located["source"].yaw[pairs.index],
        ),
        pairs["source_success"].to_numpy(bool),
    )
    diagnosis = diagnose(pairs, Rubric.of(packages["twin"]), located, limits)
    if swap and not diagnosis.empty:
        diagnosis = swap_eyes(pairs, diagnosis, packages, bundle, located)
    locator = load_bundle(bundle).inner.locator
    return RungGap(
        rung, pairs, located, limits, tuple(locator.objects), locator.camera, packages, diagnosis
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="estimate_trials' store")
    parser.add_argument("--rung", action="append", required=True, help="a bundle's name")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/fidelity/trial-gap"))
    parser.add_argument(
        "--worlds", type=Path, help="the run's packages (default: worlds/ next to the store)"
    )
    parser.add_argument("--work", type=Path, default=Path("runs/trial-gap"), help="scratch")
    parser.add_argument("--no-replay", action="store_true", help="skip the swapped-eyes replays")
    args = parser.parse_args(argv)
    if not args.store.is_file():
        parser.error(f"--store {args.store}: no such file")
    started = time.perf_counter()
    frame = read_store_episodes(args.store)
    for rung in args.rung:
        rung_episodes(frame, args.store, rung)  # a missing rung fails before any rendering
    packages = worlds_for(args.store, frame, args.worlds or args.store.parent / "worlds", args.work)
    cache = ViewCache(packages)
    gaps = [
        analyse(frame, args.store, rung, packages, cache, not args.no_replay) for rung in args.rung
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    lines = [figure for gap in gaps for figure in gap_figures(gap)]
    with (args.out / "trial-gap.jsonl").open("w") as f:
        for line in lines:
            print(json.dumps(line), flush=True)
            f.write(json.dumps(line) + "\n")
    command = "python -m benchmarks.fidelity.trial_gap " + " ".join(argv or sys.argv[1:])
    write_report(args.out, gaps, command, time.perf_counter() - started)


if __name__ == "__main__":
    main()
