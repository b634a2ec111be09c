"""Estimates with guarantees: coverage with known truth, and real trials saved on our own
paired data.

Run ``python -m benchmarks.estimate [--reps 1000] [--skip-sweep] [--skip-crossover]
[--skip-fidelity] [--skip-trials]`` (or ``twinbench bench estimate``); prints one JSON line per figure,
progress on stderr.

- ``sweep``: synthetic evaluations (:mod:`evaluate.estimate.synthetic`) for sim–real
  agreement none / moderate / high, true rates 0.62 and 0.10, 5 to 30 real trials and 1000
  twin-only trials: each interval's coverage (nominal 0.9) and mean width, and the real
  trials the finite-sample PPI interval saves against the exact one at equal mean width
  (negative: it needs more).
- ``crossover``: where the finite-sample PPI interval starts to save real trials: a twin
  that shares the real world's per-condition rate (rho 1) and outcomes nearly determined by
  the condition (spread 12 and 40: 96% and 99% of pairs agree), true rate 0.62, 10 to 120
  real trials, 1000 and 10,000 twin-only trials.
- ``fidelity``: the committed fidelity run (``benchmarks/fidelity/run/results.sqlite``,
  opened read-only): the source world plays real, the twin is the twin. For each policy,
  ``k`` of its 30 source episodes drawn at random (200 draws) are the real trials, the twin's
  episodes at those initial conditions their pairs and its other episodes the twin-only
  trials. Reported: mean width of each interval, real trials saved at equal width (as a
  share of k), and how often each interval holds the source world's 30-episode rate.
- ``trials``: many twin-only trials (:mod:`benchmarks.estimate_trials`): two source-only and
  two co-trained rungs in the source world and the twin at 100 initial conditions (run, or
  resumed, into ``--trials-out``), n = 5 to 30 real trials drawn from them, the twin at the
  other conditions twin-only; real trials saved against each real-only interval and the
  ceiling the per-trial correlation sets.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import estimate_trials, figures
from evaluate.estimate import PairedCell, equal_width_trials, estimate, load_episodes, pair
from evaluate.estimate.coverage import INTERVALS, Coverage, coverage
from evaluate.estimate.synthetic import AGREEMENT, Scenario

CONFIDENCE = 0.9
FIDELITY_STORE = Path(__file__).parent / "fidelity" / "run" / "results.sqlite"
SOURCE, TWIN = "worlds/source", "worlds/twin"
CO_TRAINED = "/cot-"  # the policies whose twin ranking agrees with the source (Pearson 0.98)


emit = partial(figures.emit, "estimate")


def sweep(reps: int, sizes: tuple[int, ...], big_n: int) -> None:
    rng = np.random.default_rng(0)
    for agreement, rho in AGREEMENT.items():
        for offset in (1.0, -4.0):
            scenario = Scenario(rho, offset, offset - 0.5)
            for n in sizes:
                case = f"{agreement}/rate{scenario.truth:.2f}/n{n}"
                print(f"sweep {case}", file=sys.stderr, flush=True)
                result = coverage(scenario, n, big_n, CONFIDENCE, reps, rng)
                _emit_coverage(case, result, scenario.truth, n)


def crossover(reps: int, sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    for spread in (12.0, 40.0):
        offset = float(np.sqrt(1 + spread**2) / np.sqrt(10))  # true rate 0.62, twin unbiased
        scenario = Scenario(1.0, offset, offset, spread)
        sample = scenario.draw(1, 100_000, 1, rng)
        agreement = float(np.mean(sample.real == sample.paired))
        for big_n in (1000, 10_000):
            for n in sizes:
                case = f"crossover/agree{agreement:.2f}/N{big_n}/n{n}"
                print(f"crossover {case}", file=sys.stderr, flush=True)
                result = coverage(scenario, n, big_n, CONFIDENCE, reps, rng)
                _emit_coverage(case, result, scenario.truth, n)


def _emit_coverage(case: str, result: Coverage, truth: float, n: int) -> None:
    for name in INTERVALS:
        emit(case, f"{name}_coverage", result.covered[name], "fraction")
        emit(case, f"{name}_width", result.width[name], "rate")
    width = result.width["ppi_betting"]
    saved = equal_width_trials(width, truth, CONFIDENCE, "finite-sample") - n
    emit(case, "ppi_betting_saved", saved, "real trials")
    emit(case, "ppi_betting_saved_share", saved / (saved + n), "fraction")


def fidelity_cells(
    draws: int, k: int, rng: np.random.Generator
) -> dict[str, list[tuple[PairedCell, float]]]:
    """Per policy, ``draws`` cells of ``k`` source episodes with the source's full rate."""
    frame, _ = load_episodes(FIDELITY_STORE)
    source = frame[frame["env"].str.endswith(SOURCE)].assign(env="task")
    twin = frame[frame["env"].str.endswith(TWIN)].assign(env="task")
    cells: dict[str, list[tuple[PairedCell, float]]] = {}
    for policy, episodes in source.groupby("policy"):
        truth = float(episodes["success"].mean())
        for _ in range(draws):
            chosen = episodes.iloc[np.sort(rng.choice(len(episodes), k, replace=False))]
            (cell,), _ = pair(twin[twin["policy"] == policy], chosen, ("twin", "source"))
            cells.setdefault(str(policy), []).append((cell, truth))
    return cells


