"""What differs on a PostgreSQL store: a URL for a location, passwords never shown, read-only
sessions, one-line errors for a server that is not there, a store opened read-only that an
older twinbench wrote (the store tests shared with SQLite are in test_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluate.errors import EvaluateError
from evaluate.store import ResultsStore
from evaluate.store.location import PostgresURL, files_dir, redact, store_location
from tests.store_backends import edit_store

SECRET = "s3cret-pw"


def _with_password(url: str) -> str:
    return url.replace("twinbench@", f"twinbench:{SECRET}@", 1)


def test_a_url_is_a_postgres_location_shown_without_its_password(postgres_url: str):
    location = store_location(_with_password(postgres_url))
    assert isinstance(location, PostgresURL) and SECRET in location.conninfo()
    assert str(location) == postgres_url and SECRET not in repr(location)
    assert store_location("runs/x/results.sqlite") == Path("runs/x/results.sqlite")
    query = store_location(f"{postgres_url}?password={SECRET}&sslmode=disable")
    assert SECRET not in str(query) and "sslmode=disable" in str(query)
    assert redact(f"failed for postgresql://u:{SECRET}@h/db") == "failed for postgresql://u@h/db"
    assert files_dir(location) == Path("twinbench-results").absolute()
    with pytest.raises(EvaluateError, match="names no database"):
        store_location("postgresql://twinbench@127.0.0.1:5432")


def test_the_password_reaches_no_message(postgres_url: str):
    with ResultsStore.open(_with_password(postgres_url)) as store:
        store.add_run({}, run_id="r")
        with pytest.raises(EvaluateError) as info:
            store.run("missing")
    assert SECRET not in str(info.value) and info.value.file == postgres_url
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    unreachable = _with_password(postgres_url).replace(f":{port}/", ":1/")
    with pytest.raises(EvaluateError, match="cannot connect to the PostgreSQL server") as info:
        ResultsStore.open(unreachable)
    assert SECRET not in str(info.value) and "\n" not in str(info.value)


def test_a_database_that_does_not_exist_is_named_as_such(postgres_url: str):
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(EvaluateError, match=r"no such database .*createdb") as info:
        ResultsStore.open(missing)
    assert info.value.file == missing


def test_a_read_only_open_cannot_write(postgres_url: str):
    ResultsStore.open(postgres_url).close()
    with ResultsStore.open(postgres_url, read_only=True) as store:
        assert store.runs() == []
        with pytest.raises(EvaluateError, match="cannot write to the store") as info:
            store.add_run({}, run_id="r")
    assert info.value.field == "table runs"


def test_an_empty_database_is_no_store_unless_created(postgres_url: str):
    with pytest.raises(EvaluateError, match="no results store here"):
        ResultsStore.open(postgres_url, create=False)
    with pytest.raises(EvaluateError, match="not a twinbench results store"):
        ResultsStore.open(postgres_url, read_only=True)


def test_an_older_store_read_only_says_to_migrate_it_first(postgres_url: str):
    ResultsStore.open(postgres_url).close()
    edit_store(
        postgres_url,
        "ALTER TABLE episodes DROP COLUMN failure_kind",
        "UPDATE schema_version SET version = 1",
        checked=True,
    )
    with pytest.raises(EvaluateError, match="open it once for writing"):
        ResultsStore.open(postgres_url, read_only=True)
    ResultsStore.open(postgres_url).close()  # a writable open migrates it
    with ResultsStore.open(postgres_url, read_only=True) as store:
        assert store.runs() == []


def test_without_postgres_binaries_its_cases_skip_or_in_ci_fail(monkeypatch, tmp_path):
    from evaluate.store.throwaway import start_cluster
    from tests.store_backends import REQUIRE_ENV, cluster_or_skip

    monkeypatch.setenv("TWINBENCH_PG_BIN", str(tmp_path))  # holds no initdb
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="initdb/pg_ctl not found"), cluster_or_skip():
        pass
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV} is set"), cluster_or_skip():
        pass
    with pytest.raises(EvaluateError, match="apt-get install postgresql"):
        start_cluster(tmp_path)


def test_correlate_reads_a_postgres_store_and_records_no_password(postgres_url, tmp_path, capsys):
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord
    from twinbench_cli import main

    with ResultsStore.open(postgres_url) as store:
        store.add_run({}, run_id="r")
        for index, policy in enumerate(("a", "b", "c")):
            for seed in range(4):
                success = seed < index + 1
                outcome = EpisodeOutcome(success, float(success), {}, 10, 1.0, 0.1, 0.1)
                key = EpisodeKey(policy, "env", "hash", 0, seed)
                store.record_episode(EpisodeRecord("r", key, outcome))
    real = tmp_path / "real.csv"
    real.write_text("policy,env,successes,trials\na,env,2,10\nb,env,5,10\nc,env,9,10\n")
    sim = _with_password(postgres_url)
    with pytest.raises(SystemExit) as info:
        main(["correlate", "--sim", sim, "--real", str(real), "-o", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    assert "Pearson r 0.9" in out
    report = (tmp_path / "r" / "report.json").read_text()
    assert postgres_url in report and SECRET not in report + out + err


def test_an_edited_value_is_one_error_line_naming_the_store_and_the_psql_fix(
    postgres_url, tmp_path, capsys
):
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord
    from twinbench_cli import main

    with ResultsStore.open(postgres_url) as store:
        store.add_run({}, run_id="r")
        outcome = EpisodeOutcome(True, 1.0, {}, 10, 1.0, 0.1, 0.1)
        store.record_episode(EpisodeRecord("r", EpisodeKey("a", "env", "h", 0, 0), outcome))
    edit_store(postgres_url, "UPDATE episodes SET success = 7")
    real = tmp_path / "real.csv"
    real.write_text("policy,env,success\na,env,1\n")
    with pytest.raises(SystemExit) as info:
        main(["correlate", "--sim", postgres_url, "--real", str(real), "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"twinbench: error: {postgres_url}: table episodes, episode_id 1,")
    assert "expected 0 or 1, got 7; the database was changed outside twinbench" in err
    assert f"psql {postgres_url} -c 'DELETE FROM episodes WHERE episode_id = 1'" in err


def test_a_killed_session_leaves_no_cluster_behind(postgres_cluster, tmp_path):
    """A test process killed outright (a CI timeout) stops no server itself: the cluster's
    watchdog does, and removes its folder."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    child = subprocess.Popen(
        [sys.executable, "-c", "from evaluate.store.throwaway import throwaway_cluster\n"
         "import time\nwith throwaway_cluster() as c:\n    print(c.root, flush=True)\n"
         "    time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    root = Path(child.stdout.readline().strip())
    server = int((root / "data" / "postmaster.pid").read_text().split()[0])
    assert psutil.pid_exists(server)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    deadline = time.monotonic() + 30
    while root.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not root.exists()
    assert not psutil.pid_exists(server) or psutil.Process(server).status() == "zombie"


def test_a_lost_connection_is_opened_again_and_no_episode_is_lost(postgres_url: str):
    """The server drops the worker's connection (a restart, a network blip): the next write
    connects again and lands; before, it failed and the finished episode was lost."""
    import psycopg

    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord

    outcome = EpisodeOutcome(True, 1.0, {}, 10, 1.0, 0.01, 0.01)
    with ResultsStore.open(postgres_url) as store:
        store.add_run({}, run_id="r")
        for ic in range(2):
            backend = store._conn.conn.info.backend_pid
            with psycopg.connect(store_location(postgres_url).conninfo(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            store.record_episode(EpisodeRecord("r", EpisodeKey("p", "e", "h" * 64, ic, 0), outcome))
            assert store._conn.conn.info.backend_pid != backend
        assert store.episodes(run_id="r")["initial_condition"].tolist() == [0, 1]
