"""The splats stage's training length: its defaults are the real-photo settings (the bundled
Buddha build checks they are what it was made with); ``--splat-steps`` scales the whole
schedule for a quicker or longer run, ``--splat-width`` sets the width, and bad values are
refused in one line before any stage runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reconstruct.cli import reconstruct_app
from reconstruct.errors import ReconstructError
from reconstruct.splats import REAL_CAPTURE_TRAINING, SplatsConfig


def test_the_default_training_is_the_real_capture_one() -> None:
    config = SplatsConfig()
    assert config.train == REAL_CAPTURE_TRAINING and config.image_width == 456
    assert config.init.table_points > 0  # a real table leaves SfM almost without points


def test_fewer_steps_keep_the_schedule_in_place() -> None:
    quick = SplatsConfig().with_steps(300)
    train, full = quick.train, REAL_CAPTURE_TRAINING
    assert train.iterations == 300 and train.sh_degree_step == 150
    assert (train.densify.start, train.densify.stop, train.densify.every) == (20, 240, 20)
    assert replace(train, iterations=1500, sh_degree_step=750, densify=full.densify) == full
    assert SplatsConfig().with_steps(1500) == SplatsConfig()


def test_mip_changes_only_the_filters() -> None:
    """``--mip``: mip-splatting's filters on, every other setting as it was."""
    config = SplatsConfig().with_steps(300)
    mip = config.with_mip()
    assert mip.train.antialiased and mip.train.smoothing_3d
    assert replace(mip.train, antialiased=False, smoothing_3d=False) == config.train
    assert replace(mip, train=config.train) == config


@pytest.fixture
def photos(tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(canvas(96, 64, i)).save(folder / f"{i}.jpg")
    return folder


@pytest.mark.parametrize(
    ("option", "field"),
    [(["--splat-steps", "3"], "splats.train.iterations"), (["--splat-width", "8"], "image_width")],
)
def test_bad_training_lengths_are_refused_first(
    photos: Path, tmp_path: Path, option: list[str], field: str
) -> None:
    env = tmp_path / "env"
    result = CliRunner().invoke(
        reconstruct_app, [str(photos), "-o", str(env), "--scale", "1", *option]
    )
    assert isinstance(result.exception, ReconstructError), result.output
    message = str(result.exception)
    assert re.search(field, message) and "\n" not in message, message
    assert not (env / "work").exists()
