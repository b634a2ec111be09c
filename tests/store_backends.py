"""The results store's two back ends for tests: a temporary SQLite file, or a fresh database
in a throwaway PostgreSQL cluster that this test session starts itself.

The cluster comes from Debian's binaries (``/usr/lib/postgresql/*/bin``, or the directory in
``TWINBENCH_PG_BIN``): ``initdb`` in a temporary folder, ``pg_ctl`` on a free port, trust
authentication on 127.0.0.1 only, no fsync (a crash of the test machine loses nothing that
matters). As root it runs as the ``postgres`` user (PostgreSQL refuses root). Without the
binaries the PostgreSQL cases skip, saying so; with ``TWINBENCH_REQUIRE_POSTGRES=1`` (CI) they
fail instead. One cluster per test process; one database per test.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")
USER = "twinbench"
REQUIRE_ENV = "TWINBENCH_REQUIRE_POSTGRES"


def postgres_bin() -> Path | None:
    """The newest directory holding initdb and pg_ctl, or None."""
    named = os.environ.get("TWINBENCH_PG_BIN")
    candidates = [named] if named else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    candidates += [str(Path(which).parent)] if which else []
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    bin: Path
    as_user: list[str]
    _numbers = itertools.count()

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def pg_ctl(self, *args: str) -> None:
        data = str(self.root / "data")
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", data, *args],
            check=True,
            capture_output=True,
            timeout=60,
        )


def start_cluster(tmp_root: Path) -> Cluster:
    """initdb and start a cluster under ``tmp_root`` (removed by the caller)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL's initdb/pg_ctl not found (apt-get install postgresql)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
        pytest.skip(reason)
    as_user: list[str] = []
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(tmp_root, postgres.pw_uid, postgres.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = tmp_root / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
         "-E", "UTF8", "--no-sync", "--data-checksums"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cluster = Cluster(tmp_root, _free_port(), bin_dir, as_user)
    options = (
        f"-p {cluster.port} -k {tmp_root} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
    )
    cluster.pg_ctl("-o", options, "-l", str(tmp_root / "server.log"), "-w", "-t", "60", "start")
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    tmp_root = Path(tempfile.mkdtemp(prefix="twinbench-pg-"))
    try:
        cluster = start_cluster(tmp_root)
        yield cluster
        cluster.pg_ctl("-m", "immediate", "stop")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A fresh database's URL (no store in it yet)."""
    return postgres_cluster.new_database()


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store goes: an SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "results.sqlite"
    return request.getfixturevalue("postgres_url")


def edit_store(location: Path | str, *statements: str, checked: bool = False) -> None:
    """Run ``statements`` on a store as its own shell would (sqlite3, psql): an edit outside
    twinbench, with the tables' CHECK constraints switched off (SQLite) or dropped
    (PostgreSQL) unless ``checked``."""
    if isinstance(location, Path):
        import sqlite3

        conn = sqlite3.connect(location)
        conn.execute(f"PRAGMA ignore_check_constraints = {'OFF' if checked else 'ON'}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
        return
    import psycopg

    with psycopg.connect(location, autocommit=True) as conn:
        checks = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'c'"
            " AND connamespace = 'public'::regnamespace AND NOT %s",
            (checked,),
        ).fetchall()
        for table, name in checks:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for statement in statements:
            conn.execute(statement)


def query_store(location: Path | str, statement: str) -> list[tuple]:
    """The rows ``statement`` reads from the store, through the database's own driver."""
    if isinstance(location, Path):
        import sqlite3

        conn = sqlite3.connect(location)
        try:
            return conn.execute(statement).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(location) as conn:
        return conn.execute(statement).fetchall()
