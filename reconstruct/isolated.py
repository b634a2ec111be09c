"""Run a heavy step (structure from motion) in a child process, its memory watched and bounded.

The parent starts a Python child that imports ``MODULE`` and serves ``FUNCTION``, sends the request as
JSON on the child's stdin and reads JSON lines back: progress, then the result or a
``ReconstructError``. Meanwhile it samples the child's resident memory and its peak (Linux
``/proc``) and kills it past a memory or time limit, so a step that would exhaust the machine
ends in an error that says what to change, instead of the kernel killing the whole run
silently and leaving half-written folders behind. The child also dies with its parent.

The job is ``function(request: dict, report: Reporter) -> dict`` (JSON in, JSON out).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from reconstruct.errors import ReconstructError
from reconstruct.stage import Reporter

POLL_S = 0.2  # how often the parent samples the child's memory
KILL_WAIT_S = 10.0  # how long a terminated child has to exit before SIGKILL
LOG_TAIL_LINES = 12
PARENT_ENV = "RECONSTRUCT_ISOLATED_PARENT"
OOM_SCORE_ADJ = 500  # raising one's own score needs no privilege
# The child registers ``reconstruct`` as a bare package (its __init__ imports every stage,
# torch included: 3.8 s and 330 MB that the measured step does not need) before the job.
CHILD_MAIN = (
    "import sys, types; package = types.ModuleType('reconstruct'); "
    "package.__path__ = [sys.argv[1]]; sys.modules['reconstruct'] = package; "
    "from reconstruct.isolated import main; main(sys.argv[2:])"
)
Job = Callable[[dict[str, Any], Reporter], dict[str, Any]]


@dataclass(frozen=True)
class Limits:
    """When the parent stops the child: resident memory (bytes) or wall time (s)."""

    memory_bytes: int
    seconds: float


@dataclass(frozen=True)
class ChildResult:
    """A finished job: what it returned and the child's peak resident memory (bytes)."""

    result: dict[str, Any]
    peak_bytes: int


class ChildFailed(Exception):
    """The child did not return a result.

    Attributes:
        kind: "memory" (over the limit, killed by us), "time" (over the time limit),
            "killed" (SIGKILL from elsewhere: the kernel's out-of-memory killer),
            "out_of_memory" (an allocation failed inside the child), "crashed" (an exception,
            with its traceback in ``detail``, or another signal: a bug).
        note: the last progress note the child sent (where it was).
        peak_bytes: the child's peak resident memory as far as it was seen.
        detail: the signal or exit status, the limit, and the end of the child's log.
    """

    def __init__(
        self,
        kind: Literal["memory", "time", "killed", "out_of_memory", "crashed"],
        note: str,
        peak_bytes: int,
        detail: str,
    ):
        self.kind, self.note, self.peak_bytes, self.detail = kind, note, peak_bytes, detail
        super().__init__(f"{kind} during {note}: {detail}")


def _proc_memory(pid: int) -> tuple[int, int]:
    """``(resident, peak resident)`` bytes of a live process (0, 0 where /proc cannot say)."""
    values = {"VmRSS:": 0, "VmHWM:": 0}
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in values:
                values[key] = int(line.split()[1]) * 1024
    return values["VmRSS:"], values["VmHWM:"]


def own_peak_bytes() -> int:
    """This process's peak resident memory so far (bytes).

    Linux's ``ru_maxrss`` survives ``execve``: a child started from a large parent (a test
    worker holding torch) would report the parent's peak. The address space's own high-water
    mark (``VmHWM``, reset by ``execve``) is the child's; ``ru_maxrss`` only where /proc is not.
    """
    _, hwm = _proc_memory(os.getpid())
    if hwm:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _reader(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _log_tail(log: Path) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-LOG_TAIL_LINES:])


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _child_env() -> dict[str, str]:
    """The parent's environment, with the folder holding ``reconstruct`` importable and the
    parent's pid (the child checks it is still there)."""
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env[PARENT_ENV] = str(os.getpid())
    return env


