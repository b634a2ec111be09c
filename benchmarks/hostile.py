"""The hostile-input table (issue 22): bad inputs fed to the real commands, each classified.

Run ``python -m benchmarks.hostile [--only GROUP] [--jobs N] [--timeout S]`` (or
``twinbench bench hostile``). Every case writes its inputs into a fresh folder, runs one
``twinbench`` command (or, for what has no command, a few lines of Python calling the entry
point a front end uses) in a subprocess with a timeout, and is classified:

- ``clear``: non-zero exit, the last line of stderr is the one ``twinbench: error: ...`` line;
- ``traceback``: a Python traceback anywhere in the output;
- ``hang``: still running at the timeout;
- ``accepted``: exit 0 on input that should have been refused (for a case that should
  succeed, exit 0 is ``handled``);
- ``unclear``: any other failure (killed by a signal, an error without the one line);
- ``unbuilt``: the case could not write its input (a harness problem, reported).

One JSON line per case (``metric`` outcome, ``value`` the class, ``detail`` the last line),
then one per class with the counts (``case`` all), as the other benchmarks print.

``make test`` runs the same cases as rows (``tests/test_hostile_*.py``), most of them in-process
(``run_in_process``: one interpreter start per test file instead of one per case) and the ones
marked ``isolate`` through ``run_case``; both are judged by ``classify``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import runpy
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks import figures
from benchmarks.hostile_table import CASES, Case

OUTCOMES = ("clear", "traceback", "hang", "accepted", "unclear", "handled", "unbuilt")
ERROR_PREFIX = "twinbench: error: "
CASE_ENVIRONMENT = {"COLUMNS": "200", "TWINBENCH_HOSTILE": "1"}


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    detail: str
    seconds: float


def classify(case: Case, returncode: int | None, out: str, err: str) -> tuple[str, str]:
    """The outcome class of one run and the line that shows it."""
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    last = lines[-1] if lines else (out.strip().splitlines() or [""])[-1]
    if returncode is None:
        return "hang", last
    if "Traceback (most recent call last)" in out + err:
        return "traceback", next((x for x in reversed(lines) if "Error" in x), last)
    if returncode == 0:
        return ("handled" if case.expect == "ok" else "accepted"), last
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if len(errors) == 1 and last == errors[0]:
        return ("clear" if case.expect == "error" else "unclear"), last
    return "unclear", f"exit {returncode}: {last}"


def _build(case: Case, root: Path) -> tuple[Path, list[str]] | Result:
    """The case's folder and ``python`` arguments, or its ``unbuilt`` result."""
    folder = root / case.name.replace("/", "__")
    folder.mkdir(parents=True)
    try:
        return folder, case.build(folder)
    except Exception as exc:  # a case that cannot build its input is reported, not fatal
        return Result(case, "unbuilt", f"{type(exc).__name__}: {exc}", 0.0)


def run_case(case: Case, root: Path, timeout_s: float) -> Result:
    """Run one case as a user would: ``python ARGV`` in a subprocess, killed at the timeout."""
    built = _build(case, root)
    if isinstance(built, Result):
        return built
    folder, argv = built
    env = {**os.environ, **CASE_ENVIRONMENT}
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, *argv],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout_s)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        out, err = process.communicate()
        code = None
    outcome, detail = classify(case, code, out, err)
    return Result(case, outcome, detail[:300], time.monotonic() - start)


def run_in_process(case: Case, root: Path) -> Result:
    """``run_case`` without the subprocess: the case's ``python ARGV`` run in this process.

    ``-m MODULE`` runs as ``runpy`` runs it for ``python -m``, ``-c CODE`` is executed as
    ``python -c`` would, in the case's folder with its ``sys.argv``; what it writes to the
    standard streams (file descriptors 1 and 2 included, so C libraries and child processes are
    heard) is caught, an exception that escapes becomes the traceback Python would print, and
    ``SystemExit`` its exit status. The result is classified by the same ``classify``. For
    cases that may hang, grow without bound or die of a signal, ``run_case`` isolates them.
    Not thread-safe (it sets the working directory, ``sys.argv`` and the streams): one case at
    a time, as ``tests/hostile_rows.py`` runs them.
    """
    built = _build(case, root)
    if isinstance(built, Result):
        return built
    folder, argv = built
    start = time.monotonic()
    with _captured() as (out, err), _as_python(argv, folder):
        code = _exit_status(argv)
    outcome, detail = classify(case, code, out.getvalue(), err.getvalue())
    return Result(case, outcome, detail[:300], time.monotonic() - start)


