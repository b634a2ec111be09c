"""The camera floor: how far the source world moves from itself when only its camera changes,
by as much as a real camera changes between two sessions or two units.

    python -m benchmarks.fidelity.camera_floor --source tabletop_source --twin tabletop_twin \\
        --ladder benchmarks/fidelity/ladder --states 100 --out benchmarks/fidelity/camera-floor

The source world plays real, but it hands the policies pixel-exact, noise-free frames, the same
ones every time; a real camera never does. A twin cannot be asked to rank policies more like the
source world than the source world ranks them against itself through a slightly different
camera. Each perturbation here is one such camera: white balance 3% warmer, exposure 3% either
way, its stream's JPEG at quality 90 or 75 (``sim_env.render.camera_response``, what
``render.camera_response`` applies), sensor noise of 2 grey levels, the image one pixel over
(0.65 degrees of yaw at the exterior camera's 160 px: a camera mount's play), and the white
balance and the JPEG together (another camera). Per perturbation and ladder bundle, on the
exterior camera's first frame of the same states (the locator proxy's measure,
``gap_locator``): the located fraction; its per-state correlation with the clean source's (a
trial-level agreement: no prediction-powered interval saves more than its square of the real
trials); and the ladder's Pearson and MMRV against the clean source, for all bundles and the
source-only ones. The twin is the last row, for scale. One JSON line per figure on stdout;
with ``--out``, ``camera-floor.md`` and ``camera-floor.png`` there.

The same floor in whole episodes: ``twinbench fidelity --ablation source-camera`` (the white
balance above), or any camera change as a copy of the source world (``twinbench env edit SOURCE
--camera-gains CAMERA=R,G,B --camera-jpeg CAMERA=Q -o DIR``) run as ``--twin DIR``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import figures
from benchmarks.fidelity.gap import SEED
from benchmarks.fidelity.gap_locator import load_ladder, located, xy_errors
from evaluate.metrics import mmrv, pearson
from sim_env.render.camera_response import CameraResponse, respond
from studies.fidelity.conditions import extra_conditions
from studies.fidelity.run import check_pair
from studies.fidelity.trials import VARIED, correlation
from studies.fidelity.variants import ANOTHER_CAMERA_GAINS
from studies.locator.net import render_views

emit = partial(figures.emit, "camera_floor")

Images = np.ndarray  # [N, H, W, 3] uint8
CLEAN, TWIN = "source", "twin"


def through(response: CameraResponse, images: Images, rng: np.random.Generator) -> Images:
    """Every image through one camera response (gains, JPEG)."""
    return np.stack([respond(image, response) for image in images])


def sensor_noise(sigma: float, images: Images, rng: np.random.Generator) -> Images:
    """Gaussian read noise of ``sigma`` grey levels per channel, rounded and clipped."""
    noisy = images.astype(np.float32) + rng.normal(0.0, sigma, images.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def shifted(pixels: int, images: Images, rng: np.random.Generator) -> Images:
    """Each image moved ``pixels`` to the right, its left edge column repeated."""
    return np.concatenate([np.repeat(images[:, :, :1], pixels, axis=2), images[:, :, :-pixels]], 2)


@dataclass(frozen=True)
class Perturbation:
    """One camera change: what it models, and the images through it."""

    what: str
    apply: Callable[[Images, np.random.Generator], Images]


PERTURBATIONS: dict[str, Perturbation] = {
    "white balance +3%": Perturbation(
        "red x1.03, blue x0.97; auto white balance moves more between scenes",
        partial(through, CameraResponse(gains=ANOTHER_CAMERA_GAINS)),
    ),
    "exposure -3%": Perturbation(
        "every channel x0.97 (1/23 of a stop)", partial(through, CameraResponse(gains=(0.97,) * 3))
    ),
    "exposure +3%": Perturbation(
        "every channel x1.03", partial(through, CameraResponse(gains=(1.03,) * 3))
    ),
    "JPEG 90": Perturbation(
        "the stream encoded at quality 90", partial(through, CameraResponse(jpeg_quality=90))
    ),
    "JPEG 75": Perturbation(
        "the stream encoded at quality 75", partial(through, CameraResponse(jpeg_quality=75))
    ),
    "sensor noise": Perturbation("read noise, 2 grey levels", partial(sensor_noise, 2.0)),
    "1 px over": Perturbation("the image one pixel to the right", partial(shifted, 1)),
    "another camera": Perturbation(
        "white balance +3% and JPEG 90 together",
        partial(through, CameraResponse(gains=ANOTHER_CAMERA_GAINS, jpeg_quality=90)),
    ),
}


def floor_rows(outcomes: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    """Look -> its figures against the clean source, from look -> bundle -> [N] located:
    the ladder's Pearson and MMRV (all bundles; ``src-*`` alone) and the median per-state
    correlation over the bundles the clean source locates in 10-90% of states."""
    clean = outcomes[CLEAN]
    names = list(clean)
    source_only = [n for n in names if n.startswith("src-")]
    low, high = VARIED
    varied = [n for n in names if low <= clean[n].mean() <= high]
    rows = {}
    for look, by_bundle in outcomes.items():
        if look == CLEAN:
            continue
        row = {}
        for subset, members in (("all", names), ("src", source_only)):
            if len(members) < 2:
                continue
            real = np.array([clean[n].mean() for n in members])
            sim = np.array([by_bundle[n].mean() for n in members])
            row[f"pearson_{subset}"] = float(pearson(sim, real))
            row[f"mmrv_{subset}"] = float(mmrv(sim, real))
        if varied:
            row["trial_r_median"] = float(
                np.median([correlation(clean[n], by_bundle[n]) for n in varied])
            )
        rows[look] = row
    return rows


def measure(source_id: str, twin_id: str, ladder: Path, states: int) -> dict:
    """look -> bundle -> [N] located (the clean source, each perturbation of it, the twin)."""
    source, twin = check_pair(source_id, twin_id)
    bundles, view = load_ladder(ladder, source)
    conditions = extra_conditions(
        (source, twin), max(states, len(source.spec.initial_conditions)), SEED
    )
    worlds = {
        CLEAN: render_views(source, conditions[0][:states], view),
        TWIN: render_views(twin, conditions[1][:states], view),
    }
    rng = np.random.default_rng(SEED)
    looks = {CLEAN: (worlds[CLEAN].images, worlds[CLEAN].xy)}
    for name, perturbation in PERTURBATIONS.items():
        looks[name] = (perturbation.apply(worlds[CLEAN].images, rng), worlds[CLEAN].xy)
    looks[TWIN] = (worlds[TWIN].images, worlds[TWIN].xy)
    return {
        look: {name: located(xy_errors(p, images, xy)) for name, p in bundles.items()}
        for look, (images, xy) in looks.items()
    }


def markdown(outcomes: dict, rows: dict, command: str, seconds: float) -> str:
    names = list(outcomes[CLEAN])
    lines = [
        "# The camera floor: the source world against itself through another camera",
        "",
        f"`{command}` ({seconds:.0f} s). The exterior camera's first frame of "
        f"{len(next(iter(outcomes[CLEAN].values())))} states; located: the task's object within "
        "2 cm and its container within 3 cm (`benchmarks.fidelity.gap_locator`).",
        "",
        "| look (what it models) | Pearson, all | MMRV, all | Pearson, src-* | MMRV, src-* | "
        "median per-state r |",
        "|---|---|---|---|---|---|",
    ]
    for look, row in rows.items():
        what = PERTURBATIONS[look].what if look in PERTURBATIONS else "the twin, for scale"
        cells = [
            f"{row.get(k, float('nan')):.3f}"
            for k in ("pearson_all", "mmrv_all", "pearson_src", "mmrv_src", "trial_r_median")
        ]
        lines.append(f"| {look} ({what}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Located fraction per bundle:",
        "",
        "| look | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for look, by_bundle in outcomes.items():
        lines.append(
            f"| {look} | " + " | ".join(f"{by_bundle[n].mean():.2f}" for n in names) + " |"
        )
    return "\n".join(lines) + "\n"


def picture(outcomes: dict, rows: dict, path: Path) -> None:
    """Located fraction, look by bundle, beside the ladder's Pearson per look."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    looks, names = list(outcomes), list(outcomes[CLEAN])
    grid = np.array([[outcomes[look][n].mean() for n in names] for look in looks])
    fig, (heat, bars) = plt.subplots(
        1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 1]}, constrained_layout=True
    )
    image = heat.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    heat.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    heat.set_yticks(range(len(looks)), looks, fontsize=8)
    for (i, j), value in np.ndenumerate(grid):
        heat.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w")
    heat.set_title("located fraction (exterior camera, first frame)")
    fig.colorbar(image, ax=heat, shrink=0.8)
    shown = list(rows)
    colours = ["tab:red" if look == TWIN else "tab:blue" for look in shown]
    bars.barh(range(len(shown)), [rows[look]["pearson_all"] for look in shown], color=colours)
    bars.set_yticks(range(len(shown)), shown, fontsize=8)
    bars.invert_yaxis()
    bars.axvline(0.95, color="k", lw=0.8, ls="--")
    bars.set_xlim(0, 1.02)
    bars.set_title("ladder Pearson vs source", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--ladder", type=Path, default=Path(__file__).with_name("ladder"))
    parser.add_argument("--states", type=int, default=100, help="initial conditions")
    parser.add_argument("--out", type=Path, default=None, help="write the report and picture")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    outcomes = measure(args.source, args.twin, args.ladder, args.states)
    rows = floor_rows(outcomes)
    for look, by_bundle in outcomes.items():
        for name, hits in by_bundle.items():
            emit(f"located/{look}/{name}", "located", float(hits.mean()), "fraction")
    figures.emit_rows("camera_floor", "floor", rows, lambda m: "r" if "mmrv" not in m else "rate")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        command = (
            f"python -m benchmarks.fidelity.camera_floor --source {args.source} --twin "
            f"{args.twin} --ladder {args.ladder} --states {args.states}"
        )
        seconds = time.perf_counter() - started
        (args.out / "camera-floor.md").write_text(markdown(outcomes, rows, command, seconds))
        picture(outcomes, rows, args.out / "camera-floor.png")


if __name__ == "__main__":
    main()