def run_child(
    job: str, request: dict[str, Any], *, limits: Limits, report: Reporter, log: Path
) -> ChildResult:
    """Run ``job`` ("module:function") on ``request`` in a child process.

    The child's stderr (pycolmap's log) goes to ``log``. Raises the child's
    ``ReconstructError`` as is, ``ChildFailed`` when it returned nothing; on any exception
    in the parent (KeyboardInterrupt included) the child is stopped first.
    """
    argv = [sys.executable, "-c", CHILD_MAIN, str(Path(__file__).resolve().parent), job]
    lines: queue.Queue[str | None] = queue.Queue()
    note, peak, outcome = "start-up", 0, None
    started = time.monotonic()
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=_child_env(),
        )
        try:
            if proc.stdin is None or proc.stdout is None:
                raise RuntimeError("the child's pipes were not opened")
            threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
            proc.stdin.write(json.dumps(request))
            proc.stdin.close()
            while True:
                try:
                    line = lines.get(timeout=POLL_S)
                except queue.Empty:
                    line = ""
                rss, hwm = _proc_memory(proc.pid)
                peak = max(peak, hwm, rss)
                if line is None:
                    break
                if line.strip():
                    message = json.loads(line)
                    if "progress" in message:
                        note = message["note"]
                        report(float(message["progress"]), note)
                    else:
                        outcome = message
                        peak = max(peak, int(message.get("peak_bytes", 0)))
                if rss > limits.memory_bytes:
                    _stop(proc)
                    raise ChildFailed(
                        "memory",
                        note,
                        peak,
                        f"resident memory {rss / (1 << 30):.1f} GB passed the limit of "
                        f"{limits.memory_bytes / (1 << 30):.1f} GB",
                    )
                if time.monotonic() - started > limits.seconds:
                    _stop(proc)
                    raise ChildFailed(
                        "time", note, peak, f"still running after {limits.seconds:.0f} s"
                    )
            try:
                code = proc.wait(timeout=KILL_WAIT_S)
            except subprocess.TimeoutExpired:  # closed its output but hangs on exit
                _stop(proc)
                code = proc.returncode
        except BaseException:
            _stop(proc)
            raise
    return _outcome(outcome, code, note, peak, log)


def _outcome(
    outcome: dict[str, Any] | None, code: int, note: str, peak: int, log: Path
) -> ChildResult:
    if outcome is not None and "result" in outcome:
        return ChildResult(outcome["result"], peak)
    if outcome is not None and "error" in outcome:
        raise ReconstructError(
            outcome["error"], file=outcome.get("file"), field=outcome.get("field")
        )
    if outcome is not None and outcome.get("out_of_memory"):
        raise ChildFailed("out_of_memory", note, peak, outcome.get("detail", ""))
    if outcome is not None and "exception" in outcome:
        raise ChildFailed("crashed", note, peak, outcome["exception"])
    tail = _log_tail(log)
    if code == -signal.SIGKILL:
        raise ChildFailed("killed", note, peak, f"killed by SIGKILL; log: {tail}")
    status = f"exit status {code}"
    if code < 0:
        with contextlib.suppress(ValueError):
            status = f"killed by {signal.Signals(-code).name}"
    raise ChildFailed("crashed", note, peak, f"{status}; log: {tail}")


@contextlib.contextmanager
def _protocol_stream() -> Iterator[IO[str]]:
    """A private copy of stdout for the JSON lines; fd 1 then points at stderr, so whatever a
    library prints cannot corrupt the protocol."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        yield out
    finally:
        out.close()


def _die_with_parent() -> None:
    """Linux: receive SIGKILL when the parent exits, so no orphan keeps computing; and be the
    first the kernel's out-of-memory killer picks, so the parent lives to report it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text(str(OOM_SCORE_ADJ))
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and os.getppid() != int(parent):  # the parent died before prctl
        os._exit(1)


def serve(job: Job) -> None:
    """The child's side: read the request, run ``job``, write its result or error."""
    _die_with_parent()
    request = json.loads(sys.stdin.read())
    with _protocol_stream() as out:

        def send(message: dict[str, Any]) -> None:
            out.write(json.dumps(message) + "\n")
            out.flush()

        def report(fraction: float, note: str) -> None:
            send({"progress": fraction, "note": note})

        try:
            result = job(request, report)
        except ReconstructError as exc:
            send({"error": exc.message, "file": exc.file, "field": exc.field})
            return
        except MemoryError as exc:
            send({"out_of_memory": True, "detail": str(exc), "peak_bytes": own_peak_bytes()})
            return
        except Exception as exc:  # a bug: its traceback goes back to the parent
            send({"exception": "".join(traceback.format_exception(exc))})
            return
        send({"result": result, "peak_bytes": own_peak_bytes()})


def main(argv: list[str]) -> None:
    module, _, name = argv[0].partition(":")
    serve(getattr(importlib.import_module(module), name))