def _exit_status(argv: list[str]) -> int:
    """Run ``python ARGV``'s program here; its exit status as the interpreter would give it."""
    try:
        if argv[0] == "-m":
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0] == "-c":
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            raise ValueError(f"a case runs 'python -m' or 'python -c', not {argv[:1]}")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:  # printed as the interpreter would, then classified
        traceback.print_exc()
        return 1
    return 0  # KeyboardInterrupt and a test's timeout pass through to the caller


@contextlib.contextmanager
def _as_python(argv: list[str], folder: Path) -> Iterator[None]:
    """``sys.argv``, the working directory, ``sys.path[0]`` and the environment of a case."""
    saved_argv, saved_path, saved_cwd = sys.argv[:], sys.path[:], os.getcwd()
    saved_env = dict(os.environ)
    sys.argv = ["-c", *argv[2:]] if argv[0] == "-c" else [argv[1], *argv[2:]]
    sys.path.insert(0, str(folder))  # as python -c / -m put the working directory first
    os.environ.update(CASE_ENVIRONMENT)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.environ.clear()
        os.environ.update(saved_env)


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Standard output and error as a subprocess's would be: fds 1 and 2 go to files, and
    Python's streams write through to them, so C libraries and child processes are heard and
    every line keeps its place."""
    out, err = io.StringIO(), io.StringIO()
    saved_streams = sys.stdout, sys.stderr
    for stream in saved_streams:
        stream.flush()
    saved_fds = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as fd_out, tempfile.TemporaryFile() as fd_err:
        os.dup2(fd_out.fileno(), 1)
        os.dup2(fd_err.fileno(), 2)
        sys.stdout, sys.stderr = (
            io.TextIOWrapper(
                open(fd, "wb", closefd=False),  # noqa: SIM115 - the fd outlives the wrapper
                encoding="utf-8",
                errors=errors,
                write_through=True,
            )
            for fd, errors in ((1, "strict"), (2, "backslashreplace"))
        )
        try:
            yield out, err
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            for fd in saved_fds:
                os.close(fd)
            for raw, text in ((fd_out, out), (fd_err, err)):
                raw.seek(0)
                text.write(raw.read().decode(errors="replace"))


def run_all(cases: list[Case], jobs: int, timeout_s: float) -> Iterator[Result]:
    with (
        tempfile.TemporaryDirectory(prefix="twinbench-hostile-") as tmp,
        ThreadPoolExecutor(jobs) as pool,
    ):
        yield from pool.map(lambda case: run_case(case, Path(tmp), timeout_s), cases)


emit = partial(figures.emit, "hostile", digits=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", help="run only cases whose names start with these, comma-separated"
    )
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per case")
    args = parser.parse_args(argv)
    prefixes = tuple(args.only.split(",")) if args.only else ("",)
    cases = [c for c in CASES if c.name.startswith(prefixes)]
    counts: Counter[str] = Counter()
    on_stderr: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    for done, result in enumerate(run_all(cases, args.jobs, args.timeout), 1):
        counts[result.outcome] += 1
        emit(
            result.case.name,
            "outcome",
            result.outcome,
            "class",
            detail=result.detail,
            seconds=round(result.seconds, 1),
        )
        on_stderr(f"[{done}/{len(cases)}] {result.outcome:9} {result.case.name}")
    for outcome in OUTCOMES:
        emit("all", outcome, counts[outcome], "inputs")
    emit("all", "total", len(cases), "inputs")


if __name__ == "__main__":
    main()
