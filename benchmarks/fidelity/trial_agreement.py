"""Trial by trial: how often a fidelity study's worlds agree with the source world on the same
episode (same policy, initial condition and seed), and how well one predicts the other.

    python -m benchmarks.fidelity.trial_agreement benchmarks/fidelity/run \\
        [--out DIR] [--pairs-csv FILE]

A study (``twinbench fidelity --out DIR``) ranks policies by their rates; prediction-powered
estimates (``twinbench estimate``) live on single trials: no interval saves more than r^2 of
the real trials, r the per-trial correlation of the two worlds' outcomes
(``benchmarks.estimate_trials``). Per study, world and policy: the pairs, both rates, the
share of pairs that agree, r (0 where either side never varies) and r^2; per world, the median
r over the policies the source world neither always nor never succeeds with (10-90%). Reads
each world's run from the store ``fidelity.json`` names, else the ``results.sqlite`` beside
it. One JSON line per figure on stdout; ``--out`` writes ``trial-agreement.md``;
``--pairs-csv`` the paired outcomes (small enough to commit where the store is not).
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import pandas as pd

from benchmarks import figures
from evaluate.correlation.inputs import read_store_episodes
from evaluate.report import short_name
from evaluate.store import EXCLUDED_KINDS
from studies.fidelity.trials import VARIED, per_policy, trial_agreement

emit = partial(figures.emit, "trial_agreement")
SOURCE = "source"
KEYS = ["policy", "initial_condition", "seed"]
UNITS = {"pairs": "episodes", "source_rate": "rate", "other_rate": "rate", "agreement": "fraction"}
UNITS |= {"r": "r", "r2": "fraction"}


def paired_outcomes(study: Path) -> pd.DataFrame:
    """One row per (world, policy, initial condition, seed) both the source world and that
    world ran: columns world, policy (short), initial_condition, seed, source, other (0/1)."""
    summary = json.loads((study / "fidelity.json").read_text())
    worlds = summary["worlds"]
    runs = {name: _episodes(study, world) for name, world in worlds.items()}
    source = runs[SOURCE].rename(columns={"success": "source"})
    frames = []
    for name, frame in runs.items():
        if name == SOURCE:
            continue
        both = source.merge(frame.rename(columns={"success": "other"}), on=KEYS)
        frames.append(both.assign(world=name))
    return pd.concat(frames, ignore_index=True)[["world", *KEYS, "source", "other"]]


def _episodes(study: Path, world: dict) -> pd.DataFrame:
    store = Path(world["store"])
    if not store.is_file():
        store = study / "results.sqlite"
    frame = read_store_episodes(store, [world["run_id"]])
    frame = frame[~frame["failure_kind"].isin(EXCLUDED_KINDS)]
    return pd.DataFrame(
        {
            "policy": frame["policy_id"].map(short_name),
            "initial_condition": frame["initial_condition"].astype(int),
            "seed": frame["seed"].astype(int),
            "success": frame["success"].astype(float),
        }
    )


def agreement_rows(pairs: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """world -> policy -> {pairs, source_rate, other_rate, agreement, r, r2}."""
    return {str(world): per_policy(group) for world, group in pairs.groupby("world", sort=True)}


def median_r(rows: dict[str, dict[str, float]]) -> float:
    """The median r over the policies whose source rate is within ``VARIED`` (nan: none)."""
    median = trial_agreement(rows).median_r
    return float("nan") if median is None else median


def markdown(studies: dict[str, dict], command: str) -> str:
    lines = [
        "# Trial by trial: each world against the source world on the same episodes",
        "",
        f"`{command}`. Per policy: pairs, source rate → the world's, share of pairs that agree, "
        "per-trial r (r², the most of the real trials any prediction-powered interval can "
        f"save). Median r over the policies the source world succeeds with {VARIED[0]:.0%}–"
        f"{VARIED[1]:.0%} of the time.",
    ]
    for study, worlds in studies.items():
        for world, rows in worlds.items():
            lines += [
                "",
                f"## {study}: {world} (median r {median_r(rows):.2f})",
                "",
                "| policy | pairs | source → world | agree | r | r² |",
                "|---|---|---|---|---|---|",
            ]
            for policy, row in rows.items():
                lines.append(
                    f"| {policy} | {row['pairs']:.0f} | {row['source_rate']:.2f} → "
                    f"{row['other_rate']:.2f} | {row['agreement']:.2f} | {row['r']:.2f} | "
                    f"{row['r2']:.2f} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="+", type=Path, help="twinbench fidelity --out folders")
    parser.add_argument("--out", type=Path, default=None, help="write trial-agreement.md here")
    parser.add_argument("--pairs-csv", type=Path, default=None, help="write the paired outcomes")
    args = parser.parse_args(argv)
    results, all_pairs = {}, []
    for study in args.studies:
        if not (study / "fidelity.json").is_file():
            raise SystemExit(f"{study}: no fidelity.json (give a twinbench fidelity --out folder)")
        pairs = paired_outcomes(study)
        all_pairs.append(pairs.assign(study=str(study)))
        results[str(study)] = worlds = agreement_rows(pairs)
        for world, rows in worlds.items():
            figures.emit_rows("trial_agreement", f"{study}/{world}", rows, UNITS.__getitem__)
            emit(f"{study}/{world}", "median_r", median_r(rows), "r")
    if args.pairs_csv is not None:
        pd.concat(all_pairs).to_csv(args.pairs_csv, index=False)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        command = "python -m benchmarks.fidelity.trial_agreement " + " ".join(
            str(s) for s in args.studies
        )
        (args.out / "trial-agreement.md").write_text(markdown(results, command))


if __name__ == "__main__":
    main()
