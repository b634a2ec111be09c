"""The results store's two back ends for tests: a temporary SQLite file, or a fresh database
in a throwaway PostgreSQL cluster that this test session starts itself
(:mod:`evaluate.store.throwaway`: Debian's server binaries, a temporary folder, a free port).

Without the binaries the PostgreSQL cases skip, saying so; with ``TWINBENCH_REQUIRE_POSTGRES=1``
(CI) they fail instead. One cluster per test process; one database per test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evaluate.store.throwaway import MISSING, Cluster, postgres_bin, throwaway_cluster

BACKENDS = ("sqlite", "postgresql")
REQUIRE_ENV = "TWINBENCH_REQUIRE_POSTGRES"


@contextmanager
def cluster_or_skip() -> Iterator[Cluster]:
    """A throwaway cluster; without PostgreSQL's binaries, skip (or, in CI, fail) saying so."""
    if postgres_bin() is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {MISSING}")
        pytest.skip(MISSING)
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    with cluster_or_skip() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A fresh database's URL (no store in it yet), dropped after the test."""
    url = postgres_cluster.new_database()
    yield url
    postgres_cluster.drop_database(url)


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
