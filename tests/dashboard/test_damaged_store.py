"""Issue 22: a damaged or edited results store is one clear error wherever it is read.

One row per damage, each applied to a copy of a store a real ``twinbench eval`` wrote. Each
is checked through ``correlate``, ``eval`` resuming into it, ``worker`` where the job queue
meets it, and every dashboard page: the CLI prints one ``twinbench: error:`` line naming the
file and exits 2; a page that reads the damaged part shows the message, and no page raises
a Streamlit exception.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard.settings import STORE_ENV_VAR
from evaluate.store import ResultsStore
from twinbench_cli import app, main

ENV = "primitive_cube_bowl"
EVAL_ARGS = ["eval", "--env", ENV, "-p", "scripted", "-n", "2", "--workers", "0"]
EVAL_ARGS += ["--max-steps", "2"]
RESULT_PAGES = ("leaderboard", "sim_real", "episodes")
PAGES = (*RESULT_PAGES, "environments", "submit")
DAMAGED = "the file is damaged"
EDITED = "the file was changed outside twinbench; restore it from a copy"


def _sql(*statements: str) -> Callable[[Path], None]:
    """Edit the store as a SQLite shell would, its CHECK constraints switched off."""

    def edit(path: Path) -> None:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return edit


def _garbage_pages(path: Path) -> None:
    """Overwrite the middle third of the file's pages (the episodes table and its indexes)."""
    data = bytearray(path.read_bytes())
    page = 4096
    pages = len(data) // page
    first, last = pages // 3, 2 * pages // 3
    noise = bytes((i * 7 + 13) % 251 for i in range(page))
    for number in range(first, last + 1):
        data[number * page : (number + 1) * page] = noise
    path.write_bytes(bytes(data))


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@dataclass(frozen=True)
class Damage:
    make: Callable[[Path], None]
    message: str  # in the one error line, after the file's name
    eval: bool = True  # eval resuming into the store meets it (an empty file is a new store)
    worker: bool = False  # the job queue meets it (at open)
    correlate_run: bool = False  # correlate reads runs only with --run
    pages: tuple[str, ...] = PAGES  # the pages that read what is damaged


DAMAGES = {
    "garbage pages": Damage(_garbage_pages, DAMAGED),
    "no episodes table": Damage(
        _sql("DROP TABLE episodes"), f"table episodes: no such table.*{EDITED}", worker=True
    ),
    "dropped column": Damage(
        _sql("ALTER TABLE episodes DROP COLUMN progress"),
        f"table episodes: no column.*progress; {EDITED}",
        worker=True,
    ),
    "bad runs.config": Damage(
        _sql("UPDATE runs SET config = '{\"label\": '"),
        f"table runs, run_id '.*', column config: expected a JSON object.*{EDITED}",
        correlate_run=True,
        pages=RESULT_PAGES,  # the environments and submit pages read no run
    ),
    "bad criteria": Damage(
        _sql("UPDATE episodes SET criteria = '{\"grasp\": 3' WHERE episode_id = 2"),
        f"table episodes, episode_id 2, column criteria: expected a JSON object.*{EDITED}",
    ),
    "progress 'abc'": Damage(
        _sql("UPDATE episodes SET progress = 'abc' WHERE episode_id = 2"),
        "episode_id 2, column progress: expected a number in \\[0, 1\\], got 'abc'",
    ),
    "success 7": Damage(
        _sql("UPDATE episodes SET success = 7"),
        "episode_id 1, column success: expected 0 or 1, got 7",
    ),
    "negative length": Damage(
        _sql("UPDATE episodes SET length_steps = -5 WHERE episode_id = 2"),
        "episode_id 2, column length_steps: expected an integer >= 0, got -5",
    ),
    "a directory": Damage(_directory, "is a directory", worker=True),
    "0-byte file": Damage(_empty, "an empty file", eval=False),
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory written by a real ``twinbench eval`` (2 episodes) and a queued job."""
    out = tmp_path_factory.mktemp("evaluated") / "run"
    result = CliRunner().invoke(app, [*EVAL_ARGS, "-o", str(out)])
    assert result.exit_code == 0, result.output
    with ResultsStore.open(out / "results.sqlite") as store:
        store.submit_job("scripted", [ENV], 1)
    (out / "real.csv").write_text(f"policy,env,success\nscripted,{ENV},1\n")
    return out


@pytest.fixture(params=list(DAMAGES))
def damaged(request: pytest.FixtureRequest, evaluated: Path, tmp_path: Path):
    """(run directory holding a damaged copy of the store, the damage, the run's id)."""
    run_dir = tmp_path / "run"
    shutil.copytree(evaluated, run_dir)
    with ResultsStore.open(run_dir / "results.sqlite", read_only=True) as store:
        run_id = store.runs()[0].run_id
    damage = DAMAGES[request.param]
    damage.make(run_dir / "results.sqlite")
    return run_dir, damage, run_id


def _one_error_line(
    args: list[str], capsys: pytest.CaptureFixture[str], file: Path, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    errors = [line for line in err.splitlines() if line.startswith("twinbench: error: ")]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1], err
    assert info.value.code == 2, err
    assert errors[0].startswith(f"twinbench: error: {file}"), errors[0]
    assert re.search(message, errors[0]), errors[0]


def test_the_cli_prints_one_line(damaged, capsys: pytest.CaptureFixture[str]):
    run_dir, damage, run_id = damaged
    store = run_dir / "results.sqlite"
    real = run_dir / "real.csv"
    args = ["correlate", "--sim", str(run_dir), "--real", str(real), "-o", str(run_dir / "rep")]
    args += ["--run", run_id] if damage.correlate_run else []
    _one_error_line(args, capsys, store, damage.message)
    assert not (run_dir / "rep").exists()  # nothing written
    if damage.eval:
        _one_error_line([*EVAL_ARGS, "-o", str(run_dir)], capsys, store, damage.message)
    if damage.worker:
        _one_error_line(["worker", "--store", str(store), "--once"], capsys, store, damage.message)


def _shown(page: AppTest) -> list[str]:
    return [element.value for kind in ("error", "warning") for element in getattr(page, kind)]


def test_every_page_shows_the_message(damaged, monkeypatch: pytest.MonkeyPatch):
    run_dir, damage, _ = damaged
    store = run_dir / "results.sqlite"
    monkeypatch.setenv(STORE_ENV_VAR, str(store))
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(run_dir / "no-envs"))
    for view in PAGES:
        page = AppTest.from_file(str(Path(__file__).parents[2] / "dashboard" / "app.py"))
        page.switch_page(f"views/{view}.py").run(timeout=60)
        assert not page.exception, (view, [e.message for e in page.exception])
        shown = [text for text in _shown(page) if str(store) in text]
        assert bool(shown) == (view in damage.pages), (view, _shown(page))
        assert all(re.search(damage.message, text) for text in shown), (view, shown)
