"""The co-training mix: weights put exactly the requested share of samples on sim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotrain.errors import CotrainError
from cotrain.lerobot import DatasetSummary
from cotrain.mix import compute_mix
from twinbench_cli import app

FEATURES = {"actions": {"dtype": "float32", "shape": [8], "names": None}}


def _summary(name: str, frames: int, fps: int = 15, features=FEATURES) -> DatasetSummary:
    return DatasetSummary(Path(name), frames // 50, frames, ("task",), fps, "panda", dict(features))


def test_sim_gets_the_requested_share():
    real, sims = [_summary("real", 9000)], [_summary("sim_a", 1000), _summary("sim_b", 2000)]
    mix = compute_mix(real, sims, 0.1)
    by_path = {c.path: c for c in mix.components}
    assert sum(c.probability for c in mix.components) == pytest.approx(1.0)
    assert sum(c.frame_weight * c.frames for c in mix.components) == pytest.approx(1.0)
    assert by_path["sim_a"].probability + by_path["sim_b"].probability == pytest.approx(0.1)
    assert by_path["sim_b"].probability == pytest.approx(2 * by_path["sim_a"].probability)
    assert by_path["real"].frame_weight == pytest.approx(0.9 / 9000)
    assert by_path["sim_a"].frame_weight == pytest.approx(0.1 / 3000)
    assert by_path["sim_a"].boost == pytest.approx(0.1 / 0.25)  # natural share 3000 / 12000
    real_copies, sim_copies = by_path["real"].repeat, by_path["sim_a"].repeat
    assert sim_copies * 3000 / (sim_copies * 3000 + real_copies * 9000) == pytest.approx(0.1)
    assert any("f / S" in line for line in mix.arithmetic)


def test_bad_inputs_are_refused():
    real, sim = [_summary("real", 100)], [_summary("sim", 100)]
    for fraction in (0.0, 1.0, 1.5):
        with pytest.raises(CotrainError, match="strictly between"):
            compute_mix(real, sim, fraction)
    with pytest.raises(CotrainError, match="frame rate"):
        compute_mix(real, [_summary("sim", 100, fps=10)])
    other = {"joint_velocity": {"dtype": "float32", "shape": [7], "names": None}}
    assert compute_mix(real, [_summary("sim", 100, features=other)]).warnings


def test_mix_command_writes_weights(generated, tmp_path):
    out = tmp_path / "mix.json"
    result = CliRunner().invoke(
        app,
        ["cotrain", "mix", "--real", str(generated.dataset), "--sim", str(generated.dataset),
         "--sim-fraction", "0.2", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "target sim share f = 0.2000" in result.output
    mix = json.loads(out.read_text())
    assert mix["sim_fraction"] == 0.2
    assert [d["probability"] for d in mix["datasets"]] == pytest.approx([0.8, 0.2])
