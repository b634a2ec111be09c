"""Rungs trained again with other seeds: how much of a study's ranking figure is the twin and
how much one training draw.

    python -m benchmarks.fidelity.draws benchmarks/fidelity/run/fidelity.json \\
        --draw seed2=runs/cot-seed2/fidelity.json --draw seed3=runs/cot-seed3/fidelity.json \\
        [--label seed0] [--rungs 'cot-*'] [--quantity success] [--out DIR]

A full study (``twinbench fidelity``) trains each rung once, and at 30 episodes one draw of a
few rungs moves the whole ladder's Pearson by a few hundredths. Each ``--draw`` is a study of
some of the same rungs trained with another ``build_ladder --train-seed`` (same views, same
twin, same initial conditions). The study's rungs of the same name are replaced by each
draw's, and the whole ladder is ranked three ways:

- per draw (``draw/LABEL``), and their mean, lowest and highest (``draws/mean``, ...): what one
  draw can move;
- ``recipe``: each drawn rung's rate averaged over its draws in both worlds (30 x draws
  episodes a rung), ranking training recipes rather than checkpoints;
- ``every-draw``: every draw's rungs as policies of their own.

One JSON line per figure on stdout; ``--out`` writes ``draws.md`` and ``draws.png``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch
from functools import partial
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmarks import figures
from evaluate.metrics import mmrv, pearson, spearman
from evaluate.report import short_name

emit = partial(figures.emit, "fidelity_draws")
WORLDS = ("source", "twin")
QUANTITIES = ("success", "progress")
METRICS = {"pearson": pearson, "mmrv": mmrv, "spearman": spearman}
UNITS = {"pearson": "r", "mmrv": "rate", "spearman": "rho", "policies": "policies"}

Rates = dict[str, tuple[float, float]]  # rung -> (source rate, twin rate)


def study_rates(path: Path, quantity: str = "success") -> Rates:
    """A study's ``fidelity.json`` as rung (short policy name) -> (source, twin) rate."""
    try:
        document = json.loads(path.read_text())
        policies = document["policies"]
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable fidelity.json ({error})") from error
    except (KeyError, TypeError):
        raise ValueError(f"{path}: no 'policies' list (is it a twinbench fidelity.json?)") from None
    rates: Rates = {}
    for index, entry in enumerate(policies):
        try:
            worlds = entry["worlds"]
            pair = tuple(float(worlds[world][quantity]) for world in WORLDS)
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"{path}: policies[{index}] has no worlds.source.{quantity} and "
                f"worlds.twin.{quantity}"
            ) from None
        name = short_name(str(entry.get("policy", "")))
        if name in rates:
            raise ValueError(f"{path}: policies[{index}]: rung {name!r} appears twice")
        rates[name] = pair  # type: ignore[assignment]
    return rates


def drawn_rungs(draw: Rates, pattern: str, label: str) -> Rates:
    """The draw's rungs whose names match ``pattern`` (a draw's study may have run some of the
    study's own checkpoints beside the new ones)."""
    rates = {name: pair for name, pair in draw.items() if fnmatch(name, pattern)}
    if not rates:
        raise ValueError(f"draw {label!r}: no rung matches {pattern!r} (it has {sorted(draw)})")
    return rates


def replace_rungs(base: Rates, draw: Rates, label: str) -> Rates:
    """The base ladder with the draw's rungs in place of those of the same name."""
    unknown = sorted(set(draw) - set(base))
    if unknown:
        raise ValueError(f"draw {label!r}: rungs {unknown} are not in the study ({sorted(base)})")
    return {name: draw.get(name, pair) for name, pair in base.items()}


def recipe_rates(base: Rates, draws: Mapping[str, Rates]) -> Rates:
    """Each rung's rates averaged over the study and every draw that has it, world by world."""
    out: Rates = {}
    for name, pair in base.items():
        pairs = np.array([pair, *(draw[name] for draw in draws.values() if name in draw)])
        out[name] = (float(pairs[:, 0].mean()), float(pairs[:, 1].mean()))
    return out


def every_draw(base: Rates, draws: Mapping[str, Rates], base_label: str) -> Rates:
    """The study's rungs and every draw's as policies of their own (``rung@label``); a drawn
    rung's study version is named ``rung@base_label``."""
    drawn = set().union(*draws.values())
    out = {(f"{name}@{base_label}" if name in drawn else name): pair for name, pair in base.items()}
    for label, draw in draws.items():
        out |= {f"{name}@{label}": pair for name, pair in draw.items()}
    return out


def ranking(rates: Rates) -> dict[str, float]:
    """Pearson, MMRV and Spearman of the twin's rates against the source's, and the count."""
    source, twin = (np.array([pair[i] for pair in rates.values()]) for i in (0, 1))
    values = {metric: float(fn(twin, source)) for metric, fn in METRICS.items()}
    return values | {"policies": float(len(rates))}


