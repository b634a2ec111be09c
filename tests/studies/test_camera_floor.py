"""The camera floor: the source world's located fractions through slightly different cameras,
ranked against its own, as the floor under any twin's agreement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fidelity.camera_floor import (
    CLEAN,
    PERTURBATIONS,
    TWIN,
    floor_rows,
    main,
    shifted,
)
from evaluate.metrics import mmrv, pearson
from sim_env.render.camera_response import CameraResponse, respond
from studies.fidelity.trials import correlation

LADDER = Path(__file__).resolve().parents[2] / "benchmarks" / "fidelity" / "ladder-kitchen"


def _images(n: int = 3) -> np.ndarray:
    """[n, 45, 80, 3] uint8: shaded tables with a red box, as the exterior camera sees one."""
    y, x = np.mgrid[0:45, 0:80]
    out = []
    for k in range(n):
        image = np.stack([x * 1.5 + 40, y * 3.0 + 40, (x + y) + 40 + 10 * k], axis=-1)
        image[15:30, 20 + 5 * k : 40 + 5 * k] = (200, 40, 30)
        out.append(image)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_perturbation_keeps_the_images_shape_and_changes_them(name):
    images = _images()
    out = PERTURBATIONS[name].apply(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)
    assert np.abs(out.astype(float) - images).mean() < 8  # a small change, not another image


def test_the_white_balance_is_the_camera_response_a_package_would_apply():
    images = _images()
    out = PERTURBATIONS["white balance +3%"].apply(images, np.random.default_rng(0))
    for image, seen in zip(images, out, strict=True):
        np.testing.assert_array_equal(seen, respond(image, CameraResponse((1.03, 1.0, 0.97))))


def test_one_pixel_over_moves_every_column_right():
    images = _images()
    out = shifted(1, images, np.random.default_rng(0))
    np.testing.assert_array_equal(out[:, :, 1:], images[:, :, :-1])
    np.testing.assert_array_equal(out[:, :, 0], images[:, :, 0])


def test_a_look_that_locates_the_same_states_sits_on_the_floor_itself():
    clean = {
        "src-a": np.array([1, 1, 0, 0, 1], bool),
        "src-b": np.zeros(5, bool),
        "cot-c": np.array([1, 1, 1, 0, 1], bool),
    }
    flipped = dict(clean, **{"src-a": np.array([0, 0, 1, 1, 0], bool)})
    rows = floor_rows({CLEAN: clean, "same": dict(clean), TWIN: flipped})
    assert rows["same"] == {
        "pearson_all": pytest.approx(1.0),
        "mmrv_all": 0.0,
        "pearson_src": pytest.approx(1.0),
        "mmrv_src": 0.0,
        "trial_r_median": pytest.approx(1.0),
    }
    real = np.array([0.6, 0.0, 0.8])
    sim = np.array([0.4, 0.0, 0.8])
    assert rows[TWIN]["pearson_all"] == pytest.approx(float(pearson(sim, real)))
    assert rows[TWIN]["mmrv_all"] == pytest.approx(float(mmrv(sim, real)))
    # src-a's states all flipped (r = -1), cot-c's kept (1); src-b is never located: not counted
    assert rows[TWIN]["trial_r_median"] == pytest.approx(np.median([-1.0, 1.0]))


def test_an_outcome_that_never_varies_correlates_with_nothing():
    assert correlation(np.ones(4, bool), np.array([1, 0, 1, 0], bool)) == 0.0


@pytest.mark.slow  # ~20 s: 3 states in both kitchen worlds, one bundle
def test_the_report_ranks_every_camera_and_the_twin(tmp_path, capsys):
    ladder = tmp_path / "ladder"
    ladder.mkdir()
    for rung in ("src-s3000", "src-s400"):
        shutil.copytree(LADDER / rung, ladder / rung)
    out = tmp_path / "floor"
    main(
        ["--source", "kitchen_source", "--twin", "kitchen_twin", "--ladder", str(ladder)]
        + ["--states", "3", "--out", str(out)]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    located = {(f["case"], f["metric"]) for f in lines if f["metric"] == "located"}
    assert len(located) == (len(PERTURBATIONS) + 2) * 2
    assert {f["case"] for f in lines if f["case"].startswith("floor/")} == {
        f"floor/{look}" for look in [*PERTURBATIONS, TWIN]
    }
    report = (out / "camera-floor.md").read_text()
    assert all(f"| {look} (" in report for look in PERTURBATIONS)
    assert (out / "camera-floor.png").stat().st_size > 10_000
