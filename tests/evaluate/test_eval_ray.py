"""The same episode worker as Ray actors (a private local Ray): the same episodes with the
same results as the in-process run, whether the actors write to an SQLite file or to a
PostgreSQL database (as actors on other nodes would). About 40 s a case on 2 cores, most of it
starting Ray."""

from __future__ import annotations

import pytest

from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, run_evaluation
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
