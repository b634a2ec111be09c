"""``twinbench cotrain``: generate demonstrations, validate datasets, mix sim with real, train.

Heavy imports (MuJoCo, torch, pyarrow, PyAV) happen inside the commands, so ``twinbench
--help`` stays fast. Progress goes to stderr; stdout carries only results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

cotrain_app = typer.Typer(
    help="Co-training data: scripted demonstrations as LeRobot v3.0 datasets, sim/real mixes, "
    "a demo policy.",
    no_args_is_help=True,
)


def parse_indices(text: str | None) -> tuple[int, ...] | None:
    """``0-6`` or ``0,2,5`` (or both mixed) -> initial-condition indices."""
    from cotrain.errors import CotrainError

    if text is None:
        return None
    out: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            out.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise CotrainError(
            f"expected indices like 0-6 or 0,2,5, got {text!r}", field="--initial-conditions"
        ) from None
    return tuple(out)


@cotrain_app.command("generate")
def generate_command(
    env: Annotated[
        list[str], typer.Option("--env", help="Environment id or package directory; repeatable.")
    ],
    episodes: Annotated[
        int, typer.Option("--episodes", min=1, help="Successful episodes kept per environment.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Dataset directory to write.")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same dataset.")] = 0,
    image_size: Annotated[
        str, typer.Option("--image-size", help="Camera images WIDTHxHEIGHT (even).")
    ] = "320x180",
    initial_conditions: Annotated[
        str | None,
        typer.Option(
            "--initial-conditions",
            help="Which package initial conditions to vary around, e.g. 0-6 (hold out the rest).",
        ),
    ] = None,
    tail_steps: Annotated[
        int, typer.Option("--tail-steps", min=0, help="Steps recorded after success.")
    ] = 8,
) -> None:
    """Record scripted pick-and-place demonstrations as a LeRobot v3.0 dataset.

    Only episodes whose rubric succeeds are kept. Rerunning the same command after an
    interruption resumes where it stopped.

    Example: twinbench cotrain generate --env primitive_cube_bowl --episodes 50 -o data/sim
    """
    from rich.console import Console

    from cotrain.generate import GenerateConfig, generate
    from sim_env.images import ImageSize

    err = Console(stderr=True)
    config = GenerateConfig(
        envs=tuple(env),
        episodes=episodes,
        seed=seed,
        image_size=ImageSize.parse(image_size, field="--image-size"),
        workers=workers,
        initial_conditions=parse_indices(initial_conditions),
        tail_steps=tail_steps,
    )

    def progress(episode) -> None:
        outcome = "kept" if episode.success else "failed"
        err.print(
            f"{config.envs[episode.env_index]} slot {episode.slot}: {outcome} "
            f"({episode.length} frames, {episode.seconds:.1f} s)"
        )

    report = generate(output, config, on_episode=progress)
    for y in report.yields:
        short = f" of {episodes} requested" if y.kept < episodes else ""
        typer.echo(
            f"{y.env}: kept {y.kept} episodes{short}, {y.successes}/{y.attempted} attempts "
            f"succeeded (yield {100 * y.success_rate:.0f}%)"
        )
    typer.echo(
        f"{report.output}: {report.episodes} episodes, {report.frames} frames; generated "
        f"{report.generated_frames} frames in {report.seconds:.1f} s "
        f"({report.frames_per_second:.1f} frames/s)"
    )


@cotrain_app.command("validate")
def validate_command(
    dataset: Annotated[Path, typer.Argument(help="A LeRobot v3.0 dataset directory.")],
) -> None:
    """Check a dataset against the LeRobot v3.0 layout; errors name the file and field.

    Example: twinbench cotrain validate data/sim
    """
    from cotrain.lerobot import validate

    summary = validate(dataset)
    typer.echo(
        f"ok: {dataset} is a valid LeRobot v3.0 dataset: {summary.episodes} episodes, "
        f"{summary.frames} frames, {len(summary.tasks)} task(s), {summary.fps} fps, "
        f"videos {summary.video_keys}"
    )


@cotrain_app.command("mix")
def mix_command(
    real: Annotated[list[Path], typer.Option("--real", help="Real dataset; repeatable.")],
    sim: Annotated[list[Path], typer.Option("--sim", help="Sim dataset; repeatable.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Mix JSON to write.")],
    sim_fraction: Annotated[
        float, typer.Option("--sim-fraction", help="Share of training samples drawn from sim.")
    ] = 0.1,
) -> None:
    """Sampling weights so that sim makes up --sim-fraction of training samples (PolaRiS: 0.1).

    See cotrain/README.md for openpi and LeRobot training configs that read the result.

    Example: twinbench cotrain mix --real data/real --sim data/sim -o mix.json
    """
    from cotrain.lerobot import validate
    from cotrain.mix import compute_mix

    result = compute_mix([validate(p) for p in real], [validate(p) for p in sim], sim_fraction)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    for line in (*result.arithmetic, *(f"warning: {w}" for w in result.warnings)):
        typer.echo(line)
    typer.echo(f"wrote {output}")


@cotrain_app.command("train-demo")
def train_demo_command(
    data: Annotated[Path, typer.Option("--data", help="A LeRobot v3.0 dataset from generate.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle directory to write.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 300,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Actions per chunk.")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train a small CNN chunk policy on the CPU and save it as a bundle: checkpoint.

    Example: twinbench cotrain train-demo --data data/sim -o runs/demo && twinbench eval
    --policy bundle:runs/demo ...
    """
    from cotrain.train import TrainConfig, train_demo

    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        horizon=horizon,
        open_loop_horizon=min(8, horizon),
        seed=seed,
    )
    result = train_demo(data, output, config, log=lambda line: typer.echo(line, err=True))
    typer.echo(
        f"wrote bundle:{result.bundle} ({result.frames} frames, {result.steps} steps, loss "
        f"{result.first_loss:.3f} -> {result.final_loss:.3f}, {result.seconds:.0f} s)"
    )