def draw_rows(
    base: Rates, draws: Mapping[str, Rates], base_label: str
) -> dict[str, dict[str, float]]:
    """Case -> ranking figures: each draw, the draws' mean / lowest / highest, the recipe and
    every draw as its own policy (see module)."""
    if base_label in draws:
        raise ValueError(f"the study's label {base_label!r} is also a draw's")
    ladders = {base_label: base} | {
        label: replace_rungs(base, draw, label) for label, draw in draws.items()
    }
    rows = {f"draw/{label}": ranking(rates) for label, rates in ladders.items()}
    per_draw = list(rows.values())
    for stat, fn in (("mean", np.mean), ("lowest", np.min), ("highest", np.max)):
        rows[f"draws/{stat}"] = {
            metric: float(fn([row[metric] for row in per_draw])) for metric in METRICS
        }
    rows["recipe"] = ranking(recipe_rates(base, draws))
    rows["every-draw"] = ranking(every_draw(base, draws, base_label))
    return rows


def markdown(rows: Mapping[str, Mapping[str, float]], quantity: str, command: str) -> str:
    lines = [
        f"# The whole ladder's {quantity} ranking over training draws",
        "",
        f"`{command}`",
        "",
        "| ranking | policies | Pearson | MMRV | Spearman |",
        "|---|---|---|---|---|",
    ]
    for case, row in rows.items():
        count = f"{row['policies']:.0f}" if "policies" in row else ""
        lines.append(
            f"| {case} | {count} | {row['pearson']:.3f} | {row['mmrv']:.3f} | "
            f"{row['spearman']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def draws_figure(
    base: Rates, draws: Mapping[str, Rates], base_label: str, quantity: str, path: Path
) -> None:
    """Twin against source rate for every rung and draw; a drawn rung's draws joined by a line."""
    fig = Figure(figsize=(6.4, 6.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    labelled = {base_label: base} | dict(draws)
    drawn = set().union(*draws.values())
    for name in sorted(drawn):
        pairs = np.array([rates[name] for rates in labelled.values() if name in rates])
        ax.plot(pairs[:, 0], pairs[:, 1], color="0.8", lw=0.8, zorder=1)
    markers = "os^DvP*X"
    for index, (label, rates) in enumerate(labelled.items()):
        pairs = np.array(list(rates.values()))
        colours = ["tab:orange" if n in drawn else "tab:blue" for n in rates]
        ax.scatter(
            pairs[:, 0],
            pairs[:, 1],
            c=colours,
            marker=markers[index % len(markers)],
            s=36,
            label=label,
            zorder=2,
            edgecolors="k",
            linewidths=0.4,
        )
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"source world {quantity} rate (plays real)")
    ax.set_ylabel(f"twin {quantity} rate")
    ax.set_title("Rungs over training draws (orange: drawn again)")
    legend = ax.legend(title="draw (marker)", fontsize=8)
    for handle in legend.legend_handles:
        handle.set_facecolor("0.75")  # type: ignore[union-attr]
    fig.savefig(path, dpi=100)


def parse_draw(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not (sep and label and path):
        raise argparse.ArgumentTypeError(f"--draw {text!r}: expected LABEL=PATH/fidelity.json")
    return label, Path(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="the full study's fidelity.json")
    parser.add_argument("--draw", type=parse_draw, action="append", required=True)
    parser.add_argument("--label", default="seed0", help="the study's own draw (default seed0)")
    parser.add_argument("--quantity", choices=QUANTITIES, default="success")
    parser.add_argument(
        "--rungs",
        default="*",
        help="which of each draw's rungs were drawn "
        "again (a glob over rung names, e.g. 'cot-*'; default every one)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    labels = [label for label, _ in args.draw]
    if len(set(labels)) != len(labels):
        parser.error(f"--draw labels repeat: {labels}")
    try:
        base = study_rates(args.study, args.quantity)
        draws = {
            label: drawn_rungs(study_rates(path, args.quantity), args.rungs, label)
            for label, path in args.draw
        }
        rows = draw_rows(base, draws, args.label)
    except ValueError as error:
        parser.error(str(error))
    figures.emit_rows("fidelity_draws", args.quantity, rows, UNITS.__getitem__)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        draw_args = " ".join(f"--draw {label}={path}" for label, path in args.draw)
        command = (
            f"python -m benchmarks.fidelity.draws {args.study} {draw_args} --label {args.label} "
            f"--rungs '{args.rungs}' --quantity {args.quantity}"
        )
        (args.out / "draws.md").write_text(markdown(rows, args.quantity, command))
        draws_figure(base, draws, args.label, args.quantity, args.out / "draws.png")


if __name__ == "__main__":
    main()
