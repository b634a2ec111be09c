"""The bundled real-scan environment ``buddha_tabletop`` (built from the shared Buddha photos by
``python -m reconstruct.scans.buddha``): it validates with its physics, every camera sees the
scan, the scripted touch succeeds, and its build record holds the figures it promises."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from typer.testing import CliRunner

from reconstruct.scans.buddha import NAME, OBJECT
from reconstruct.scans.touch import touch_episode
from reconstruct.splats import SplatsConfig
from sim_env.cli import env_app
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import load_package
from sim_env.registry import BUNDLED_DIR, resolve_env

ROOT = BUNDLED_DIR / NAME


@pytest.mark.slow  # test_invariants runs the same checks on every bundled package
def test_it_is_registered_and_validates_deep() -> None:
    assert resolve_env(NAME) == ROOT.resolve()
    result = CliRunner().invoke(env_app, ["validate", NAME, "--deep"])
    assert result.exit_code == 0, result.output


def test_every_camera_sees_the_scan() -> None:
    env = TwinEnv(load_package(ROOT), EnvConfig(image_size=(160, 90)))
    try:
        obs, _ = env.reset(options={"initial_condition": 0})
        for name in env.camera_names:
            grey = obs[name].mean(axis=-1)
            lit = float((grey > 20).mean())
            assert lit > 0.3 and grey.std() > 10, (name, lit, grey.std())
    finally:
        env.close()


def test_the_scripted_touch_succeeds() -> None:
    outcome = touch_episode(ROOT, OBJECT)
    assert outcome.success and outcome.progress == 1.0
    assert 0.0 < outcome.tcp_to_top_m < 0.03


def test_the_build_record() -> None:
    record = json.loads((ROOT / "build.json").read_text())
    assert record["sfm"]["registered"] == record["photos"]["count"] == 13
    agreement = record["dataset_agreement"]
    assert agreement["gravity_error_deg"] < 3.0 and agreement["camera_centre_error_max"] < 0.02
    assert record["scale"]["source"] == "object_height" and "assumed" in record["scale"]["note"]
    splats = record["splats"]
    assert splats["heldout_views"] and splats["psnr"] > splats["psnr_init"]
    assert [s["stage"] for s in record["stages"]] == [
        "frames", "sfm", "align", "splats", "mesh", "objects", "package",
    ]  # fmt: skip
    assert all(s["seconds"] >= 0 for s in record["stages"])
    ran = {s["stage"]: s["peak_memory_mb"] for s in record["stages"] if s["ran"]}
    assert {"sfm", "splats", "package"} <= set(ran) and min(ran.values()) > 0
    assert min(record["object"]["extents_m"][:2]) > 0.085  # wider than the 2F-85 opens
    # its SfM points span about 0.14 x 0.19 m; with the table bulging beside it taken in,
    # its box was 0.29 m long
    assert max(record["object"]["extents_m"][:2]) < 0.2
    spec = load_package(ROOT).spec
    assert [c.kind for c in spec.rubric.criteria] == ["reach"]
    assert "CC BY 4.0" in (spec.provenance.notes or "")
    attribution = " ".join((ROOT / "ATTRIBUTION.md").read_text().split())
    assert (
        "Creative Commons Attribution 4.0" in attribution
        and "10.5281/zenodo.1203283" in attribution
    )
    files = [p for p in ROOT.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 10 * 2**20
    assert np.isfinite(splats["ssim"])


def test_it_shows_what_the_splats_stage_gives_by_default() -> None:
    """Built with the splats stage's defaults, the settings a user's ``twinbench reconstruct
    photos/`` gets without flags: the build record's held-out figures are theirs."""
    record = json.loads((ROOT / "build.json").read_text())
    assert record["config"]["splats"] == json.loads(json.dumps(asdict(SplatsConfig())))
    assert record["splats"]["psnr"] > 19.0 and record["splats"]["image_size"][0] == 456
