"""``twinbench demo`` and ``twinbench fidelity``: rank policies in a source world and its twin,
correlate the rankings.

Heavy imports (MuJoCo, torch, matplotlib) happen inside the command, so ``twinbench --help``
stays fast. Progress goes to stderr; the per-world tables and the metrics to stdout.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from evaluate.cli_eval import Episodes, Seed, Workers, parse_image_size


def _ladder(directory: Path) -> list[str]:
    """``bundle:`` specs of every bundle directly under ``directory``, sorted by name."""
    from evaluate.bundle import CONFIG_FILE
    from evaluate.errors import EvaluateError

    bundles = sorted(p.parent for p in directory.glob(f"*/{CONFIG_FILE}"))
    if not bundles:
        raise EvaluateError(f"no bundle (*/{CONFIG_FILE}) in it", file=directory, field="--ladder")
    return [f"bundle:{path}" for path in bundles]


def _subsets(texts: list[str], policies: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """``NAME=PATTERN`` options -> name -> the policies the pattern matches."""
    from evaluate.errors import EvaluateError
    from studies.fidelity import match_subset

    subsets = {}
    for text in texts:
        name, sep, pattern = text.partition("=")
        if not sep or not name or not pattern:
            raise EvaluateError(f"expected NAME=PATTERN, got {text!r}", field="--subset")
        subsets[name] = match_subset(pattern, policies)
    return subsets


def command_line(ctx: typer.Context) -> str:
    """The command as a canonical line (options in declaration order, defaults left out),
    stored with the result so that it can be re-run."""
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not param.opts or value is None or value == param.default or value == []:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            words += [param.opts[0], str(item)]
    return shlex.join(words)


def fidelity_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Option("--source", help="The scanned world (env id or package path); plays real."),
    ],
    twin: Annotated[str, typer.Option("--twin", help="Its twin (env id or package path).")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Run directory: results.sqlite, report*/, worlds/."),
    ],
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", "-p", help="Policy spec (bundle:PATH, ...); repeatable."),
    ] = None,
    ladder: Annotated[
        Path | None,
        typer.Option("--ladder", help="Evaluate every bundle directly under this directory too."),
    ] = None,
    episodes: Episodes = 30,
    initial_conditions: Annotated[
        int | None,
        typer.Option(
            "--initial-conditions",
            min=1,
            help="Evaluate with this many distinct initial conditions: the packages' own, then "
            "draws around them, the same in every world (default: the packages').",
        ),
    ] = None,
    ablation: Annotated[
        list[str] | None,
        typer.Option(
            "--ablation",
            help="Also evaluate an ablation world: twin-meshes, source-geometry, source-camera; "
            "repeatable.",
        ),
    ] = None,
    ablation_episodes: Annotated[
        int | None,
        typer.Option(
            "--ablation-episodes",
            min=1,
            help="Episodes per policy in the ablation worlds, compared with the source world's "
            "first as many (default: --episodes).",
        ),
    ] = None,
    subset: Annotated[
        list[str] | None,
        typer.Option(
            "--subset",
            help="NAME=PATTERN: also correlate the policies whose spec matches the shell "
            "pattern (e.g. 'with-twin-data=bundle:*/cot-*'); repeatable.",
        ),
    ] = None,
    workers: Workers = 2,
    seed: Seed = 0,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", help="Render every camera at WIDTHxHEIGHT (e.g. 160x90)."),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", min=1, help="End episodes after this many control steps."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Summary JSON (default OUT/fidelity.json).")
    ] = None,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Scatter figure (default OUT/fidelity.png).")
    ] = None,
) -> None:
    """Evaluate policies in a source world and its twin on the same initial conditions and
    correlate their rankings (Pearson, MMRV, Spearman, Kendall with bootstrap intervals).

    Re-running the same command resumes: recorded episodes are not run again.

    Example: twinbench fidelity --source tabletop_source --twin tabletop_twin --ladder benchmarks/fidelity/ladder -n 30 --initial-conditions 30 --ablation twin-meshes -o runs/fidelity
    """
    from rich.console import Console

    from evaluate.errors import EvaluateError
    from evaluate.rollout import RolloutConfig
    from evaluate.run import Execution
    from studies.fidelity import EpisodePlan, FidelityConfig, run_fidelity

    policies = tuple(dict.fromkeys([*(policy or []), *(_ladder(ladder) if ladder else [])]))
    if not policies:
        raise EvaluateError("name policies with --policy or --ladder", field="--policy")
    config = FidelityConfig(
        source=source,
        twin=twin,
        plan=EpisodePlan(
            policies=policies,
            episodes=episodes,
            seed=seed,
            image_size=parse_image_size(image_size),
            rollout=RolloutConfig(max_steps=max_steps),
        ),
        initial_conditions=initial_conditions,
        ablations=tuple(ablation or ()),
        ablation_episodes=ablation_episodes,
        subsets=_subsets(subset or [], policies),
    )
    run_fidelity(
        config,
        out,
        Execution(workers=workers),
        Console(),
        json_path=json_path,
        plot_path=plot_path,
        command=command_line(ctx),
    )


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Demo directory: results.sqlite and report/.")
    ] = Path("twinbench-demo"),
    episodes: Episodes = 20,
    workers: Workers = 2,
) -> None:
    """Evaluate the scripted policy ladder on the bundled source world ("real": not a real
    robot, the textured world the bundled twin was scanned from) and on its reconstructed
    twin ("sim"), and correlate the two.

    Example: twinbench demo --out twinbench-demo --episodes 20 --workers 2
    """
    from rich.console import Console

    from studies.demo import DEMO, run_demo

    run_demo(DEMO, out, episodes=episodes, workers=workers, console=Console())
