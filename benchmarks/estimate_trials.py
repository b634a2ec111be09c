"""Real trials saved by many twin-only trials, on recorded source-world and twin episodes.

Run ``python -m benchmarks.estimate_trials [--out runs/estimate-trials] [--workers 2]
[--draws 1000]`` (also the ``trials`` part of ``python -m benchmarks.estimate``); prints one
JSON line per figure, progress on stderr.

1. Runs, or resumes, the ladder's three co-trained rungs that succeed often enough to need
   an interval (cot-s400, cot-s1000, cot-s3000) in ``tabletop_source`` (plays real) and
   ``tabletop_twin`` at the same 300 initial conditions (the packages' 10, then 290 drawn
   around them, as ``twinbench fidelity --initial-conditions`` draws them), cameras at
   160x90, episodes ended at 150 steps (every success of the committed 600-episode fidelity
   run came by step 91): 1800 episodes, rung by rung, into one results store; the outcomes
   per condition are written to ``benchmarks/estimate_trials.csv`` (committed), which
   ``--measure-only`` measures without running anything. The committed file was recorded
   on 6 Dec 2026 with ``tabletop_twin`` as bundled before issue 16 rebuilt it from the
   relit scan (b8981a5; the 300-condition twin package's hash began 4e8093803f05, the
   source's 5d92d8480627); a run now measures today's twin (episodes of earlier builds in the same store are
   left out).
2. The 300 conditions are the population: the true real rate is the source world's mean
   over them. For n = 5, 10, 20, 30 real trials, ``draws`` times: n conditions drawn without
   replacement; their source episodes are the real trials, the twin there their pairs, the
   twin at the other 300 - n conditions the twin-only trials. Every interval of ``twinbench
   estimate`` is scored by its mean width and by how often it holds the true rate. The
   twin's prediction at a condition is its 0/1 success, and again its rubric progress (a
   continuous score: the twin is deterministic, so repeated twin rollouts of a condition
   give one outcome, and progress is the continuous prediction it has).
3. Real trials saved at equal width: the real-only trials m whose mean width (measured on
   the same population, m = 2 to 200) is no more than PPI's, minus n, as a share of m. The
   finite-sample PPI interval against Clopper–Pearson (what ``twinbench estimate`` reports)
   and against the betting interval on the real trials alone (two betting intervals, the
   comparison behind SureSim's 20–25%); PPI++ against Wilson.
4. The ceiling: no PPI interval saves more than ``1 - Var(Y - lam S) / Var(Y)`` of the real
   trials (the best weight, unlimited twin trials, an exact normal interval), which is the
   squared per-trial correlation r^2 of real and twin outcomes; with 300 - n twin-only
   trials a little less.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from benchmarks import figures
from evaluate.correlation.inputs import read_store_episodes
from evaluate.estimate.coverage import INTERVALS, all_bounds, real_only_bounds, score
from evaluate.estimate.synthetic import Trials
from evaluate.rollout import RolloutConfig
from evaluate.run import STORE_FILENAME, Execution
from evaluate.store import EXCLUDED_KINDS
from studies.fidelity import EpisodePlan, Side, check_pair, evaluate_side
from studies.fidelity.conditions import expand_pair

CONFIDENCE = 0.9
SOURCE, TWIN = "tabletop_source", "tabletop_twin"
LADDER = "benchmarks/fidelity/ladder"
RUNGS = ("cot-s400", "cot-s1000", "cot-s3000")
CONDITIONS = 300
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


emit = partial(figures.emit, "estimate")


def run_trials(out: Path, workers: int) -> tuple[Path, set[str]]:
    """Evaluate each rung in the source world, then in the twin, at :data:`CONDITIONS`
    conditions (resuming ``out``); rung by rung, so each rung's pairs are complete early."""
    source, twin = expand_pair(*check_pair(SOURCE, TWIN), CONDITIONS, 0, out / "worlds")
    console = Console(stderr=True)
    for rung in RUNGS:
        plan = EpisodePlan(
            policies=(f"bundle:{LADDER}/{rung}",),
            episodes=CONDITIONS,
            image_size="160x90",
            rollout=RolloutConfig(max_steps=MAX_STEPS),
        )
        for role, package in (("source", source), ("twin", twin)):
            side = Side(role, str(package.root), f"{package.name} ({role}), {rung}")
            evaluate_side(side, plan, out, Execution(workers=workers), console)
    return out / STORE_FILENAME, {source.content_hash, twin.content_hash}


