"""A throwaway PostgreSQL cluster on this machine, for the store's tests and benchmarks.

Debian's server binaries (``/usr/lib/postgresql/*/bin``, or the directory in
``TWINBENCH_PG_BIN``) make a cluster in a temporary folder: ``initdb`` with trust
authentication, ``pg_ctl`` on a free port on 127.0.0.1, no fsync unless ``durable`` (nothing
in it outlives the run; a benchmark asks for the server's durable defaults). As root it runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from evaluate.errors import EvaluateError

USER = "twinbench"
BIN_ENV = "TWINBENCH_PG_BIN"
MISSING = "PostgreSQL's initdb/pg_ctl not found (apt-get install postgresql)"


def postgres_bin() -> Path | None:
    """The newest directory holding initdb and pg_ctl (``TWINBENCH_PG_BIN`` first), or None."""
    named = os.environ.get(BIN_ENV)
    candidates = [named] if named else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    candidates += [str(Path(which).parent)] if which else []
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


@dataclass
class Cluster:
    """A running cluster: ``url(database)`` names a database in it."""

    root: Path
    port: int
    bin: Path
    as_user: list[str]
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, closing its connections (its disk space back)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def version(self) -> str:
        """The server's version, e.g. ``15.14``."""
        return server_version(self.url("postgres"))

    def pg_ctl(self, *args: str) -> None:
        command = [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)


def server_version(url: str) -> str:
    """The version of the server ``url`` names, e.g. ``15.14``."""
    import psycopg

    with psycopg.connect(url) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cluster(root: Path, *, durable: bool = False) -> Cluster:
    """initdb and start a cluster in the empty folder ``root`` (the caller removes it);
    ``durable`` keeps PostgreSQL's defaults (an fsync per commit), else fsync is off.

    Raises:
        EvaluateError: the server binaries are missing (:data:`MISSING`).
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise EvaluateError(MISSING)
    as_user: list[str] = []
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", USER,
         "--auth=trust", "-E", "UTF8", "--no-sync", "--data-checksums"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cluster = Cluster(root, _free_port(), bin_dir, as_user)
    options = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=60"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    cluster.pg_ctl("-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start")
    return cluster


_WATCH = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; "$@" >/dev/null 2>&1; rm -rf "$ROOT"'


@contextmanager
def throwaway_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A cluster for the ``with`` block, stopped and removed after it, or, if this process is
    killed first, by a watchdog within a second or two (a server outlives its parent)."""
    root = Path(tempfile.mkdtemp(prefix="twinbench-pg-"))
    watchdog = None
    try:
        cluster = start_cluster(root, durable=durable)
        stop = [*cluster.as_user, str(cluster.bin / "pg_ctl"), "-D", str(root / "data")]
        watchdog = subprocess.Popen(
            ["sh", "-c", _WATCH, str(os.getpid()), *stop, "-m", "immediate", "stop"],
            env={**os.environ, "ROOT": str(root)},
            start_new_session=True,
        )
        try:
            yield cluster
        finally:
            cluster.pg_ctl("-m", "immediate", "stop")
    finally:
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        shutil.rmtree(root, ignore_errors=True)
