"""The stage registry and the resumable runner: ``run_pipeline(scan, env_dir, until=...)``.

Each stage's outputs live in ``ENV_DIR/work/<stage>/`` with a ``summary.json`` that records a
key: a digest of the stage's name, version, config and the digests of what it read (the scan's
files, or the earlier stages' outputs). A stage whose key is unchanged and whose outputs
(``stage.outputs(work_dir)``) all exist is skipped, so an interrupted or re-configured run
redoes only what changed, and a folder from an older layout (e.g. ``splats/scene.ply`` before
it became ``splats/splats.ply``) is run again. To add a stage, define a ``Stage`` and its
outputs dataclass in its own module and append it to ``PIPELINE``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from reconstruct import align, bare_table, frames, mesh, objects, package, sfm, splats
from reconstruct.errors import ReconstructError
from reconstruct.stage import (
    SUMMARY_NAME,
    Reporter,
    Stage,
    StageContext,
    missing_outputs,
    read_summary,
    remove_tree,
    staged_output,
    write_json,
)
from twinbench.digests import text_digest, tree_digest

logger = logging.getLogger(__name__)

PIPELINE: tuple[Stage, ...] = (
    frames.STAGE,
    sfm.STAGE,
    align.STAGE,
    splats.STAGE,
    mesh.STAGE,
    objects.STAGE,
    bare_table.STAGE,
    package.STAGE,
)
"""The stages in the order they run."""

WORK_DIRNAME = "work"


@dataclass(frozen=True)
class StageResult:
    """What happened to one stage in a run."""

    name: str
    status: Literal["ran", "skipped"]
    out_dir: Path
    summary: dict[str, Any]
    seconds: float


def stage_names(stages: Sequence[Stage] = PIPELINE) -> list[str]:
    return [stage.name for stage in stages]


def get_stage(name: str, stages: Sequence[Stage] = PIPELINE) -> Stage:
    """The stage called ``name``; an error lists the valid names and suggests near matches."""
    for stage in stages:
        if stage.name == name:
            return stage
    names = stage_names(stages)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ReconstructError(
        f"unknown stage '{name}'; valid stages, in order: {', '.join(names)}.{hint}",
        field="until",
    )


def config_json(config: object) -> str:
    """Canonical JSON of a config dataclass (the part of a stage's key that the user controls)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)


def _check_pipeline(stages: Sequence[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.name in seen:
            raise ValueError(f"stage '{stage.name}' is registered twice")
        missing = [name for name in stage.inputs if name not in seen]
        if missing:
            raise ValueError(f"stage '{stage.name}' reads {missing}, which do not run before it")
        seen.add(stage.name)


def _resolve_configs(
    stages: Sequence[Stage], configs: Mapping[str, object] | None
) -> dict[str, object]:
    configs = dict(configs or {})
    for name in configs:
        get_stage(name, stages)
    resolved: dict[str, object] = {}
    for stage in stages:
        config = configs.get(stage.name)
        if config is None:
            config = stage.config_type()
        if not isinstance(config, stage.config_type):
            raise TypeError(
                f"config for stage '{stage.name}' must be a {stage.config_type.__name__}, "
                f"got {type(config).__name__}"
            )
        resolved[stage.name] = config
    return resolved


def _dependents(stages: Sequence[Stage], name: str, *, placement_only: bool = False) -> list[str]:
    """Stages that read ``name``'s outputs, directly or through other stages; with
    ``placement_only``, only those that read where the robot stands (and theirs)."""
    affected = {name}
    for stage in stages:
        direct = name in stage.inputs and (stage.reads_placement or not placement_only)
        if direct or (affected - {name}).intersection(stage.inputs):
            affected.add(stage.name)
    affected.discard(name)
    return [stage.name for stage in stages if stage.name in affected]


def _input_digest(stage: Stage, summary: dict[str, Any]) -> str:
    run = summary.get("run", {})
    if stage.reads_placement:
        return str(run.get("output_digest"))
    return str(run.get("digest_without_placement", run.get("output_digest")))


def _stale_after(stages: Sequence[Stage], name: str, before: dict | None, after: dict) -> list[str]:
    """The later stages a new run of ``name`` makes stale: none if its outputs are the same,
    those that read placement if only placement files changed, else all that depend on it."""
    old, new = (before or {}).get("run", {}), after["run"]
    if old.get("output_digest") == new["output_digest"]:
        return []
    placement_only = old.get("digest_without_placement") == new["digest_without_placement"]
    return _dependents(stages, name, placement_only=placement_only)


def _stage_key(stage: Stage, config: object, scan: Path, work_dir: Path) -> str:
    parts = [stage.name, str(stage.version), config_json(config)]
    if stage.scan_digest is not None:
        parts.append("scan=" + stage.scan_digest(scan))
    for name in stage.inputs:
        parts.append(f"{name}=" + _input_digest(stage, read_summary(work_dir / name) or {}))
    return text_digest(*parts)


def _run_one(
    stage: Stage, config: object, key: str, scan: Path, work_dir: Path, report: Reporter
) -> dict[str, Any]:
    started = time.monotonic()
    with staged_output(work_dir, stage.name) as (out_dir, scratch_dir):
        ctx = StageContext(
            scan=scan,
            out_dir=out_dir,
            scratch_dir=scratch_dir,
            inputs={name: work_dir / name for name in stage.inputs},
            report=report,
        )
        summary = dict(stage.run(ctx, config))
        missing = missing_outputs(stage.outputs_at(out_dir))
        if missing:
            raise RuntimeError(f"stage '{stage.name}' did not write its outputs {missing}")
        summary["run"] = {
            "stage": stage.name,
            "version": stage.version,
            "key": key,
            "config": json.loads(config_json(config)),
            "output_digest": tree_digest(out_dir, exclude=frozenset({SUMMARY_NAME})),
            "digest_without_placement": tree_digest(
                out_dir, exclude=frozenset({SUMMARY_NAME}) | stage.placement_files
            ),
            "seconds": round(time.monotonic() - started, 3),
        }
        write_json(out_dir / SUMMARY_NAME, summary)
    return summary


def run_pipeline(
    scan: Path,
    env_dir: Path,
    *,
    until: str | None = None,
    configs: Mapping[str, object] | None = None,
    show_progress: bool = True,
    stages: Sequence[Stage] = PIPELINE,
) -> list[StageResult]:
    """Run the stages in order up to and including ``until`` (default: all), skipping any
    whose inputs and config are unchanged since its last successful run.

    Args:
        scan: a video file or a folder of photos.
        env_dir: the environment package folder; stage outputs go to ``env_dir/work/<stage>``.
        until: the last stage to run.
        configs: per-stage config dataclasses by stage name (missing ones take defaults).
        show_progress: draw a rich progress display on the terminal.
        stages: the registry to run (tests pass their own).
    """
    _check_pipeline(stages)
    last = get_stage(until, stages).name if until is not None else stages[-1].name
    selected = list(stages[: stage_names(stages).index(last) + 1])
    resolved = _resolve_configs(stages, configs)
    work_dir = Path(env_dir) / WORK_DIRNAME
    scan = Path(scan)
    results: list[StageResult] = []
    with _progress_display(selected, show_progress) as reporters:
        for stage in selected:
            started = time.monotonic()
            report = reporters(stage.name)
            config = resolved[stage.name]
            key = _stage_key(stage, config, scan, work_dir)
            previous = read_summary(work_dir / stage.name)
            unchanged = previous is not None and previous.get("run", {}).get("key") == key
            missing = missing_outputs(stage.outputs(work_dir)) if unchanged else {}
            if missing:
                logger.info(
                    "stage %s: %s missing (an older layout?), running it again",
                    stage.name,
                    ", ".join(str(p) for p in missing.values()),
                )
            if unchanged and not missing:
                report(1.0, "unchanged, skipped")
                status: Literal["ran", "skipped"] = "skipped"
                summary = previous
            else:
                logger.info("stage %s: running", stage.name)
                try:
                    summary = _run_one(stage, config, key, scan, work_dir, report)
                except BaseException:
                    for name in _dependents(stages, stage.name):
                        remove_tree(work_dir / name)
                    raise
                before = None if missing else previous  # an older layout: all after it are stale
                for name in _stale_after(stages, stage.name, before, summary):
                    remove_tree(work_dir / name)
                report(1.0, "done")
                status = "ran"
            results.append(
                StageResult(
                    stage.name,
                    status,
                    work_dir / stage.name,
                    summary,
                    round(time.monotonic() - started, 3),
                )
            )
    return results


def _progress_display(
    stages: Sequence[Stage], enabled: bool
) -> AbstractContextManager[Callable[[str], Reporter]]:
    """A context giving one progress reporter per stage: rich bars on a terminal, a plain
    line per tenth of a stage elsewhere (a log of a 40-minute run shows it moving), silent
    when disabled."""
    if not enabled:
        return nullcontext(lambda name: lambda fraction, note: None)
    from rich.console import Console

    if not Console().is_terminal:
        return nullcontext(_progress_lines)
    return _RichProgress(stages)


LINE_EVERY = 0.1  # a plain progress line each time a stage passes another tenth


def _progress_lines(name: str) -> Reporter:
    """A reporter printing ``stage  NN% note`` whenever ``name`` passes the next tenth."""
    printed = [-1]

    def report(fraction: float, note: str) -> None:
        tenth = int(min(max(fraction, 0.0), 1.0) / LINE_EVERY + 1e-9)
        if tenth > printed[0] and fraction < 1.0:
            printed[0] = tenth
            print(f"{name:<8} {round(100 * tenth * LINE_EVERY):>3}% {note}", flush=True)

    return report


class _RichProgress(AbstractContextManager):
    """One rich progress bar per stage, with the stage's latest note."""

    def __init__(self, stages: Sequence[Stage]):
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[stage]:<8}[/bold] {task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        self._tasks = {
            stage.name: self._progress.add_task(
                stage.description, total=1.0, stage=stage.name, start=False
            )
            for stage in stages
        }

    def __enter__(self) -> Callable[[str], Reporter]:
        self._progress.__enter__()
        return self._reporter

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(*exc_info)

    def _reporter(self, name: str) -> Reporter:
        task = self._tasks[name]
        self._progress.start_task(task)

        def report(fraction: float, note: str) -> None:
            self._progress.update(task, completed=min(max(fraction, 0.0), 1.0), description=note)

        return report