def population(store: Path, hashes: set[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per policy, at the conditions both worlds ran ``[C]`` (``condition``): the source
    world's success (``real``) and two predictions from the twin, its ``success`` and its
    rubric ``progress`` (a continuous score in [0, 1]). ``hashes``: only episodes of these
    packages (a store that also holds an earlier build of a world keeps its episodes)."""
    frame = read_store_episodes(store)
    frame = frame[~frame["failure_kind"].isin(EXCLUDED_KINDS)]
    if hashes is not None:
        frame = frame[frame["env_hash"].isin(hashes)]
    frame = frame.assign(
        world=frame["env_id"].str.rsplit("/", n=1).str[-1],
        success=frame["success"].astype(float),
    )
    out = {}
    for policy, group in frame.groupby("policy_id"):
        table = group.pivot_table(
            index="initial_condition", columns="world", values=["success", "progress"]
        )
        worlds = [("success", "source"), ("success", "twin")]
        if not all(world in table.columns for world in worlds):
            continue  # not run in both worlds (yet)
        both = table.dropna(subset=worlds)
        out[str(policy).rsplit("/", 1)[-1]] = {
            "condition": both.index.to_numpy(dtype=np.float64),
            "real": both[("success", "source")].to_numpy(),
            "success": both[("success", "twin")].to_numpy(),
            "progress": both[("progress", "twin")].to_numpy(),
        }
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


def read_population(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """What :func:`write_population` wrote."""
    frame = pd.read_csv(path)
    return {
        str(policy): {
            k: group[k].to_numpy(dtype=np.float64) for k in ("condition", "real", *PREDICTIONS)
        }
        for policy, group in frame.groupby("policy", sort=False)
    }


def measure(
    pop: dict[str, dict[str, np.ndarray]], draws: int, progress: Callable[[str], None]
) -> None:
    rng = np.random.default_rng(0)
    rates = np.array([(p["real"].mean(), p["success"].mean()) for p in pop.values()])
    if len(rates) > 2:  # two points always correlate perfectly
        pearson = float(np.corrcoef(rates[:, 0], rates[:, 1])[0, 1])
        emit("trials/policies", "pearson_twin_source", pearson, "r")
    for policy, outcomes in pop.items():
        real = outcomes["real"]
        progress(f"trials {policy}: real-only widths at 2..{MAX_REAL_ONLY} trials")
        baselines = real_only_widths(real, rng)
        head = f"trials/{policy}"
        emit(head, "conditions", real.size, "initial conditions")
        emit(head, "real_rate", float(real.mean()), "rate")
        emit(head, "twin_rate", float(outcomes["success"].mean()), "rate")
        emit(head, "agreement", float(np.mean(real == outcomes["success"])), "fraction")
        for prediction in PREDICTIONS:
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
    args = parser.parse_args(argv)
    trials(args.out, args.workers, args.draws, run=not args.measure_only)


def trials(out: Path, workers: int, draws: int, run: bool = True) -> None:
    """Run (or resume) the episodes and write :data:`POPULATION_CSV`, then measure it."""
    if run:
        write_population(population(*run_trials(out, workers)), POPULATION_CSV)
    measure(
        read_population(POPULATION_CSV),
        draws,
        lambda line: print(line, file=sys.stderr, flush=True),
    )


if __name__ == "__main__":
    main()
