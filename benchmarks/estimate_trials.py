"""Real trials saved by many twin-only trials, on recorded source-world and twin episodes.

Run ``python -m benchmarks.estimate_trials [--out runs/estimate-trials] [--workers 2]
[--draws 1000]`` (also the ``trials`` part of ``python -m benchmarks.estimate``); prints one
JSON line per figure, progress on stderr.

1. Runs, or resumes, the ladder's rungs that succeed often enough to need an interval (by
   default the source-only src-s3000 and src-s400, then the co-trained cot-s1000 and
   cot-s400) in ``tabletop_source`` (plays real) and ``tabletop_twin`` at the same 100
   initial conditions (the packages' 10, then 90 drawn around them, as ``twinbench fidelity
   --initial-conditions`` draws them), cameras at 160x90, episodes ended at 150 steps (every
   success of the committed 600-episode fidelity run came by step 91): 800 episodes, rung by
   rung, into one results store. Only the runs this invocation evaluated are read back, and
   two different episodes of one rung in one world at one condition are refused, so the
   store's episodes of an earlier build of a world never mix in. A run is known by its
   policies' specs and files and its worlds' content hashes: a rung retrained in place
   starts a new run, and no episode of its predecessor is adopted (the committed files
   were still recorded into a fresh ``--out``). The outcomes per condition are written to
   ``benchmarks/estimate_trials.csv`` (committed), which ``--measure-only`` measures without
   running anything. The committed file was recorded in session 20 (7 Dec 2026) on the
   bundled ``tabletop_twin`` of that session (session 19's build with the table's edge blur
   dropped, package stage version 5, colour maps fitted again) with the ``cot-*`` rungs
   retrained on it, with the defaults (four rungs, 100 conditions; the source world's
   episodes of the rungs not retrained adopted from session 19's store: about 5 min with 2
   workers on 2 cores); session 19's (the same twin with its edge blur, 800 episodes, about 10
   min) is in git history (917720d); session 10's (the twin of d34c6d4, rebuilt with an exterior pass, and
   the rungs of 06a738d) is in git history (61c6add). Session 8's file (the relit twin of b8981a5, cot-s1000 and
   cot-s400 at 100 conditions, and the ``jitter1``..``jitter8`` columns that session 9's
   ``--jitter 8`` added on the same store: 1600 twin episodes, 50 min at load 10-16) is
   ``benchmarks/estimate_trials_s8.csv`` (``--measure-only --csv
   benchmarks/estimate_trials_s8.csv --jitter 8``); session 6's (three co-trained rungs at
   300 conditions, the twin before its relit rebuild) is in git history (52755cf). Session
   13's file for the source-only rungs trained with openpi's augmentations (``--rungs
   aug-s3000 aug-s400 --csv benchmarks/estimate_trials_aug.csv``, the same twin, 400
   episodes, 16 min) is ``benchmarks/estimate_trials_aug.csv``. The kitchen's file
   (``--source kitchen_source --twin kitchen_twin --ladder
   benchmarks/fidelity/ladder-kitchen --csv benchmarks/estimate_trials_kitchen.csv``, the
   default four rungs) was recorded in session 20 on the bundled twin of that session
   (package stage version 5) with its retrained ``cot-*`` rungs (6 min, the source world's
   episodes of the rungs not retrained adopted from session 18's store); session 18's (the
   twin of that session, 800 episodes, 14 min) is in git history (917720d); session 15's (the re-filled twin) is in git history (a89a99d). Session 16's files put the source
   world through cameras 3% warmer in white balance in the twin's place (``--twin DIR`` of
   ``twinbench env edit SOURCE --camera-gains CAMERA=1.03,1,0.97 -o DIR`` for both cameras;
   the source side adopted from the stores of sessions 10 and 15: 400 episodes each, 4 and 6
   min): what a twin as close as another camera would save. They are
   ``benchmarks/estimate_trials_camera.csv`` (tabletop) and
   ``benchmarks/estimate_trials_kitchen_camera.csv``.
2. The conditions are the population: the true real rate is the source world's mean over
   them. For n = 5, 10, 20, 30 real trials, ``draws`` times: n conditions drawn without
   replacement; their source episodes are the real trials, the twin there their pairs, the
   twin at the other conditions the twin-only trials. Every interval of ``twinbench
   estimate`` is scored by its mean width and by how often it holds the true rate. The
   twin's prediction at a condition is its 0/1 success, and again its rubric progress (a
   continuous score: the twin is deterministic, so repeated twin rollouts of a condition
   give one outcome, and progress is the continuous prediction it has), and each of the two
   pooled (:data:`POOLED_PREDICTIONS`, ``twinbench estimate --pool-policies``): half the
   policy's own, half the mean over every rung of the file at that condition. With ``--jitter K``
   the run also evaluates K jittered copies of the twin (every condition's objects moved by
   a few mm and degrees, the arm's start by a little:
   :func:`studies.fidelity.conditions.write_jittered`; the CSV gains ``jitterK`` and
   ``jitterK_progress`` columns), and the twin's prediction is again the mean success over
   the copies (its success probability near the condition) and their mean progress;
   ``--measure-only --jitter K`` measures the first K copies a file holds.
3. Real trials saved at equal width: the real-only trials m whose mean width (measured on
   the same population, m = 2 to 200) is no more than PPI's, minus n, as a share of m. The
   finite-sample PPI interval against Clopper–Pearson (what ``twinbench estimate`` reports)
   and against the betting interval on the real trials alone (two betting intervals, the
   comparison behind SureSim's 20–25%); PPI++ against Wilson.
4. The ceiling: no PPI interval saves more than ``1 - Var(Y - lam S) / Var(Y)`` of the real
   trials (the best weight, unlimited twin trials, an exact normal interval), which is the
   squared per-trial correlation r^2 of real and twin outcomes; with 100 - n twin-only
   trials a little less.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from benchmarks import figures
from evaluate.correlation.inputs import read_store_episodes
from evaluate.estimate.coverage import INTERVALS, all_bounds, real_only_bounds, score
from evaluate.estimate.pairing import POOL_WEIGHT
from evaluate.estimate.synthetic import Trials
from evaluate.rollout import RolloutConfig
from evaluate.run import STORE_FILENAME, Execution
from evaluate.store import EXCLUDED_KINDS
from studies.fidelity import EpisodePlan, Side, check_pair, evaluate_side
from studies.fidelity.conditions import expand_pair, write_jittered

CONFIDENCE = 0.9
SOURCE, TWIN = "tabletop_source", "tabletop_twin"
LADDER = "benchmarks/fidelity/ladder"
RUNGS = ("src-s3000", "src-s400", "cot-s1000", "cot-s400")
CONDITIONS = 100
MAX_STEPS = 150
SIZES = (5, 10, 20, 30)
POPULATION_CSV = Path(__file__).parent / "estimate_trials.csv"
"""The run's outcomes per (policy, condition): source success and the twin's predictions."""
MAX_REAL_ONLY = 200
"""Real-only trials searched for an equal width (``>=`` this when none is narrow enough)."""
BASELINE_DRAWS = 200
COMPARISONS = {
    "ppi_betting_vs_exact": ("ppi_betting", "exact"),
    "ppi_betting_vs_real_betting": ("ppi_betting", "real_betting"),
    "ppi_clt_vs_wilson": ("ppi_clt", "wilson"),
}
"""Saved-trial figures: (PPI interval, the real-only interval whose width it is held to)."""
PREDICTIONS = ("success", "progress")
"""What the twin predicts at a condition: its 0/1 success, or its rubric progress."""
POOLED_PREDICTIONS = ("pooled", "pooled_progress")
"""Each policy's twin success (progress) at a condition blended with the mean over every
policy's there (``twinbench estimate --pool-policies``)."""
JITTER_PREDICTIONS = ("jitter", "jitter_progress", "jitter_with_twin")
"""With jittered copies: the mean success over them (the twin's success probability near the
condition), their mean progress, and the mean success over them and the twin at the condition
itself."""


