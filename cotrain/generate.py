"""Generate a demonstration dataset: scripted episodes in environment packages -> LeRobot v3.0.

Episode slots are numbered per environment; slot k of environment e draws everything from the
seed ``[seed, e, k]``, so its outcome does not depend on which worker ran it or when. Slots
run in rounds until each environment has ``episodes`` successes among its first slots; the
dataset keeps the first ``episodes`` successful slots in slot order. A killed run resumes from
its staged slots and ends with the same dataset as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from cotrain import features
from cotrain.errors import CotrainError
from cotrain.lerobot import DatasetSpec, DatasetWriter, EpisodeInput, VideoConfig
from cotrain.lerobot.layout import INFO_PATH
from cotrain.randomize import RandomizationConfig, sample_variation
from cotrain.scripted import failed_record, record_episode
from cotrain.staging import StagedEpisode, Staging
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize

GENERATION_FILE = "meta/twinbench_generation.json"  # provenance; LeRobot ignores extra files


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate. ``image_size``'s width and height are both even (H.264); a plain
    pair is taken as (width, height)."""

    envs: tuple[str, ...]
    episodes: int  # successful episodes kept per environment
    seed: int = 0
    image_size: ImageSize = features.VIDEO_SIZE
    workers: int = 1
    initial_conditions: tuple[int, ...] | None = None  # None: all of each package's
    tail_steps: int = 8  # steps recorded after success (the gripper opening, moving off)
    attempts_factor: float = 3.0  # at most ceil(factor x episodes) + 5 slots per environment
    renderer: str = "auto"
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "image_size", ImageSize.coerce(self.image_size))
        except SimEnvError as exc:
            raise CotrainError(exc.message, field="image_size") from None
        checks = {
            "envs": (len(self.envs) > 0, "give at least one environment"),
            "episodes": (self.episodes >= 1, f"must be >= 1, got {self.episodes}"),
            "workers": (self.workers >= 1, f"must be >= 1, got {self.workers}"),
            "image_size": (
                self.image_size.width % 2 == 0 and self.image_size.height % 2 == 0,
                f"width and height must be even (H.264), got {self.image_size}",
            ),
            "tail_steps": (self.tail_steps >= 0, f"must be >= 0, got {self.tail_steps}"),
            "attempts_factor": (self.attempts_factor >= 1, "must be >= 1"),
        }
        for name, (ok, message) in checks.items():
            if not ok:
                raise CotrainError(message, field=name)

    @property
    def max_slots(self) -> int:
        return math.ceil(self.attempts_factor * self.episodes) + 5


@dataclass(frozen=True)
class EnvTask:
    """An environment resolved for generation."""

    id: str
    path: str
    content_hash: str
    instruction: str
    obj: str
    container: str
    conditions: tuple[int, ...]


@dataclass(frozen=True)
class SlotJob:
    """One episode slot, self-contained so a worker process can run it."""

    env_index: int
    slot: int
    env: EnvTask
    config: GenerateConfig
    dataset: Path


@dataclass(frozen=True)
class EnvYield:
    env: str
    kept: int
    attempted: int
    successes: int

    @property
    def success_rate(self) -> float:
        return self.successes / self.attempted if self.attempted else 0.0


@dataclass(frozen=True)
class GenerationReport:
    output: Path
    yields: tuple[EnvYield, ...]
    episodes: int  # in the dataset
    frames: int  # in the dataset
    generated_frames: int  # simulated and rendered by this call (failed episodes included)
    seconds: float  # this call's generation time, finalizing excluded

    @property
    def frames_per_second(self) -> float:
        return self.generated_frames / self.seconds if self.seconds > 0 else 0.0


