"""cotrain figures: demonstration frames generated per second (with rendering, encoding and
staging), and the scripted expert's success yield per environment under cotrain's variation.

Run ``python -m benchmarks.cotrain [--quick] [--env ID ...]``; prints one JSON line per figure.
The yield case runs physics only (no cameras), so it can afford more episodes. With
``--bundle DIR --conditions 7-9`` it also scores a trained policy (e.g. ``train-demo``'s) on
those initial conditions of each environment through the evaluation rollout.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cotrain.cli import parse_indices
from cotrain.generate import GenerateConfig, generate, resolve_envs
from cotrain.randomize import RandomizationConfig, sample_variation
from cotrain.scripted import record_episode
from sim_env.env import EnvConfig, TwinEnv
from sim_env.registry import list_envs


@dataclass(frozen=True)
class Settings:
    envs: tuple[str, ...]
    episodes: int  # per generation case
    workers: tuple[int, ...]
    yield_episodes: int
    image_size: tuple[int, int] = (320, 180)
    bundle: str | None = None
    conditions: tuple[int, ...] = ()


def _figure(case: str, metric: str, value: float, unit: str) -> dict:
    return {
        "bench": "cotrain",
        "case": case,
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
    }


def generation(settings: Settings) -> Iterator[dict]:
    """Frames per second of ``generate`` end to end (finalizing excluded)."""
    for env in settings.envs:
        for workers in settings.workers:
            config = GenerateConfig(
                envs=(env,),
                episodes=settings.episodes,
                image_size=settings.image_size,
                workers=workers,
            )
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                report = generate(f"{tmp}/dataset", config)
                total = time.perf_counter() - start
            case = f"generate/{env}/{'x'.join(map(str, settings.image_size))}/workers{workers}"
            yield _figure(case, "frames_per_second", report.frames_per_second, "frames/s")
            yield _figure(case, "episode_seconds", report.seconds / report.episodes, "s")
            yield _figure(case, "finalize_seconds", total - report.seconds, "s")


def planner_yield(settings: Settings) -> Iterator[dict]:
    """Share of randomized scripted episodes whose rubric succeeds, and their mean length."""
    config = RandomizationConfig()
    for task in resolve_envs(GenerateConfig(envs=settings.envs, episodes=1)):
        env = TwinEnv(task.path, EnvConfig(cameras=()))
        successes, lengths = [], []
        for slot in range(settings.yield_episodes):
            rng = np.random.default_rng([0, 0, slot])
            variation = sample_variation(env, rng, config, task.conditions, task.obj)
            record = record_episode(env, variation, task.obj, task.container)
            successes.append(record.success)
            lengths.append(record.length)
        case = f"yield/{task.id}"
        yield _figure(case, "success_rate", float(np.mean(successes)), "fraction")
        yield _figure(case, "episodes", float(len(successes)), "episodes")
        yield _figure(case, "mean_length", float(np.mean(lengths)), "frames")


def bundle_policy(settings: Settings) -> Iterator[dict]:
    """Success and progress of a bundle on the given initial conditions, one episode each."""
    if settings.bundle is None:
        return
    from evaluate.policies import make_policy
    from evaluate.rollout import run_episode

    policy = make_policy(f"bundle:{settings.bundle}")
    for task in resolve_envs(GenerateConfig(envs=settings.envs, episodes=1)):
        env = TwinEnv(task.path)
        results = [
            run_episode(env, policy, initial_condition=condition, seed=condition)
            for condition in settings.conditions
        ]
        case = f"bundle/{task.id}/conditions{'-'.join(map(str, settings.conditions))}"
        yield _figure(
            case, "success_rate", float(np.mean([r.success for r in results])), "fraction"
        )
        yield _figure(case, "progress", float(np.mean([r.progress for r in results])), "fraction")
        yield _figure(case, "episodes", float(len(results)), "episodes")


CASES = (planner_yield, generation, bundle_policy)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes, one worker")
    parser.add_argument("--env", action="append", help="environment id or path (default: bundled)")
    parser.add_argument("--bundle", help="also score this bundle directory")
    parser.add_argument("--conditions", default="7-9", help="initial conditions for --bundle")
    args = parser.parse_args(argv)
    envs = tuple(args.env or [e.id for e in list_envs() if e.bundled])
    extra = {"bundle": args.bundle, "conditions": parse_indices(args.conditions) or ()}
    if args.quick:
        settings = Settings(envs, episodes=2, workers=(1,), yield_episodes=10, **extra)
    else:
        settings = Settings(envs, episodes=6, workers=(1, 2), yield_episodes=50, **extra)
    for case in CASES:
        for figure in case(settings):
            print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
