"""``twinbench eval``, ``submit`` and ``worker``: run policies in simulation.

Heavy imports (MuJoCo, pandas, Ray) happen inside the commands, so ``twinbench --help``
stays fast. Progress goes to stderr; the summary table to stdout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from evaluate.run import JobOutcome
    from evaluate.store import JobRecord
    from sim_env.images import ImageSize

# Where submit and worker keep the job queue (and the jobs' results) unless told otherwise.
DEFAULT_STORE = str(Path("twinbench-results") / "results.sqlite")
STORE_HELP = (
    "Results store holding the job queue (and jobs' results): a .sqlite file or a "
    "postgresql://USER@HOST:PORT/DB URL (password in PGPASSWORD)."
)

Envs = Annotated[
    list[str],
    typer.Option("--env", "-e", help="Environment id or package path; repeat for several."),
]
Policies = Annotated[
    list[str],
    typer.Option(
        "--policy",
        "-p",
        help="Policy spec (scripted:good, openpi://HOST:PORT, bundle:PATH); repeat for several.",
    ),
]
Episodes = Annotated[
    int, typer.Option("--episodes", "-n", min=1, help="Episodes per policy and environment.")
]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Episode k uses seed SEED + k.")]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        "-j",
        min=0,
        help="Worker processes (Ray actors with --ray-address); 0: inline.",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Run workers on Ray: 'local' starts a private Ray, else an address (auto, ray://...).",
    ),
]
Video = Annotated[
    bool, typer.Option("--video/--no-video", help="Write an mp4 per episode (camera views).")
]


def parse_image_size(text: str | None) -> ImageSize | None:
    """``--image-size WIDTHxHEIGHT`` (None: each camera's own); a bad value is a usage error."""
    from sim_env.errors import SimEnvError
    from sim_env.images import ImageSize

    if text is None:
        return None
    try:
        return ImageSize.parse(text, field="--image-size")
    except SimEnvError as exc:
        raise typer.BadParameter(exc.message, param_hint="--image-size") from None


def eval_command(
    env: Envs,
    policy: Policies,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run directory: results.sqlite and videos/.")
    ],
    episodes: Episodes = 20,
    workers: Workers = 1,
    ray_address: RayAddress = None,
    seed: Seed = 0,
    video: Video = False,
    image_size: Annotated[
        str | None,
        typer.Option("--image-size", help="Render every camera at WIDTHxHEIGHT (e.g. 224x224)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--fresh",
            help="Continue this config's run in OUT (skip recorded episodes), or start a new run.",
        ),
    ] = True,
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", min=1, help="Open-loop horizon (default: the policy's own)."),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", min=1, help="End episodes after this many control steps."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Seconds a policy may take per call.")
    ] = 60.0,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Results store instead of OUT/results.sqlite: a .sqlite file or a "
            "postgresql://USER@HOST:PORT/DB URL shared by several machines (videos stay in OUT).",
        ),
    ] = None,
) -> None:
    """Evaluate policies on environments; results go to OUT/results.sqlite (resumable).

    Example: twinbench eval --env primitive_cube_bowl -p scripted:good -p openpi://gpu:8000 -n 50 -o runs/cube --workers 2
    """
    from rich.console import Console

    from evaluate.rollout import RolloutConfig
    from evaluate.run import EvalConfig, Execution
    from evaluate.run.console import run_with_progress

    config = EvalConfig(
        envs=tuple(env),
        policies=tuple(policy),
        episodes=episodes,
        seed=seed,
        image_size=parse_image_size(image_size),
        rollout=RolloutConfig(
            open_loop_horizon=horizon, infer_timeout_s=timeout, max_steps=max_steps
        ),
    )
    execution = Execution(workers=workers, ray_address=ray_address, video=video, resume=resume)
    run_with_progress(config, out, execution, Console(), store=store)


def submit_command(
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy spec to evaluate.")],
    env: Envs,
    episodes: Episodes = 20,
    seed: Seed = 0,
    store: Annotated[str, typer.Option("--store", help=STORE_HELP)] = DEFAULT_STORE,
) -> None:
    """Queue an evaluation job; a `twinbench worker` on the same store runs it.

    Example: twinbench submit -p openpi://gpu:8000 -e primitive_cube_bowl -n 50 --store results/results.sqlite
    """
    from evaluate.errors import EvaluateError
    from evaluate.policies import policy_schemes
    from evaluate.run import describe_envs
    from evaluate.store import ResultsStore, store_location
    from twinbench.registry import unknown_name_message

    scheme = policy.partition(":")[0]
    if scheme not in policy_schemes():
        message = unknown_name_message("policy scheme", scheme, list(policy_schemes()))
        raise EvaluateError(message, field="--policy")
    describe_envs(env)  # unknown ids fail now, not in the worker
    location = store_location(store)
    with ResultsStore.open(location) as results:
        job = results.submit_job(policy, env, episodes, seed)
    typer.echo(f"queued {job.job_id}: {policy} on {', '.join(env)}, {episodes} episodes each")
    typer.echo(f"run it with: twinbench worker --store {location}")


def worker_command(
    store: Annotated[str, typer.Option("--store", help=STORE_HELP)] = DEFAULT_STORE,
    once: Annotated[
        bool, typer.Option("--once", help="Run at most one job, then exit (do not wait).")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="Seconds between looks at an empty queue.")
    ] = 5.0,
    workers: Workers = 1,
    ray_address: RayAddress = None,
    video: Video = False,
    heartbeat: Annotated[
        float, typer.Option("--heartbeat", min=0.1, help="Seconds between heartbeats.")
    ] = 10.0,
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after", min=1.0, help="Requeue running jobs silent this many seconds."
        ),
    ] = 120.0,
) -> None:
    """Run queued evaluation jobs from a store until interrupted (or one, with --once).

    Example: twinbench worker --store results/results.sqlite --workers 2
    """
    from rich.console import Console

    from evaluate.run import Execution, QueueWorkerConfig, serve_queue
    from evaluate.run.console import ProgressTask, progress_bar
    from evaluate.store import store_location

    config = QueueWorkerConfig(
        store=store_location(store),
        poll_s=poll,
        heartbeat_s=heartbeat,
        stale_after_s=stale_after,
        once=once,
        execution=Execution(workers=workers, ray_address=ray_address, video=video),
    )
    console = Console(stderr=True)
    console.print(f"worker {config.worker_id} serving {config.store}")
    progress = progress_bar()
    bars: list[ProgressTask] = []

    def on_job(job: JobRecord) -> tuple[Callable[[int, int], None], Callable[..., None]]:
        console.print(f"job {job.job_id}: {job.policy_spec} on {', '.join(job.envs)}")
        progress.start()
        bars.append(ProgressTask(progress, job.job_id))
        return bars[-1].start, bars[-1].outcome

    def on_done(outcome: JobOutcome) -> None:
        progress.remove_task(bars.pop().task)
        progress.stop()
        state = outcome.state or "abandoned"
        reason = f" ({outcome.reason})" if outcome.reason else ""
        console.print(f"job {outcome.job.job_id}: {state}{reason}")

    ran = serve_queue(config, on_job, on_done)
    if once and not ran:
        console.print("no queued job")
