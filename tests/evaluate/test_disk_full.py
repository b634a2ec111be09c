"""A fault test: the run directory's filesystem fills up mid-run (a small tmpfs mounted in a
private mount namespace). The run stops with one line naming the file and saying the disk
is full, keeps every finished episode, and the same command completes once space is freed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from evaluate.video import VideoWriter
from twinbench.errors import DiskFullError, disk_full_is_an_error

ENV_ID = "primitive_cube_bowl"
ROOT = Path(__file__).resolve().parents[2]
EPISODES = 10


def _namespace_command(tmp_path: Path) -> list[str] | None:
    """``unshare`` into a private mount namespace (as root, or as a mapped user), if allowed."""
    if shutil.which("unshare") is None:
        return None
    probe = tmp_path / "probe"
    probe.mkdir()
    for command in (["unshare", "-m"], ["unshare", "-Urm"]):
        args = [*command, "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", str(probe)]
        if subprocess.run(args, capture_output=True, timeout=30).returncode == 0:
            return [*command, "--propagation", "private"]
    return None


SCRIPT = """
set -u
mount -t tmpfs -o size=600k tmpfs "$DISK"
cd "$DISK"
head -c 440000 /dev/zero > filler
EVAL=("$PY" -m twinbench_cli eval -e {env} -p scripted:good -n {n} -o run --workers 1 \\
      --video --image-size 64x48 --max-steps 5 {pool})
"${{EVAL[@]}}" > "$OUT/first.out" 2> "$OUT/first.err"; echo $? > "$OUT/first.rc"
rm filler
"$PY" -c 'import sqlite3; print(sqlite3.connect("run/results.sqlite").execute(
    "SELECT count(*) FROM episodes").fetchone()[0])' > "$OUT/kept"
"${{EVAL[@]}}" > "$OUT/second.out" 2> "$OUT/second.err"; echo $? > "$OUT/second.rc"
"$PY" -c 'import json, sqlite3; print(json.dumps(sqlite3.connect("run/results.sqlite").execute(
    "SELECT initial_condition, seed, failure_kind FROM episodes").fetchall()))' > "$OUT/episodes"
"""


@pytest.mark.slow  # ~40 s on 2 cores (Ray: ~70 s): two CLI runs with a worker and videos
@pytest.mark.parametrize("pool", ["", "--ray-address local"], ids=["processes", "ray"])
def test_disk_full_mid_run_stops_with_one_line_and_resumes(tmp_path, pool):
    unshare = _namespace_command(tmp_path)
    if unshare is None:
        pytest.skip("cannot mount a tmpfs in a private mount namespace here")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    env = {"DISK": str(disk), "OUT": str(out), "PY": sys.executable, "PYTHONPATH": str(ROOT)}
    script = textwrap.dedent(SCRIPT.format(env=ENV_ID, n=EPISODES, pool=pool))
    subprocess.run(
        [*unshare, "bash", "-c", script],
        env={**_inherited(), **env},
        check=True,
        timeout=600,
    )
    read = lambda name: (out / name).read_text()  # noqa: E731
    said = read("first.out") + read("first.err")  # the progress bar is on stderr too
    assert read("first.rc").strip() == "2", said
    errors = [line for line in said.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in said, said
    assert errors[0].startswith("twinbench: error: run/"), errors[0]
    assert all(word in errors[0] for word in ("disk", "full", "free")), errors[0]
    assert 1 <= int(read("kept")) < EPISODES  # what finished before the disk filled is kept
    assert read("second.rc").strip() == "0", read("second.out") + read("second.err")
    episodes = json.loads(read("episodes"))
    assert sorted(ic for ic, _, _ in episodes) == list(range(EPISODES))  # each once, none lost
    assert all(kind is None for _, _, kind in episodes)


def _inherited() -> dict[str, str]:
    keep = ("PATH", "HOME", "MUJOCO_GL", "PYOPENGL_PLATFORM", "MENAGERIE_ROOT", "LANG")
    return {key: os.environ[key] for key in keep if key in os.environ}


def test_out_of_space_write_is_a_disk_full_error(tmp_path):
    target = tmp_path / "x.bin"
    full = r"x\.bin: disk full \(No space left on device; "
    with pytest.raises(DiskFullError, match=full), disk_full_is_an_error(target):
        raise OSError(28, "No space left on device")
    # any other OSError is left alone
    with pytest.raises(PermissionError), disk_full_is_an_error(target):
        raise PermissionError(13, "Permission denied")


class _FullDisk:
    """A container whose every write finds the disk full."""

    def __init__(self, inner):
        self.inner = inner

    def mux(self, packet) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.inner.close()


def test_video_writer_reports_a_full_disk(tmp_path):
    writer = VideoWriter(tmp_path / "v.mp4")
    writer.add([np.zeros((16, 16, 3), np.uint8)])
    writer._container = _FullDisk(writer._container)
    with pytest.raises(DiskFullError, match=r"v\.mp4: disk full"):
        for _ in range(40):  # the encoder holds a few frames before it hands out a packet
            writer.add([np.zeros((16, 16, 3), np.uint8)])
    with pytest.raises(DiskFullError):
        writer.close()


OPEN_ON_A_FULL_DISK = """
set -u
mount -t tmpfs -o size=400k tmpfs "$DISK"
cd "$DISK"
"$PY" -c 'from evaluate.store import ResultsStore; ResultsStore.open("results.sqlite").close()'
head -c 1000000 /dev/zero > filler 2> /dev/null
"$PY" -c '
from evaluate.store import ResultsStore
from twinbench.errors import TwinbenchError
try:
    ResultsStore.open("results.sqlite").close()
except TwinbenchError as exc:
    print(exc)
'
"""


def test_a_store_opened_on_a_full_disk_says_to_free_space(tmp_path):
    """SQLite reports a full disk at open as an I/O error (WAL's shared-memory file)."""
    unshare = _namespace_command(tmp_path)
    if unshare is None:
        pytest.skip("cannot mount a tmpfs in a private mount namespace here")
    disk = tmp_path / "disk"
    disk.mkdir()
    env = {"DISK": str(disk), "PY": sys.executable, "PYTHONPATH": str(ROOT)}
    said = subprocess.run(
        [*unshare, "bash", "-c", OPEN_ON_A_FULL_DISK],
        env={**_inherited(), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert said.startswith("results.sqlite: ") and "\n" not in said, said
    assert "if it is full, free some space" in said, said
