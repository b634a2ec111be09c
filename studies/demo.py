"""``twinbench demo``: rank the scripted policy ladder on a "real" and a "sim" side and
report how well the sim side predicts the real one.

The pipeline is the one a real study runs: evaluate the same policies on both sides, then
correlate per-policy success rates (Pearson, MMRV, Spearman, Kendall with bootstrap CIs).
Which worlds play the two sides is one :class:`DemoConfig`. There is no real robot on a CI
machine, so :data:`DEMO` lets the bundled ``tabletop_source`` play "real": the textured,
high-fidelity MuJoCo world that the bundled twin was scanned from (a simulated phone video),
and says so in its output. The sim side is that twin, ``tabletop_twin``, as
``twinbench reconstruct`` built it (meshes, convex hulls and masses estimated from the scan,
Gaussian splats for its camera views). Both pose the same task ("put the red box in the
tray"), checked before anything runs. The scripted ladder reads privileged state, not
pixels, and the demo records no videos, so neither side renders an image: the twin's splat
renderer (the default ``auto``) is never started and the demo stays a few minutes on two
cores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from evaluate.correlation import BootstrapConfig
from evaluate.policies.scripted import ladder_specs
from evaluate.report import metrics_line
from evaluate.run import Execution
from studies.fidelity.run import check_pair
from studies.fidelity.sides import (
    EpisodePlan,
    Side,
    correlate_tables,
    evaluate_side,
    write_comparison,
)


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
    task="tabletop_red_box_in_tray",
    real=Side(
        "real",
        "tabletop_source",
        "NOT A REAL ROBOT: the high-fidelity textured MuJoCo world that the bundled twin "
        "tabletop_twin was scanned from",
    ),
    sim=Side(
        "sim",
        "tabletop_twin",
        "the twin reconstructed by twinbench reconstruct from a simulated phone scan of "
        "tabletop_source: meshes, hulls and masses from the scan, Gaussian splats for its views",
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
    """Evaluate both sides (resuming what ``out`` already holds), correlate, write the report.

    Raises:
        EvaluateError: the two sides' packages do not pose the same task (objects, rubric,
            number of initial conditions).
    """
    console = console or Console()
    start = time.perf_counter()
    out = Path(out)
    check_pair(config.real.env, config.sim.env)
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
    console.print(f'[bold]the "real" side, {config.real.env}, is[/] {config.real.description}')
    console.print(f"correlation report: {report.parent / 'index.html'} (data: {report})")
    console.print(f"dashboard: twinbench dashboard --store {store}")
    wall = time.perf_counter() - start
    console.print(f"demo finished in {wall:.0f} s")
    return DemoResult(store, report, {role: run.run_id for role, run in sides.items()}, wall)