def fidelity(draws: int, sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    for k in sizes:
        print(f"fidelity k={k}", file=sys.stderr, flush=True)
        by_policy = fidelity_cells(draws, k, rng)
        groups: dict[str, list[tuple[str, object, float]]] = {"co-trained": [], "all": []}
        for policy, cells in by_policy.items():
            results = [(estimate(cell, CONFIDENCE), truth) for cell, truth in cells]
            name = policy.rsplit("/", 1)[-1]
            case = f"fidelity/{name}/k{k}"
            _emit_results(case, results, k)
            groups["all"] += [(policy, r, t) for r, t in results]
            if CO_TRAINED in policy:
                groups["co-trained"] += [(policy, r, t) for r, t in results]
        for group, items in groups.items():
            _emit_results(f"fidelity/{group}/k{k}", [(r, t) for _, r, t in items], k)


def _emit_results(case: str, results: list, k: int) -> None:
    for name in INTERVALS:
        bounds = [getattr(r, name) for r, _ in results]
        emit(case, f"{name}_width", float(np.mean([b.width for b in bounds])), "rate")
        held = np.mean([b.low <= t <= b.high for b, (_, t) in zip(bounds, results, strict=True)])
        emit(case, f"{name}_holds_30ep_rate", float(held), "fraction")
    for family in ("asymptotic", "finite-sample"):
        saved = float(np.mean([r.saved[family] for r, _ in results]))
        emit(case, f"saved_{family}", saved, "real trials")
        emit(case, f"saved_{family}_share", saved / (saved + k), "fraction")
    emit(case, "agreement", float(np.mean([r.agreement for r, _ in results])), "fraction")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000, help="synthetic repetitions per case")
    parser.add_argument("--draws", type=int, default=200, help="fidelity subsamples per policy")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-crossover", action="store_true")
    parser.add_argument("--skip-fidelity", action="store_true")
    parser.add_argument("--skip-trials", action="store_true")
    parser.add_argument("--trials-out", type=Path, default=Path("runs/estimate-trials"))
    parser.add_argument("--workers", type=int, default=2, help="episode workers (trials)")
    parser.add_argument("--trial-draws", type=int, default=1000, help="draws per size (trials)")
    parser.add_argument(
        "--trials-measure-only", action="store_true", help="trials: measure the committed outcomes"
    )
    args = parser.parse_args(argv)
    if not args.skip_sweep:
        sweep(args.reps, (5, 10, 20, 30), 1000)
    if not args.skip_crossover:
        crossover(args.reps, (10, 30, 60, 120))
    if not args.skip_fidelity:
        fidelity(args.draws, (5, 10, 15, 20))
    if not args.skip_trials:
        estimate_trials.trials(
            args.trials_out, args.workers, args.trial_draws, run=not args.trials_measure_only
        )


if __name__ == "__main__":
    main()
