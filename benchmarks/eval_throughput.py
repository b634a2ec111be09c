"""Evaluation throughput: episodes per hour per core and the real-time factor.

Run ``python -m benchmarks.eval_throughput [--episodes N | --quick] [--no-ray]`` (or
``twinbench bench eval_throughput``); prints one JSON line per figure. The workload is
PolaRiS-shaped: full 450-step episodes (no early stop on success) of the scripted expert on
the bundled environment, two 224x224 cameras rendered at every chunk boundary (open-loop
horizon 8) as for a learned policy. Cases: one worker in this process (the per-core cost),
then the same worker as 1 and 2 Ray actors (steady state: from the first finished episode to
the last, so Ray's start-up is reported apart).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

from benchmarks import figures
from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, TaskOutcome, run_evaluation

ENV_ID = "primitive_cube_bowl"
POLICY = "scripted:expert,images=1"
CONTROL_HZ = 15.0


emit = partial(figures.emit, "eval", digits=3)


def measure(case: str, episodes: int, execution: Execution, cores: int) -> None:
    """Run ``episodes`` full episodes on ``execution`` and emit its figures."""
    config = EvalConfig(
        envs=(ENV_ID,),
        policies=(POLICY,),
        episodes=episodes,
        image_size=(224, 224),
        rollout=RolloutConfig(open_loop_horizon=8, stop_on_success=False),
    )
    finished: list[tuple[float, TaskOutcome]] = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_evaluation(
            config,
            Path(tmp),
            execution,
            on_outcome=lambda outcome: finished.append((time.perf_counter(), outcome)),
        )
        total = time.perf_counter() - start
    if len(finished) != episodes or result.report.setup_errors:
        raise RuntimeError(f"{case}: {len(finished)}/{episodes} episodes ({result.report})")
    episode_s = sum(o.record.outcome.wall_time_s for _, o in finished if o.record) / episodes
    simulated_s = 450 / CONTROL_HZ
    emit(case, "episode_wall_s", episode_s, "s")
    emit(case, "realtime_factor_per_worker", simulated_s / episode_s, "x")
    steady_s = finished[-1][0] - finished[cores - 1][0] if episodes > cores else 0.0
    if steady_s > 0:
        rate = (episodes - cores) / steady_s * 3600
        emit(case, "episodes_per_hour", rate, "1/h")
        emit(case, "episodes_per_hour_per_core", rate / cores, "1/(h*core)")
        emit(case, "realtime_factor_total", (episodes - cores) * simulated_s / steady_s, "x")
    emit(case, "startup_and_first_episodes_s", total - steady_s, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=6, help="episodes per case")
    parser.add_argument("--quick", action="store_true", help="3 episodes per case")
    parser.add_argument("--no-ray", action="store_true", help="only the in-process case")
    args = parser.parse_args()
    episodes = 3 if args.quick else args.episodes
    measure("inline_1_worker", episodes, Execution(workers=0), cores=1)
    if not args.no_ray:
        for workers in (1, 2):
            execution = Execution(workers=workers, ray_address="local")
            measure(f"ray_{workers}_workers", episodes, execution, cores=workers)


if __name__ == "__main__":
    main()
