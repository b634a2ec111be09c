"""``twinbench reconstruct`` commands, invoked in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reconstruct.cli import reconstruct_app
from reconstruct.errors import ReconstructError


def test_stages_lists_the_pipeline_in_order() -> None:
    result = CliRunner().invoke(reconstruct_app, ["--list-stages"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()][:3] == [
        "frames",
        "sfm",
        "align",
    ]


def test_unknown_until_suggests_a_stage(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        reconstruct_app, ["scan.mp4", "-o", str(tmp_path), "--until", "fram"]
    )
    assert isinstance(result.exception, ReconstructError)
    assert "Did you mean 'frames'" in str(result.exception)


def test_align_without_a_scale_fails_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(reconstruct_app, ["scan.mp4", "-o", str(tmp_path / "env")])
    assert isinstance(result.exception, ReconstructError)
    assert "--marker-size" in str(result.exception) and "--scale 1" in str(result.exception)
    assert not (tmp_path / "env").exists()


def test_run_until_frames(
    tmp_path: Path, make_video: Callable[..., Path], panning: Callable[..., list[np.ndarray]]
) -> None:
    video = make_video(panning(60))
    args = [str(video), "-o", str(tmp_path / "env"), "--until", "frames", "--no-progress"]
    result = CliRunner().invoke(reconstruct_app, args)
    assert result.exit_code == 0, result.output
    assert result.output.split()[:2] == ["frames", "ran"]
    again = CliRunner().invoke(reconstruct_app, args)
    assert again.output.split()[:2] == ["frames", "skipped"]


@pytest.mark.parametrize("option", [["--marker-size", "0"], ["--scale", "-1"]])
def test_bad_scale_values_name_the_field(tmp_path: Path, option: list[str]) -> None:
    result = CliRunner().invoke(reconstruct_app, ["scan.mp4", "-o", str(tmp_path), *option])
    assert isinstance(result.exception, ReconstructError)
    assert "must be positive" in str(result.exception)