def resolve_envs(config: GenerateConfig) -> list[EnvTask]:
    """Load each package and check that it can be recorded as a DROID dataset."""
    from sim_env.package import load_package
    from sim_env.registry import resolve_env
    from sim_env.rubric import pick_place_task

    tasks = []
    for env_id in config.envs:
        package = load_package(resolve_env(env_id))
        spec = package.spec
        cameras = {c.name for c in spec.cameras}
        if not set(features.CAMERAS) <= cameras:
            raise CotrainError(
                f"needs cameras {list(features.CAMERAS)}, the package has {sorted(cameras)}",
                file=package.root,
                field="cameras",
            )
        if spec.episode.control_hz != features.FPS:
            raise CotrainError(
                f"DROID datasets are recorded at {features.FPS} Hz, the package runs at "
                f"{spec.episode.control_hz:g} Hz",
                file=package.root,
                field="episode.control_hz",
            )
        n = len(spec.initial_conditions)
        conditions = config.initial_conditions or tuple(range(n))
        bad = [i for i in conditions if not 0 <= i < n]
        if bad:
            raise CotrainError(
                f"initial condition {bad[0]} out of range: {env_id} has {n} (0..{n - 1})",
                field="initial_conditions",
            )
        obj, container = pick_place_task(spec)
        tasks.append(
            EnvTask(
                id=env_id,
                path=str(package.root),
                content_hash=package.content_hash,
                instruction=spec.instruction,
                obj=obj,
                container=container,
                conditions=tuple(conditions),
            )
        )
    return tasks


def _plan(config: GenerateConfig, envs: list[EnvTask]) -> dict[str, Any]:
    """The settings a resumed run must share (episodes and workers may change)."""
    plan = {
        "format": 1,
        "envs": [{"id": e.id, "content_hash": e.content_hash} for e in envs],
        "seed": config.seed,
        "image_size": list(config.image_size),  # [width, height]
        "initial_conditions": [list(e.conditions) for e in envs],
        "tail_steps": config.tail_steps,
        "renderer": config.renderer,
        "randomization": config.randomization.as_dict(),
        "video": asdict(config.video),
    }
    return json.loads(json.dumps(plan))  # tuples as lists, as read back from plan.json


_ENVS: dict[tuple[str, tuple[int, int], str], Any] = {}  # per worker process


def run_slot(job: SlotJob) -> StagedEpisode:
    """Simulate, render, encode and stage one slot (in a worker or in-process)."""
    from sim_env.env import EnvConfig, TwinEnv

    start = time.perf_counter()
    key = (job.env.path, job.config.image_size, job.config.renderer)
    if key not in _ENVS:
        config = EnvConfig(
            image_size=job.config.image_size,
            cameras=features.CAMERAS,
            renderer=job.config.renderer,
        )
        _ENVS[key] = TwinEnv(job.env.path, config)
    env = _ENVS[key]
    rng = np.random.default_rng([job.config.seed, job.env_index, job.slot])
    variation = sample_variation(
        env, rng, job.config.randomization, job.env.conditions, job.env.obj
    )
    try:
        record = record_episode(
            env, variation, job.env.obj, job.env.container, job.config.tail_steps
        )
    except SimEnvError:  # e.g. a diverging simulation: this slot fails, the run goes on
        record = failed_record()
    return Staging(job.dataset).stage(
        job.env_index,
        job.slot,
        record,
        variation.summary(),
        time.perf_counter() - start,
        job.config.video,
    )


def _prefix(staged: dict[tuple[int, int], StagedEpisode], env_index: int) -> list[StagedEpisode]:
    """The env's staged slots 0, 1, ... up to the first one not staged yet."""
    prefix = []
    while (env_index, len(prefix)) in staged:
        prefix.append(staged[(env_index, len(prefix))])
    return prefix


def _next_jobs(
    staged: dict[tuple[int, int], StagedEpisode],
    envs: list[EnvTask],
    config: GenerateConfig,
    dataset: Path,
) -> list[SlotJob]:
    jobs = []
    for e, env in enumerate(envs):
        successes = sum(s.success for s in _prefix(staged, e))
        free = (s for s in range(config.max_slots) if (e, s) not in staged)
        for slot in list(free)[: max(0, config.episodes - successes)]:
            jobs.append(SlotJob(e, slot, env, config, dataset))
    return jobs


def _run(jobs: list[SlotJob], pool: ProcessPoolExecutor | None) -> Iterator[StagedEpisode]:
    if pool is None:
        yield from map(run_slot, jobs)
        return
    futures = [pool.submit(run_slot, job) for job in jobs]
    for future in as_completed(futures):
        yield future.result()


