"""The child-process runner SfM uses: results, errors, memory and time limits, signals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.isolated import ChildFailed, Limits, run_child

JOBS = """
import os, signal, time
import numpy as np
from reconstruct.errors import ReconstructError

def echo(request, report):
    report(0.5, "halfway")
    block = np.ones(request["mb"] << 18, np.float32)  # touched: resident
    oom = open("/proc/self/oom_score_adj").read().strip()
    return {"sum": float(block.sum()), "got": request["value"], "oom": int(oom)}

def refuse(request, report):
    raise ReconstructError("no overlap between views", file="/scan", field="frames")

def hog(request, report):
    report(0.1, "allocating")
    blocks = []
    while True:
        blocks.append(np.ones(64 << 18, np.float32))
        time.sleep(0.02)

def sleep(request, report):
    report(0.1, "sleeping")
    time.sleep(60)

def die(request, report):
    report(0.3, "matching")
    os.kill(os.getpid(), signal.SIGKILL)

def bug(request, report):
    return {}["missing"]

def no_memory(request, report):
    raise MemoryError("std::bad_alloc")
"""

ROOMY = Limits(memory_bytes=8 << 30, seconds=60)


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module of test jobs the child can import (``testjobs:<name>``)."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "testjobs.py").write_text(JOBS)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    )
    return tmp_path / "child.log"


def test_result_progress_and_peak_memory(jobs: Path) -> None:
    notes: list[tuple[float, str]] = []
    done = run_child(
        "testjobs:echo",
        {"mb": 64, "value": [1, "a"]},
        limits=ROOMY,
        report=lambda f, n: notes.append((f, n)),
        log=jobs,
    )
    assert done.result["sum"] == float(64 << 18) and done.result["got"] == [1, "a"]
    assert done.result["oom"] >= 500  # the out-of-memory killer takes the child first
    assert notes == [(0.5, "halfway")]
    assert 64 << 20 < done.peak_bytes < 2 << 30  # the block, numpy and the interpreter


def test_a_user_error_comes_back_as_is(jobs: Path) -> None:
    with pytest.raises(ReconstructError, match="no overlap") as info:
        run_child("testjobs:refuse", {}, limits=ROOMY, report=lambda f, n: None, log=jobs)
    assert info.value.file == "/scan" and info.value.field == "frames"


@pytest.mark.parametrize(
    ("job", "limits", "kind", "note", "detail"),
    [
        ("hog", Limits(300 << 20, 60), "memory", "allocating", "passed the limit of 0.3 GB"),
        ("sleep", Limits(8 << 30, 1.0), "time", "sleeping", "still running after 1 s"),
        ("die", ROOMY, "killed", "matching", "SIGKILL"),
        ("bug", ROOMY, "crashed", "start-up", "KeyError: 'missing'"),
        ("no_memory", ROOMY, "out_of_memory", "start-up", "bad_alloc"),
    ],
)
def test_failures_say_what_happened_and_where(
    jobs: Path, job: str, limits: Limits, kind: str, note: str, detail: str
) -> None:
    with pytest.raises(ChildFailed) as info:
        run_child(f"testjobs:{job}", {}, limits=limits, report=lambda f, n: None, log=jobs)
    assert info.value.kind == kind and info.value.note == note
    assert detail in info.value.detail
    if kind == "memory":
        assert info.value.peak_bytes >= 300 << 20


def test_an_interrupt_in_the_parent_stops_the_child(jobs: Path) -> None:
    pids: list[int] = []

    def interrupt(fraction: float, note: str) -> None:
        pids.extend(int(p.name) for p in Path("/proc").iterdir() if _child_of(p, os.getpid()))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_child("testjobs:sleep", {}, limits=ROOMY, report=interrupt, log=jobs)
    assert len(pids) == 1 and not _alive(pids[0])


def _child_of(proc: Path, parent: int) -> bool:
    """``proc`` (a /proc entry) is a test job run by process ``parent``."""
    try:
        status = (proc / "status").read_text()
        cmdline = (proc / "cmdline").read_text()
    except OSError:
        return False
    ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
    return ppid == str(parent) and "testjobs" in cmdline


def test_the_child_dies_with_its_parent(jobs: Path) -> None:
    package = Path(__file__).resolve().parents[2] / "reconstruct"
    script = (
        "import sys, types; from pathlib import Path; m = types.ModuleType('reconstruct'); "
        f"m.__path__ = [{str(package)!r}]; sys.modules['reconstruct'] = m; "
        "from reconstruct.isolated import Limits, run_child; "
        "run_child('testjobs:sleep', {}, limits=Limits(8 << 30, 60), "
        f"report=lambda f, n: print(n, flush=True), log=Path({str(jobs)!r}))"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "sleeping"
        [child] = [int(p.name) for p in Path("/proc").iterdir() if _child_of(p, parent.pid)]
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_peak_memory_is_the_childs_not_its_parents(jobs: Path) -> None:
    """Linux keeps ru_maxrss across execve: a child of a large parent reported the parent's
    peak (2.4 GB from a test worker holding torch, for a job of 100 MB)."""
    parent_block = np.ones(768 << 20, np.uint8)  # resident in this process
    done = run_child(
        "testjobs:echo", {"mb": 64, "value": 0}, limits=ROOMY, report=lambda f, n: None, log=jobs
    )
    assert parent_block.sum() == 768 << 20
    assert 64 << 20 < done.peak_bytes < 512 << 20
