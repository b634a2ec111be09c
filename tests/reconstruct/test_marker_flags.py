"""An unknown --marker-dict is refused before any stage runs (it used to be found only at
align, after frames and structure from motion; benchmarks.hostile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from reconstruct.align import AlignConfig
from reconstruct.errors import ReconstructError
from twinbench_cli import app


def test_unknown_marker_dictionary_is_a_config_error():
    with pytest.raises(ReconstructError, match="unknown marker dictionary 'DICT_NOPE'") as err:
        AlignConfig(marker_size=0.1, marker_dictionary="DICT_NOPE")
    assert err.value.field == "align.marker_dictionary"
    AlignConfig(marker_size=0.1, marker_dictionary="DICT_APRILTAG_36H11")  # a real one


def test_reconstruct_refuses_it_before_the_stages(tmp_path: Path):
    scan = tmp_path / "scan"
    scan.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(
            scan / f"{index}.jpg"
        )
    out = tmp_path / "env"
    args = ["reconstruct", str(scan), "-o", str(out), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--marker-size", "0.1", "--marker-dict", "DICT_NOPE"])
    assert result.exit_code != 0
    assert "unknown marker dictionary 'DICT_NOPE'" in str(result.exception)
    assert not (out / "work" / "frames").exists()