def _stage_all(
    staged: dict[tuple[int, int], StagedEpisode],
    envs: list[EnvTask],
    config: GenerateConfig,
    output: Path,
    on_episode: Callable[[StagedEpisode], None] | None,
) -> int:
    """Run rounds of slots until every env has its successes (or used its slots); adds the
    new episodes to ``staged`` and returns how many frames they hold."""
    generated = 0
    pool = (
        ProcessPoolExecutor(config.workers, mp_context=get_context("spawn"))
        if config.workers > 1
        else None
    )
    try:
        while jobs := _next_jobs(staged, envs, config, output):
            for episode in _run(jobs, pool):
                staged[(episode.env_index, episode.slot)] = episode
                generated += episode.length
                if on_episode is not None:
                    on_episode(episode)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return generated


def generate(
    output: str | Path,
    config: GenerateConfig,
    on_episode: Callable[[StagedEpisode], None] | None = None,
) -> GenerationReport:
    """Generate (or resume generating) the dataset at ``output``.

    Raises:
        CotrainError: ``output`` holds anything but an unfinished run of the same settings,
            or no environment produced a successful episode.
    """
    output = Path(output)
    staging = Staging(output)
    if output.is_dir() and any(output.iterdir()) and not staging.root.is_dir():
        what = "a finished dataset" if (output / INFO_PATH).is_file() else "other files"
        raise CotrainError(
            f"already holds {what}; generate writes into a new or empty directory (or resumes "
            "its own unfinished run there)",
            file=output,
        )
    envs = resolve_envs(config)
    staging.open(_plan(config, envs))
    staged = staging.episodes()
    start = time.perf_counter()
    generated = _stage_all(staged, envs, config, output, on_episode)
    seconds = time.perf_counter() - start
    prefixes = [_prefix(staged, e) for e in range(len(envs))]
    kept = {
        e: [s for s in prefix if s.success][: config.episodes] for e, prefix in enumerate(prefixes)
    }
    if not any(kept.values()):
        raise CotrainError(
            f"no successful episode in {config.max_slots} attempts per environment: the "
            "scripted expert cannot solve these tasks",
            file=output,
        )
    frames = _finalize(output, config, envs, kept)
    yields = tuple(
        EnvYield(env.id, len(kept[e]), len(prefix), sum(s.success for s in prefix))
        for e, (env, prefix) in enumerate(zip(envs, prefixes, strict=True))
    )
    _write_provenance(output, staging, yields, kept, envs)
    staging.remove()
    return GenerationReport(
        output, yields, sum(map(len, kept.values())), frames, generated, seconds
    )


def _finalize(
    output: Path, config: GenerateConfig, envs: list[EnvTask], kept: dict[int, list[StagedEpisode]]
) -> int:
    writer = DatasetWriter(
        output,
        DatasetSpec(features.droid_features(config.image_size), features.FPS, features.ROBOT_TYPE),
    )
    for e, env in enumerate(envs):
        for episode in kept[e]:
            writer.add_episode(
                EpisodeInput(
                    task=env.instruction,
                    values=features.with_state(episode.values()),
                    videos={
                        features.image_key(camera): episode.video(camera)
                        for camera in features.CAMERAS
                    },
                    image_stats={
                        features.image_key(camera): episode.image_stats[camera]
                        for camera in features.CAMERAS
                    },
                )
            )
    return int(writer.finalize()["total_frames"])


def _write_provenance(
    output: Path,
    staging: Staging,
    yields: Iterable[EnvYield],
    kept: dict[int, list[StagedEpisode]],
    envs: list[EnvTask],
) -> None:
    plan = json.loads((staging.root / "plan.json").read_text())
    content = {
        "generator": "twinbench cotrain generate",
        "plan": plan,
        "yields": [asdict(y) | {"success_rate": y.success_rate} for y in yields],
        "episodes": [
            {"env": envs[e].id, "slot": s.slot, "variation": dict(s.variation)}
            for e in sorted(kept)
            for s in kept[e]
        ],
    }
    (output / GENERATION_FILE).write_text(json.dumps(content, indent=2) + "\n")
