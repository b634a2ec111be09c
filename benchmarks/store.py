"""Results-store write throughput: episodes/s recorded by 1 and 2 concurrent writer processes,
on an SQLite file and on a PostgreSQL database.

Run ``python -m benchmarks.store [--episodes N | --quick] [--postgres URL]`` (or ``twinbench
bench store``); prints one JSON line per figure. Each writer is its own process with its own
connection, recording distinct episodes of one run with ``record_episode`` (one commit each,
as evaluation workers do), all starting together; the rate is every episode over the time
from the first start to the last finish, and the store must then hold each exactly once.
SQLite runs as twinbench sets it (WAL, synchronous=NORMAL) in a temporary folder; PostgreSQL
in a throwaway local cluster with the server's durable defaults (an fsync per commit, over
TCP on 127.0.0.1), then, to show what the fsync costs, in one with fsync off (the tests'
cluster); or only in the database ``--postgres`` names (a fresh run in it each case).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from benchmarks import figures
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore
from evaluate.store.throwaway import server_version, throwaway_cluster

FORK = multiprocessing.get_context("fork")
OUTCOME = EpisodeOutcome(True, 1.0, {"grasp": 12, "lift": 40}, 450, 31.5, 0.08, 0.2)


emit = partial(figures.emit, "store", digits=3)


def _write(location: str, run_id: str, writer: int, episodes: int, start, times) -> None:
    """One writer process: ``episodes`` episodes of its own policy, one commit each."""
    with ResultsStore.open(location) as store:
        start.wait()
        began = time.perf_counter()
        for seed in range(episodes):
            key = EpisodeKey(f"policy-{writer}", "env", "sha256:bench", seed % 5, seed)
            store.record_episode(EpisodeRecord(run_id, key, OUTCOME))
        times.put((began, time.perf_counter()))


def measure(case: str, location: str, writers: int, episodes: int) -> None:
    """Emit the rate of ``writers`` processes each recording ``episodes`` into ``location``."""
    with ResultsStore.open(location) as store:
        run_id = store.add_run({"bench": case}, run_id=f"bench-{uuid.uuid4().hex[:8]}").run_id
    start, times = FORK.Barrier(writers), FORK.Queue()
    processes = [
        FORK.Process(target=_write, args=(location, run_id, w, episodes, start, times))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    spans = [times.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            raise RuntimeError(f"{case}: a writer exited with {process.exitcode}")
    with ResultsStore.open(location, read_only=True) as store:
        recorded = len(store.episodes(run_id=run_id))
    if recorded != writers * episodes:
        raise RuntimeError(f"{case}: {recorded} episodes stored, {writers * episodes} written")
    wall_s = max(end for _, end in spans) - min(began for began, _ in spans)
    emit(case, "episodes_per_s", writers * episodes / wall_s, "1/s")
    emit(case, "ms_per_episode_per_writer", wall_s / episodes * 1000, "ms")


@contextmanager
def postgres_database(url: str | None, durable: bool) -> Iterator[tuple[str, str]]:
    """(URL, server version): the one given, or a fresh database in a throwaway cluster."""
    if url is not None:
        yield url, server_version(url)
        return
    with throwaway_cluster(durable=durable) as cluster:
        yield cluster.new_database(), cluster.version()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=400, help="episodes per writer")
    parser.add_argument("--quick", action="store_true", help="50 episodes per writer")
    parser.add_argument("--postgres", help="a PostgreSQL database to use (default: a local one)")
    args = parser.parse_args()
    episodes = 50 if args.quick else args.episodes
    with tempfile.TemporaryDirectory() as tmp:
        for writers in (1, 2):
            path = str(Path(tmp) / f"results-{writers}.sqlite")
            measure(f"sqlite_{writers}_writers", path, writers, episodes)
    for durable in (True, False) if args.postgres is None else (True,):
        with postgres_database(args.postgres, durable) as (url, version):
            name = "postgresql" if durable else "postgresql_fsync_off"
            emit(name, "server_version", float(version), "version")
            for writers in (1, 2):
                measure(f"{name}_{writers}_writers", url, writers, episodes)


if __name__ == "__main__":
    main()
