"""The same episode worker as Ray actors (a private local Ray): the same episodes with the
same results as the in-process run, whether the actors write to an SQLite file or to a
PostgreSQL database (as actors on other nodes would). About 40 s a case on 2 cores, most of it
starting Ray."""

from __future__ import annotations

import socket
import time

import pytest

from evaluate.errors import EvaluateError
from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, run_evaluation
from evaluate.run.ray_pool import check_reachable, init_ray
from evaluate.store import ResultsStore

pytestmark = pytest.mark.slow

ENV_ID = "primitive_cube_bowl"
COLUMNS = ["policy_id", "initial_condition", "seed", "success", "progress", "length_steps"]


def test_ray_workers_match_inline_results(tmp_path, store_location):
    config = EvalConfig(
        envs=(ENV_ID,),
        policies=("scripted", "scripted:poor"),
        episodes=3,
        rollout=RolloutConfig(max_steps=40),
    )
    ray = Execution(workers=2, ray_address="local")
    on_ray = run_evaluation(config, tmp_path / "ray", ray, store=store_location)
    inline = run_evaluation(config, tmp_path / "inline", Execution(workers=0))
    assert not on_ray.report.setup_errors and len(on_ray.report.outcomes) == 6
    frames = []
    for result in (on_ray, inline):
        with ResultsStore.open(result.store) as store:
            frame = store.episodes(run_id=result.run_id)[COLUMNS]
        frames.append(frame.sort_values(COLUMNS[:3]).reset_index(drop=True))
    assert frames[0].equals(frames[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_an_address_nobody_answers_fails_in_seconds(scheme):
    """Ray retries an unanswered address for about 30 s; the check says so at once."""
    address = f"{scheme}127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(
        EvaluateError, match=r"cannot reach Ray at .*nothing answers at 127\.0\.0\.1"
    ):
        init_ray(address, num_cpus=1)
    assert time.monotonic() - started < 5


def test_a_listening_address_passes_the_check():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}")
    check_reachable("auto")  # no port: Ray's to judge
