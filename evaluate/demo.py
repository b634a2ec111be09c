"""``twinbench demo``: rank the scripted policy ladder on a "real" and a "sim" side and
report how well the sim side predicts the real one.

The pipeline is the one a real study runs: evaluate the same policies on both sides, then
correlate per-policy success rates (Pearson, MMRV, Spearman, Kendall with bootstrap CIs).
Which worlds play the two sides is one :class:`DemoConfig`. Today there is no real robot and
no reconstructed source world yet, so :data:`DEMO` pits the bundled environment at the
default physics step (the sim side, as evaluations run it) against the same environment
integrated at half the step (the "real" stand-in: the same world, simulated more
accurately), and says so in its output. When the reconstruction pipeline ships a source
world and its twin, point ``DEMO``'s two ``Side``s at their env ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from evaluate.correlation import BootstrapConfig
from evaluate.fidelity.sides import (
    EpisodePlan,
    Side,
    correlate_tables,
    evaluate_side,
    write_comparison,
)
from evaluate.policies.scripted import ladder_specs
from evaluate.report import metrics_line
from evaluate.run import Execution
from sim_env.scene import PhysicsConfig


@dataclass(frozen=True)
class DemoConfig:
    """Which worlds play real and sim, under which task name their results are matched,
    and which policies are ranked."""

    task: str
    real: Side
    sim: Side
    policies: tuple[str, ...] = field(default_factory=ladder_specs)
    seed: int = 0


DEMO = DemoConfig(
    task="primitive_cube_bowl",
    real=Side(
        "real",
        "primitive_cube_bowl",
        "STAND-IN, not a real robot: the bundled primitive_cube_bowl environment simulated "
        "at a finer physics step (dt = 1/480 s, 32 substeps per control step) as the "
        "higher-fidelity reference",
        PhysicsConfig(timestep=1.0 / 480.0),
    ),
    sim=Side(
        "sim",
        "primitive_cube_bowl",
        "the same environment at twinbench's default physics step (dt = 1/240 s, 16 "
        "substeps per control step), as every evaluation runs it",
    ),
)


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's outputs are."""

    store: Path
    report: Path  # report.json; index.html beside it
    runs: dict[str, str]  # role -> run id
    wall_time_s: float


def run_demo(
    config: DemoConfig,
    out: Path,
    *,
    episodes: int = 20,
    workers: int = 2,
    console: Console | None = None,
) -> DemoResult:
    """Evaluate both sides (resuming what ``out`` already holds), correlate, write the report."""
    console = console or Console()
    start = time.perf_counter()
    out = Path(out)
    console.print(
        f"[bold]twinbench demo[/]: {len(config.policies)} scripted policies x {episodes} episodes, two sides"
    )
    for side in (config.real, config.sim):
        console.print(f"  [bold]{side.role}[/] side = {side.env}: {side.description}")
    plan = EpisodePlan(config.policies, episodes, config.seed)
    sides = {
        side.role: evaluate_side(side, plan, out, Execution(workers=workers), console)
        for side in (config.real, config.sim)
    }
    bootstrap = BootstrapConfig(seed=config.seed)
    reports = correlate_tables(
        sides["sim"].tables(config.task), sides["real"].tables(config.task), bootstrap
    )
    report = write_comparison(out / "report", sides["sim"], sides["real"], reports, bootstrap)
    store = sides["real"].store
    for agreement in reports["success"].per_env.values():
        console.print(
            f"sim vs {config.real.role} success rates, {agreement.scope}: {metrics_line(agreement)}"
        )
    for note in reports["success"].notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f'[bold]the "real" side is[/] {config.real.description}')
    console.print(f"correlation report: {report.parent / 'index.html'} (data: {report})")
    console.print(f"dashboard: twinbench dashboard --store {store}")
    wall = time.perf_counter() - start
    console.print(f"demo finished in {wall:.0f} s")
    return DemoResult(store, report, {role: run.run_id for role, run in sides.items()}, wall)
