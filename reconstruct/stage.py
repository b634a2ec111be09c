"""One pipeline stage: its definition, its context, content digests and atomic output folders.

Every stage writes into ``ENV_DIR/work/.<stage>.partial-<pid>/`` and the folder is renamed to
``ENV_DIR/work/<stage>/`` only once the stage has finished and written its ``summary.json``,
so an interrupted run never leaves a half-written stage behind: on an exception, Ctrl-C or
SIGTERM the partial and scratch folders are removed, and those of a run that was killed
outright (SIGKILL, the kernel's out-of-memory killer) are removed by the next run.

What a stage writes is a frozen dataclass of paths (``SplatsOutputs(splats, holdout)``, ...)
that ``stage.outputs(work_dir)`` gives; a stage reads another's files through
``ctx.input(other_stage)``, never by file name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from reconstruct.errors import ReconstructError
from twinbench.errors import disk_full_is_an_error

SUMMARY_NAME = "summary.json"

Reporter = Callable[[float, str], None]
"""Progress callback: fraction of the stage done in [0, 1], and a short note."""


def _ignore_progress(fraction: float, note: str) -> None:
    """The reporter used when nobody is watching."""


@dataclass(frozen=True)
class StageFolder:
    """The outputs of a stage that names no files of its own: its folder."""

    folder: Path


Outputs = TypeVar("Outputs")


def output_paths(outputs: object) -> dict[str, Path]:
    """The paths of a stage's outputs dataclass, by field name."""
    return {
        f.name: getattr(outputs, f.name)
        for f in dataclasses.fields(outputs)
        if isinstance(getattr(outputs, f.name), Path)
    }


def missing_outputs(outputs: object) -> dict[str, Path]:
    """The paths of ``outputs`` that do not exist, by field name."""
    return {name: path for name, path in output_paths(outputs).items() if not path.exists()}


@dataclass(frozen=True)
class StageContext:
    """What a stage may read and where it must write.

    Attributes:
        scan: the user's scan (a video file or a folder of photos).
        out_dir: an empty folder for the stage's outputs (renamed into place on success).
        scratch_dir: an empty folder for temporary files, removed after the stage.
        inputs: finished output folders of the stages this one reads, by stage name.
        report: progress callback.
    """

    scan: Path
    out_dir: Path
    scratch_dir: Path
    inputs: Mapping[str, Path]
    report: Reporter = _ignore_progress

    def input(self, stage: Stage[Outputs]) -> Outputs:
        """The outputs of ``stage``, one this stage reads; a missing one is an error naming it."""
        if stage.name not in self.inputs:
            raise ValueError(
                f"this stage reads the {stage.name} stage's outputs but does not list it in its "
                f"inputs ({', '.join(self.inputs) or 'none'})"
            )
        outputs = stage.outputs_at(self.inputs[stage.name])
        missing = missing_outputs(outputs)
        if missing:
            name, path = next(iter(missing.items()))
            raise ReconstructError(
                f"the {stage.name} stage's output '{name}' is missing; run that stage again",
                file=path,
            )
        return outputs


@dataclass(frozen=True)
class Stage(Generic[Outputs]):
    """A named step of the pipeline.

    Attributes:
        name: folder name under ``ENV_DIR/work/`` and the ``--until`` value.
        config_type: a frozen dataclass; ``config_type()`` must give the defaults.
        run: does the work, writes into ``ctx.out_dir`` and returns the summary fields
            (JSON-serialisable); raises ``ReconstructError`` on bad input.
        inputs: names of earlier stages whose outputs it reads.
        scan_digest: for stages that read the scan itself, a digest of the files they read.
        version: bump when the stage's code changes its outputs, to invalidate old caches.
        description: one line for listings and the progress display.
        outputs_at: the typed outputs (a frozen dataclass of paths) of a folder this stage
            wrote; the runner checks they exist after a run and before a skip.
        placement_files: files of its folder that depend only on where the robot base stands
            (align's top-down picture): a stage that does not read placement ignores them.
        reads_placement: whether this stage reads where the robot base stands; if not, a new
            base does not run it again (the splats do not change with the robot).
    """

    name: str
    config_type: type
    run: Callable[[StageContext, Any], dict[str, Any]]
    inputs: tuple[str, ...] = ()
    scan_digest: Callable[[Path], str] | None = None
    version: int = 1
    description: str = ""
    outputs_at: Callable[[Path], Outputs] = StageFolder
    placement_files: frozenset[str] = frozenset()
    reads_placement: bool = True

    def outputs(self, work_dir: Path) -> Outputs:
        """What this stage writes under ``work_dir/<name>``."""
        return self.outputs_at(work_dir / self.name)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON with sorted keys and a trailing newline (diff-friendly)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_summary(stage_dir: Path) -> dict[str, Any] | None:
    """A finished stage's summary, or None if the stage has not finished there."""
    path = stage_dir / SUMMARY_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def remove_tree(path: Path) -> None:
    """Remove a folder (or file) if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


LEFTOVER = re.compile(r"^\.(?P<stage>.+)\.(?:partial|old|scratch)-(?P<pid>\d+)$")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from an earlier stage of this run: never still in use
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def clear_leftovers(work_dir: Path, name: str) -> None:
    """Remove the partial, scratch or replaced folders left by interrupted runs: every one of
    stage ``name``, and those of other stages whose process no longer exists (a run killed
    outright cannot clean up after itself)."""
    if not work_dir.is_dir():
        return
    for path in work_dir.iterdir():
        match = LEFTOVER.match(path.name)
        if match and (match["stage"] == name or not _process_alive(int(match["pid"]))):
            remove_tree(path)


def _terminate_as_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    """While a stage runs, SIGTERM (``kill``, a job scheduler) exits through Python, so the
    stage's folders are removed; left alone where someone else handles SIGTERM."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _terminate_as_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def staged_output(work_dir: Path, name: str) -> Iterator[tuple[Path, Path]]:
    """Yield ``(out_dir, scratch_dir)``; on success ``out_dir`` atomically becomes ``work/<name>``.

    On any exception (KeyboardInterrupt and SIGTERM included) both folders are removed and an
    earlier ``work/<name>`` is left untouched; a full disk is one ``DiskFullError`` naming the
    file (and the stage's folders are gone, so rerunning after freeing space starts clean).
    """
    with disk_full_is_an_error(work_dir):
        yield from _staged_output(work_dir, name)


def _staged_output(work_dir: Path, name: str) -> Iterator[tuple[Path, Path]]:
    work_dir.mkdir(parents=True, exist_ok=True)
    clear_leftovers(work_dir, name)
    partial = work_dir / f".{name}.partial-{os.getpid()}"
    scratch = work_dir / f".{name}.scratch-{os.getpid()}"
    partial.mkdir()
    scratch.mkdir()
    try:
        with _cleanup_on_sigterm():
            yield partial, scratch
    except BaseException:
        remove_tree(partial)
        raise
    finally:
        remove_tree(scratch)
    final = work_dir / name
    old = work_dir / f".{name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    partial.rename(final)
    remove_tree(old)