emit = partial(figures.emit, "estimate")


@dataclass(frozen=True)
class TrialWorlds:
    """What the run evaluates: the worlds (env ids or package paths), the ladder and which of
    its rungs, and how many initial conditions (the population)."""

    source: str = SOURCE
    twin: str = TWIN
    ladder: str = LADDER
    conditions: int = CONDITIONS
    rungs: tuple[str, ...] = RUNGS
    jitter: int = 0  # jittered copies of the twin (studies.fidelity.conditions.write_jittered)


@dataclass(frozen=True)
class RecordedTrials:
    """Where a run's episodes are: the store, each package's world (content hash -> source,
    twin, jitter-1, ...) and the runs that hold this run's episodes."""

    store: Path
    worlds: dict[str, str]
    run_ids: tuple[str, ...]


def run_trials(out: Path, workers: int, worlds: TrialWorlds) -> RecordedTrials:
    """Evaluate each rung in the source world, then in the twin, at ``worlds.conditions``
    conditions (resuming ``out``), rung by rung, so each rung's pairs are complete early; then
    the twin's ``worlds.jitter`` jittered copies, copy by copy (the first copies of every rung
    are complete first)."""
    pair = check_pair(worlds.source, worlds.twin)
    source, twin = expand_pair(*pair, worlds.conditions, 0, out / "worlds")
    copies = write_jittered(twin, worlds.jitter, 0, out / "worlds" / "twin-jitter")
    console = Console(stderr=True)
    sides = [
        side for rung in worlds.rungs for side in ((rung, "source", source), (rung, "twin", twin))
    ]
    sides += [(rung, f"jitter-{k}", c) for k, c in enumerate(copies, 1) for rung in worlds.rungs]
    run_ids = []
    for rung, role, package in sides:
        plan = EpisodePlan(
            policies=(f"bundle:{worlds.ladder}/{rung}",),
            episodes=worlds.conditions,
            image_size="160x90",
            rollout=RolloutConfig(max_steps=MAX_STEPS),
        )
        side = Side(role, str(package.root), f"{package.name} ({role}), {rung}")
        run = evaluate_side(side, plan, out, Execution(workers=workers), console)
        run_ids.append(run.run_id)
    packages = {"source": source, "twin": twin} | {
        f"jitter-{k}": c for k, c in enumerate(copies, 1)
    }
    hashes = {p.content_hash: world for world, p in packages.items()}
    return RecordedTrials(out / STORE_FILENAME, hashes, tuple(run_ids))


