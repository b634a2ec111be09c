"""Terminal output of runs: a rich progress bar fed by a run's callbacks, and the summary
table printed from the store at the end (so a resumed run shows every episode)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evaluate.errors import EvaluateError
from evaluate.policies import public_spec
from evaluate.run.evaluation import Execution, run_evaluation
from evaluate.run.plan import EvalConfig
from evaluate.run.summary import summarize, summary_table
from evaluate.run.worker import TaskOutcome
from evaluate.store import ResultsStore, StoreLocation


def progress_bar(console: Console | None = None) -> Progress:
    """A bar with counts and times, on stderr unless ``console`` says otherwise."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )


class ProgressTask:
    """One bar of a :func:`progress_bar`; pass ``start`` and ``outcome`` to a run."""

    def __init__(self, progress: Progress, label: str):
        self.progress, self.label = progress, label
        self.task = progress.add_task(label, total=None)
        self.successes = self.failures = self.finished = self.excluded = 0

    def start(self, planned: int, done: int) -> None:
        if done:
            self.progress.console.print(
                f"{self.label}: resuming, {done}/{planned} episodes already recorded"
            )
        self.progress.update(self.task, total=planned - done)

    def outcome(self, outcome: TaskOutcome) -> None:
        """Count one reported episode: it succeeded, failed, or does not count (diverged,
        infrastructure error)."""
        if outcome.record is None:
            return
        episode = outcome.record.outcome
        if episode.counts:
            self.finished += 1
            self.successes += episode.success
            self.failures += episode.failure_kind is not None
        else:
            self.excluded += 1
        failed = f", {self.failures} failed" if self.failures else ""
        excluded = f", {self.excluded} diverged or errored" if self.excluded else ""
        self.progress.update(
            self.task,
            advance=1,
            description=f"{self.label}: {self.successes}/{self.finished} succeeded{failed}{excluded}",
        )


def run_with_progress(
    config: EvalConfig,
    run_dir: Path,
    execution: Execution,
    console: Console,
    label: str = "eval",
    store: StoreLocation | str | None = None,
) -> str:
    """Run with a progress bar and print the summary table; return the run id.

    Raises:
        EvaluateError: after the table, if some (policy, env) could not be set up.
    """
    with progress_bar() as progress:
        task = ProgressTask(progress, label)
        result = run_evaluation(
            config, run_dir, execution, store=store, on_start=task.start, on_outcome=task.outcome
        )
    with ResultsStore.open(result.store) as store:
        policies = [public_spec(spec) for spec in config.policies]
        frame = summarize(store, result.run_id, policies, config.envs)
    console.print(summary_table(frame, title=f"{label}: run {result.run_id}"))
    for info in result.envs.values():
        console.print(
            f"environment {info.env_id}: {info.root} ({info.content_hash[:12]})", soft_wrap=True
        )
    console.print(f"results: {result.store}")
    if result.report.setup_errors:
        raise EvaluateError(
            "some policies or environments could not be set up (their episodes were not run; "
            "re-run to resume): " + "; ".join(result.report.setup_errors)
        )
    return result.run_id
