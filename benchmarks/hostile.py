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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.hostile_cases import CASES, Case

OUTCOMES = ("clear", "traceback", "hang", "accepted", "unclear", "handled", "unbuilt")
ERROR_PREFIX = "twinbench: error: "


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


def run_case(case: Case, root: Path, timeout_s: float) -> Result:
    folder = root / case.name.replace("/", "__")
    folder.mkdir(parents=True)
    try:
        argv = case.build(folder)
    except Exception as exc:  # a case that cannot build its input is reported, not fatal
        return Result(case, "unbuilt", f"{type(exc).__name__}: {exc}", 0.0)
    env = {**os.environ, "COLUMNS": "200", "TWINBENCH_HOSTILE": "1"}
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


def run_all(cases: list[Case], jobs: int, timeout_s: float) -> Iterator[Result]:
    with (
        tempfile.TemporaryDirectory(prefix="twinbench-hostile-") as tmp,
        ThreadPoolExecutor(jobs) as pool,
    ):
        yield from pool.map(lambda case: run_case(case, Path(tmp), timeout_s), cases)


def emit(case: str, metric: str, value: object, unit: str, **extra: object) -> None:
    line = {"bench": "hostile", "case": case, "metric": metric, "value": value, "unit": unit}
    print(json.dumps({**line, **extra}), flush=True)


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