def population(
    store: Path, worlds: dict[str, str], run_ids: tuple[str, ...] = ()
) -> dict[str, dict[str, np.ndarray]]:
    """Per policy, at the conditions every world ran ``[C]`` (``condition``): the source
    world's success (``real``) and the twin's predictions, its ``success`` and its rubric
    ``progress`` (a continuous score in [0, 1]), and each jittered copy's (``jitter1``,
    ``jitter1_progress``, ...). ``worlds``: content hash -> world (source, twin, jitter-k);
    other packages' episodes (an earlier build of a world in the same store) are left out.
    ``run_ids``: the runs to read (all the store's when empty); a rung retrained in place keeps
    its policy id, so only its runs tell its episodes from the earlier bundle's.

    Raises:
        SystemExit: two different episodes of one policy in one world at one condition (the
            runs read mix builds of a rung: name the runs to read).
    """
    frame = read_store_episodes(store, run_ids)
    frame = frame[~frame["failure_kind"].isin(EXCLUDED_KINDS) & frame["env_hash"].isin(worlds)]
    frame = frame.assign(
        world=frame["env_hash"].map(worlds), success=frame["success"].astype(float)
    )
    # a run adopts the episodes another run recorded with the same settings: one episode twice
    episode = ["policy_id", "env_hash", "initial_condition", "seed", "success", "progress"]
    frame = frame.drop_duplicates(episode)
    twice = frame[frame.duplicated(["policy_id", "world", "initial_condition"], keep=False)]
    if not twice.empty:
        first = twice.iloc[0]
        raise SystemExit(
            f"{store}: {len(twice)} episodes share a (policy, world, condition), e.g. "
            f"{first['policy_id']} in {first['world']} at condition "
            f"{first['initial_condition']} in runs {', '.join(sorted(set(twice['run_id'])))}: "
            "a population holds one episode each (read only one build's runs)"
        )
    names = sorted(set(worlds.values()))
    out = {}
    for policy, group in frame.groupby("policy_id"):
        table = group.pivot_table(
            index="initial_condition", columns="world", values=["success", "progress"]
        )
        if not all(("success", world) in table.columns for world in names):
            continue  # not run in every world (yet)
        both = table.dropna()
        columns = {
            "real": ("success", "source"),
            "success": ("success", "twin"),
            "progress": ("progress", "twin"),
        }
        for world in names:
            if world.startswith("jitter-"):
                k = world.removeprefix("jitter-")
                columns |= {
                    f"jitter{k}": ("success", world),
                    f"jitter{k}_progress": ("progress", world),
                }
        out[str(policy).rsplit("/", 1)[-1]] = {
            "condition": both.index.to_numpy(dtype=np.float64)
        } | {name: both[column].to_numpy() for name, column in columns.items()}
    return out


