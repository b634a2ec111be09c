"""twinbench fidelity on a tiny pair: the bundled mesh-rendered cube-and-bowl world as the
source, the same world with splats as its twin, three scripted policies that read the
cameras, two episodes each, the ablation worlds built from the pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import dashboard
from dashboard.comparison import compare, find_files, load_report, sim_tables
from dashboard.settings import STORE_ENV_VAR
from evaluate.correlation import load_tables
from evaluate.documents import file_label
from evaluate.errors import EvaluateError
from evaluate.rollout import RolloutConfig
from evaluate.store import ResultsStore
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import load_package
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package
from sim_env.registry import resolve_env
from sim_env.render.camera_response import CameraResponse, respond
from sim_env.render.select import has_splats
from sim_env.scene import build_scene, check_initial_conditions
from studies.fidelity import (
    ABLATIONS,
    EpisodePlan,
    FidelityConfig,
    VariantError,
    check_pair,
    match_subset,
)
from studies.fidelity.conditions import expand_pair
from studies.fidelity.document import FidelitySummary
from studies.fidelity.variants import (
    ANOTHER_CAMERA_GAINS,
    source_camera,
    source_geometry,
    twin_meshes,
)
from twinbench_cli import main

APP = Path(dashboard.__file__).with_name("app.py")

SOURCE = "primitive_cube_bowl"
POLICIES = ("scripted:expert,images=1", "scripted:poor", "scripted:bad")  # one renders


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    """The source world with splats: same geometry and initial conditions, other rendering."""
    root = tmp_path_factory.mktemp("twin") / "splatted"
    write_primitive_package(root, PrimitiveSceneConfig(splat_density=1.0))
    return root


def _plan(policies: tuple[str, ...] = POLICIES) -> EpisodePlan:
    return EpisodePlan(
        policies, episodes=2, image_size=(64, 36), rollout=RolloutConfig(max_steps=24)
    )


def test_cli_run_writes_summary_and_reports_the_dashboard_shows(twin, tmp_path, monkeypatch):
    out = tmp_path / "run"
    argv = ["fidelity", "--source", SOURCE, "--twin", str(twin), "-o", str(out), "-n", "2"]
    argv += [arg for policy in POLICIES for arg in ("-p", policy)]
    argv += ["--ablation", "twin-meshes", "--ablation", "source-geometry", "-j", "0"]
    argv += ["--subset", "low=scripted:[pb]*", "--image-size", "64x36", "--max-steps", "24"]
    argv += ["--initial-conditions", "12", "--ablation-episodes", "1"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    summary = FidelitySummary.load(out / "fidelity.json")
    assert summary.ci is not None and -1 <= summary.pearson <= 1
    assert (summary.n_policies, summary.episodes_per_policy) == (3, 2)
    assert set(summary.comparisons) == {"twin", "twin-meshes", "source-geometry", "subset:low"}
    assert summary.comparisons["subset:low"].success.n_policies == 2
    assert summary.comparisons["twin-meshes"].episodes_per_policy == 1
    # every comparison pairs the world's episodes with the source's, seed by seed
    trials = {name: entry.trials for name, entry in summary.comparisons.items()}
    assert (trials["twin"].pairs, trials["twin-meshes"].pairs, trials["subset:low"].pairs) == (
        6,
        3,
        4,
    )
    assert all(0 <= t.agreement <= 1 and t.policies_varied <= 3 for t in trials.values())
    command = summary.provenance.command
    assert command.startswith(f"twinbench fidelity --source {SOURCE} --twin {twin}")
    assert summary.provenance.image_size == (64, 36)
    for entry in summary.policies:
        assert set(entry.worlds) == {"source", "twin", "twin-meshes", "source-geometry"}
        assert entry.worlds["twin"].episodes == 2 and entry.worlds["twin"].excluded == {}
        assert entry.worlds["source-geometry"].episodes == 1
    assert all(world.excluded == {} for world in summary.worlds.values())
    assert (out / "fidelity.png").stat().st_size > 0

    # the dashboard's Sim vs real page lists every report next to the store, source as real
    reports = find_files(out, "report.json")
    assert out / "report" / "report.json" in reports and len(reports) == 4
    saved = load_report(out / "report" / "report.json")
    assert saved.real.label == "source world primitive_cube_bowl, playing real"
    assert saved.real.source == f"{out / 'results.sqlite'} run {summary.worlds['source'].run_id}"
    assert saved.plots("success")
    csv = out / "source_world_plays_real.csv"  # the page's live comparison: twin run vs this
    assert file_label(csv.name) == "source world plays real"
    twin_run = summary.worlds["twin"].run_id
    live = compare(sim_tables(out / "results.sqlite", twin_run), load_tables(csv), "success")
    assert live.per_env[str(out / "worlds" / "twin")].n_policies == 3

    monkeypatch.setenv(STORE_ENV_VAR, str(out / "results.sqlite"))
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.switch_page("views/sim_real.py").run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("Sim vs source world plays real" in h.value for h in app.subheader)
    assert any("**Plays real:** source world primitive_cube_bowl" in m.value for m in app.markdown)
    # ... led by the fidelity summary: the headline, every comparison, every policy per world
    assert "Twin fidelity: the source world plays real" in [h.value for h in app.subheader]
    headline = f"Pearson r {summary.pearson:.3f}"
    assert any(headline in m.value and "Goal (" in m.value for m in app.markdown)
    comparisons, rates = app.dataframe[0].value, app.dataframe[1].value
    assert list(comparisons["comparison"]) == list(summary.comparisons)
    assert list(comparisons["trials agree"]) == [
        f"{entry.trials.agreement:.2f}" for entry in summary.comparisons.values()
    ]
    assert len(rates) == 3 and {"source", "twin", "twin-meshes"} <= set(rates.columns)

    with ResultsStore.open(out / "results.sqlite") as store:
        labels = sorted(run.config["label"].split(":")[0] for run in store.runs())
        assert labels == ["source", "source-geometry", "twin", "twin-meshes"]
        assert len(store.episodes()) == 2 * 3 * 2 + 2 * 3 * 1


def test_worlds_must_pose_the_same_task(twin, tmp_path):
    fewer = tmp_path / "fewer"
    write_primitive_package(fewer, PrimitiveSceneConfig(n_initial_conditions=4))
    with pytest.raises(EvaluateError, match="initial_conditions"):
        check_pair(SOURCE, str(fewer))
    source, checked = check_pair(SOURCE, str(twin))
    assert source.spec.instruction == checked.spec.instruction


def test_twin_meshes_drops_only_the_splats(twin, tmp_path):
    source, splatted = load_package(resolve_env(SOURCE)), load_package(twin)
    first = twin_meshes(source, splatted, tmp_path / "meshes")
    assert not has_splats(first) and not (tmp_path / "meshes" / "splats").exists()
    assert first.spec.initial_conditions == splatted.spec.initial_conditions
    again = twin_meshes(source, splatted, tmp_path / "meshes")
    assert again.content_hash == first.content_hash
    with pytest.raises(VariantError, match="no splats"):
        twin_meshes(source, source, tmp_path / "none")


def test_source_camera_is_the_source_world_through_warmer_cameras(twin, tmp_path):
    """Everything of the source but each camera's response, which every camera gets; the
    env's images are the source's through it."""
    source, splatted = load_package(resolve_env(SOURCE)), load_package(twin)
    built = source_camera(source, splatted, tmp_path / "camera")
    assert built.spec.initial_conditions == source.spec.initial_conditions
    assert built.spec.scene == source.spec.scene and built.spec.objects == source.spec.objects
    responses = built.spec.render.camera_response
    assert set(responses) == {c.name for c in source.spec.cameras}
    assert all(
        r.gains == ANOTHER_CAMERA_GAINS and r.jpeg_quality is None for r in responses.values()
    )
    assert source_camera(source, splatted, tmp_path / "camera").content_hash == built.content_hash
    images = []
    for package in (source, built):
        env = TwinEnv(package, EnvConfig(image_size=(64, 36)))
        try:
            obs, _ = env.reset(options={"initial_condition": 0})
            images.append({c.name: obs[c.name] for c in source.spec.cameras})
        finally:
            env.close()
    for name, image in images[0].items():
        expected = respond(image, CameraResponse(gains=ANOTHER_CAMERA_GAINS))
        np.testing.assert_array_equal(images[1][name], expected)


def test_source_geometry_needs_the_twins_objects_where_the_sources_are(twin, tmp_path):
    source, splatted = load_package(resolve_env(SOURCE)), load_package(twin)
    built = source_geometry(source, splatted, tmp_path / "geometry")
    assert built.spec.scene.collision_hulls == source.spec.scene.collision_hulls
    assert built.spec.scene.splats == f"twin/{splatted.spec.scene.splats}"
    moved = tmp_path / "moved"
    write_primitive_package(moved, PrimitiveSceneConfig(splat_density=1.0, seed=1))
    with pytest.raises(VariantError, match="body frames differ"):
        source_geometry(source, load_package(moved), tmp_path / "refused")


def test_source_geometry_is_drawn_as_the_twin_draws_its_scene(tmp_path):
    source, twin = (
        load_package(resolve_env("kitchen_source")),
        load_package(resolve_env("kitchen_twin")),
    )
    built = source_geometry(source, twin, tmp_path / "geometry")
    table = built.spec.scene.table_texture
    assert table is not None and table.image == f"twin/{twin.spec.scene.table_texture.image}"
    assert table.extent == twin.spec.scene.table_texture.extent
    assert built.spec.render == twin.spec.render  # its colour maps
    assert built.spec.scene.collision_hulls == source.spec.scene.collision_hulls


def test_config_names_what_is_wrong(twin):
    with pytest.raises(EvaluateError, match="did you mean 'twin-meshes'"):
        FidelityConfig(SOURCE, str(twin), _plan(), ablations=("twin-mesh",))
    with pytest.raises(EvaluateError, match="not evaluated"):
        FidelityConfig(SOURCE, str(twin), _plan(), subsets={"x": ("scripted", "scripted:good")})
    with pytest.raises(EvaluateError, match="at least 2 policies"):
        FidelityConfig(SOURCE, str(twin), _plan(POLICIES[:1]))
    assert set(ABLATIONS) == {"twin-meshes", "source-geometry", "source-camera"}
    assert match_subset("bundle:*/cot-*", ("bundle:l/cot-a", "bundle:l/src-a")) == (
        "bundle:l/cot-a",
    )


def test_extra_initial_conditions_move_objects_alike_in_both_worlds(twin, tmp_path):
    source, splatted = load_package(resolve_env(SOURCE)), load_package(twin)
    first, second = expand_pair(source, splatted, 14, seed=0, root=tmp_path)
    for package in (first, second):
        conditions = package.spec.initial_conditions
        assert len(conditions) == 14 and conditions[:10] == source.spec.initial_conditions
        check_initial_conditions(build_scene(package), package)  # no interpenetration
    assert first.spec.initial_conditions == second.spec.initial_conditions
    for j in range(10, 14):
        base, drawn = source.spec.initial_conditions[j % 10], first.spec.initial_conditions[j]
        shift = np.subtract(drawn.objects["cube"].pos, base.objects["cube"].pos)
        assert 0 < np.abs(shift[:2]).max() <= 0.03 and shift[2] == 0
    again = expand_pair(source, splatted, 14, seed=0, root=tmp_path)
    assert again[0].content_hash == first.content_hash