def draw(
    real: np.ndarray, twin: np.ndarray, n: int, draws: int, rng: np.random.Generator
) -> Trials:
    """``draws`` evaluations: n conditions' real outcomes and the twin there ``[D, n]``, and
    the twin at every other condition ``[D, C - n]``."""
    order = np.argsort(rng.random((draws, real.size)), axis=1)
    chosen, rest = order[:, :n], np.sort(order[:, n:], axis=1)
    return Trials(real[chosen], twin[chosen], twin[rest])


def real_only_widths(real: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Mean width of each real-only interval at m = 0..:data:`MAX_REAL_ONLY` real trials
    drawn from the population (NaN below 2)."""
    names = ("exact", "wilson", "real_betting")
    widths = {name: np.full(MAX_REAL_ONLY + 1, np.nan) for name in names}
    for m in range(2, MAX_REAL_ONLY + 1):
        order = np.argsort(rng.random((BASELINE_DRAWS, real.size)), axis=1)[:, :m]
        bounds = real_only_bounds(real[order], CONFIDENCE)
        for name in names:
            low, high = bounds[name]
            widths[name][m] = float(np.mean(high - low))
    return widths


def equal_width(curve: np.ndarray, width: float, n: int) -> int:
    """The fewest real-only trials whose mean width is no more than ``width`` (``n`` for a
    zero width: a twin that never varies matches nothing)."""
    if width <= 0.0:
        return n
    narrow = np.flatnonzero(curve <= width)
    return int(narrow[0]) if narrow.size else MAX_REAL_ONLY


def ceiling(real: np.ndarray, twin: np.ndarray, n: int) -> float:
    """The share of real trials the best-weighted PPI saves over an exact normal interval,
    with ``n`` pairs and the other conditions twin-only (1 - its variance / real-only's)."""
    var_real = real.var()
    cov = np.mean((real - real.mean()) * (twin - twin.mean()))
    var_twin = twin.var()
    if var_real == 0 or var_twin == 0:
        return 0.0
    big_n = real.size - n
    lam = cov / ((1 + n / big_n) * var_twin)
    ppi = (real - lam * twin).var() / n + lam**2 * var_twin / big_n
    return float(max(0.0, 1.0 - ppi / (var_real / n)))


def write_population(pop: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    """The population as one CSV row per (policy, condition): small enough to commit."""
    frames = [pd.DataFrame({"policy": policy} | o) for policy, o in pop.items()]
    pd.concat(frames).to_csv(path, index=False, float_format="%.6g")


def read_population(path: Path, jitter: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """What :func:`write_population` wrote; with ``jitter``, also the :data:`JITTER_PREDICTIONS`
    over the first ``jitter`` copies (a file of 4 copies also measures 2)."""
    frame = pd.read_csv(path)
    copies = [f"jitter{k}" for k in range(1, jitter + 1)]
    missing = [c for c in copies if c not in frame.columns]
    if missing:
        found = sum(c.startswith("jitter") and c[6:].isdigit() for c in frame.columns)
        raise SystemExit(
            f"{path}: no column {missing[0]}: the file holds {found} jittered cop(ies) of the "
            f"twin, not {jitter} (record them with --jitter {jitter})"
        )
    out = {}
    for policy, group in frame.groupby("policy", sort=False):
        cell = {k: group[k].to_numpy(dtype=np.float64) for k in ("condition", "real", *PREDICTIONS)}
        if copies:
            outcomes = group[copies].to_numpy(dtype=np.float64)
            cell["jitter"] = outcomes.mean(axis=1)
            cell["jitter_with_twin"] = (outcomes.sum(axis=1) + cell["success"]) / (jitter + 1)
            progress = [f"{c}_progress" for c in copies]
            cell["jitter_progress"] = group[progress].to_numpy(dtype=np.float64).mean(axis=1)
        out[str(policy)] = cell
    return out


def with_pooled(pop: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """``pop`` with :data:`POOLED_PREDICTIONS`: each policy's twin score at a condition blended
    with the mean over the policies that ran that condition."""
    out = {}
    for column, name in zip(PREDICTIONS, POOLED_PREDICTIONS, strict=True):
        table = pd.DataFrame(
            {policy: pd.Series(o[column], index=o["condition"]) for policy, o in pop.items()}
        )
        mean = table.mean(axis=1)
        for policy, o in pop.items():
            own, shared = o[column], mean.loc[o["condition"]].to_numpy()
            out.setdefault(policy, dict(o))[name] = (1 - POOL_WEIGHT) * own + POOL_WEIGHT * shared
    return out


def measure(
    pop: dict[str, dict[str, np.ndarray]], draws: int, progress: Callable[[str], None]
) -> None:
    rng = np.random.default_rng(0)
    pop = with_pooled(pop)
    rates = np.array([(p["real"].mean(), p["success"].mean()) for p in pop.values()])
    if len(rates) > 2:  # two points always correlate perfectly
        pearson = float(np.corrcoef(rates[:, 0], rates[:, 1])[0, 1])
        emit("trials/policies", "pearson_twin_source", pearson, "r")
    for policy, outcomes in pop.items():
        real = outcomes["real"]
        candidates = (*PREDICTIONS, *POOLED_PREDICTIONS, *JITTER_PREDICTIONS)
        predictions = [p for p in candidates if p in outcomes]
        progress(f"trials {policy}: real-only widths at 2..{MAX_REAL_ONLY} trials")
        baselines = real_only_widths(real, rng)
        head = f"trials/{policy}"
        emit(head, "conditions", real.size, "initial conditions")
        emit(head, "real_rate", float(real.mean()), "rate")
        emit(head, "twin_rate", float(outcomes["success"].mean()), "rate")
        emit(head, "agreement", float(np.mean(real == outcomes["success"])), "fraction")
        for prediction in predictions:
            twin = outcomes[prediction]
            r = np.corrcoef(real, twin)[0, 1] if real.std() > 0 and twin.std() > 0 else 0.0
            emit(head, f"trial_correlation_{prediction}", float(r), "r")
            for n in SIZES:
                progress(f"trials {policy}, twin {prediction}: n={n}")
                case = f"{head}/{prediction}/n{n}"
                trials = draw(real, twin, n, draws, rng)
                result = score(all_bounds(trials, CONFIDENCE), real.mean())
                for name in INTERVALS:
                    emit(case, f"{name}_width", result.width[name], "rate")
                    emit(case, f"{name}_coverage", result.covered[name], "fraction")
                for label, (ppi, baseline) in COMPARISONS.items():
                    m = equal_width(baselines[baseline], result.width[ppi], n)
                    emit(case, f"saved_{label}", m - n, "real trials")
                    emit(case, f"saved_{label}_share", (m - n) / m, "fraction")
                emit(case, "ceiling_saved_share", ceiling(real, twin, n), "fraction")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/estimate-trials"))
    parser.add_argument("--workers", type=int, default=2, help="episode workers for the run")
    parser.add_argument("--draws", type=int, default=1000, help="evaluations drawn per size")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help=f"measure the committed {POPULATION_CSV.name}; run nothing",
    )
    parser.add_argument("--source", default=SOURCE, help="the world that plays real")
    parser.add_argument("--twin", default=TWIN, help="its twin")
    parser.add_argument("--ladder", default=LADDER, help="the folder of the rungs")
    parser.add_argument("--rungs", nargs="+", default=list(RUNGS), help="which rungs to run")
    parser.add_argument("--conditions", type=int, default=CONDITIONS, help="the population")
    parser.add_argument("--csv", type=Path, default=POPULATION_CSV, help="the population file")
    parser.add_argument(
        "--jitter",
        type=int,
        default=0,
        metavar="K",
        help="also run K jittered copies of the twin and measure the mean over them as the "
        "twin's prediction (with --measure-only: the first K copies the file holds)",
    )
    args = parser.parse_args(argv)
    if args.jitter < 0:
        parser.error(f"--jitter must be >= 0, got {args.jitter}")
    worlds = TrialWorlds(
        args.source, args.twin, args.ladder, args.conditions, tuple(args.rungs), args.jitter
    )
    trials(args.out, args.workers, args.draws, worlds, args.csv, run=not args.measure_only)


def trials(
    out: Path,
    workers: int,
    draws: int,
    worlds: TrialWorlds = TrialWorlds(),
    csv: Path = POPULATION_CSV,
    run: bool = True,
) -> None:
    """Run (or resume) the episodes and write ``csv``, then measure it."""
    if run:
        recorded = run_trials(out, workers, worlds)
        write_population(population(recorded.store, recorded.worlds, recorded.run_ids), csv)
    measure(
        read_population(csv, worlds.jitter),
        draws,
        lambda line: print(line, file=sys.stderr, flush=True),
    )


if __name__ == "__main__":
    main()
