"""The stage runner on toy stages: caching, re-running on change, ``until``, atomic outputs,
typed outputs; and the real pipeline's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconstruct.errors import ReconstructError
from reconstruct.stage import (
    Stage,
    StageContext,
    missing_outputs,
    output_paths,
    read_summary,
)
from reconstruct.stages import PIPELINE, get_stage, run_pipeline, stage_names
from twinbench.digests import file_digest


@dataclass(frozen=True)
class CopyConfig:
    suffix: str = "!"
    fail: bool = False


@dataclass(frozen=True)
class TextOutputs:
    text: Path

    @classmethod
    def at(cls, folder: Path) -> TextOutputs:
        return cls(folder / "out.txt")


def make_stages(calls: list[str]) -> tuple[Stage[TextOutputs], ...]:
    """Three toy stages: ``a`` copies the scan, ``b`` and ``c`` append to their input."""

    def copy_scan(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
        calls.append("a")
        TextOutputs.at(ctx.out_dir).text.write_text(ctx.scan.read_text() + config.suffix)
        return {"length": len(ctx.scan.read_text())}

    def appender(name: str, source: Stage[TextOutputs]):
        def run(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
            calls.append(name)
            text = ctx.input(source).text.read_text()
            TextOutputs.at(ctx.out_dir).text.write_text(text + config.suffix)
            (ctx.scratch_dir / "tmp.bin").write_bytes(b"scratch")
            if config.fail:
                raise ReconstructError("asked to fail")
            return {"from": source.name}

        return run

    a = Stage("a", CopyConfig, copy_scan, scan_digest=file_digest, outputs_at=TextOutputs.at)
    b = Stage("b", CopyConfig, appender("b", a), inputs=("a",), outputs_at=TextOutputs.at)
    c = Stage("c", CopyConfig, appender("c", b), inputs=("b",), outputs_at=TextOutputs.at)
    return a, b, c


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    path = tmp_path / "scan.txt"
    path.write_text("table")
    return path


def leftovers(env: Path) -> list[str]:
    return sorted(p.name for p in (env / "work").iterdir() if p.name.startswith("."))


def test_rerun_skips_unchanged_stages(tmp_path: Path, scan: Path) -> None:
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    first = run_pipeline(scan, env, stages=stages, show_progress=False)
    assert [r.status for r in first] == ["ran", "ran", "ran"]
    assert stages[2].outputs(env / "work").text.read_text() == "table!!!"
    summary = read_summary(env / "work" / "a")
    assert summary is not None and summary["length"] == 5 and summary["run"]["key"]
    second = run_pipeline(scan, env, stages=stages, show_progress=False)
    assert [r.status for r in second] == ["skipped"] * 3
    assert calls == ["a", "b", "c"]
    assert second[2].summary["from"] == "b"
    assert leftovers(env) == []


def test_a_changed_config_reruns_that_stage_and_the_ones_after(tmp_path: Path, scan: Path) -> None:
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    run_pipeline(scan, env, stages=stages, show_progress=False)
    calls.clear()
    results = run_pipeline(
        scan, env, stages=stages, configs={"b": CopyConfig("?")}, show_progress=False
    )
    assert [r.status for r in results] == ["skipped", "ran", "ran"]
    assert calls == ["b", "c"]
    assert stages[2].outputs(env / "work").text.read_text() == "table!?!"


def test_a_changed_scan_reruns_everything(tmp_path: Path, scan: Path) -> None:
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    run_pipeline(scan, env, stages=stages, show_progress=False)
    scan.write_text("chair")
    results = run_pipeline(scan, env, stages=stages, show_progress=False)
    assert [r.status for r in results] == ["ran", "ran", "ran"]


def test_until_stops_early_and_rerunning_a_stage_drops_stale_later_ones(
    tmp_path: Path, scan: Path
) -> None:
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    results = run_pipeline(scan, env, until="b", stages=stages, show_progress=False)
    assert [r.name for r in results] == ["a", "b"]
    assert not (env / "work" / "c").exists()
    run_pipeline(scan, env, stages=stages, show_progress=False)
    run_pipeline(
        scan, env, until="a", stages=stages, configs={"a": CopyConfig("#")}, show_progress=False
    )
    assert (env / "work" / "a").is_dir()
    assert not (env / "work" / "b").exists() and not (env / "work" / "c").exists()


def test_unknown_until_lists_the_valid_stages() -> None:
    with pytest.raises(ReconstructError, match=r"frames, sfm, align.*Did you mean 'sfm'"):
        get_stage("sfn")
    with pytest.raises(ReconstructError, match="valid stages"):
        run_pipeline(Path("x"), Path("y"), until="mesh-soon", show_progress=False)
    assert stage_names()[:3] == ["frames", "sfm", "align"]
    assert [s.name for s in PIPELINE] == stage_names()


def test_a_failing_stage_leaves_no_partial_output(tmp_path: Path, scan: Path) -> None:
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    with pytest.raises(ReconstructError, match="asked to fail"):
        run_pipeline(
            scan, env, stages=stages, configs={"b": CopyConfig(fail=True)}, show_progress=False
        )
    assert (env / "work" / "a" / "summary.json").is_file()
    assert not (env / "work" / "b").exists()
    assert leftovers(env) == []
    results = run_pipeline(scan, env, stages=stages, show_progress=False)
    assert [r.status for r in results] == ["skipped", "ran", "ran"]


def test_the_progress_display_runs(tmp_path: Path, scan: Path) -> None:
    results = run_pipeline(scan, tmp_path / "env", stages=make_stages([]), show_progress=True)
    assert [r.status for r in results] == ["ran"] * 3


def test_configs_for_unknown_stages_are_refused(tmp_path: Path, scan: Path) -> None:
    with pytest.raises(ReconstructError, match="unknown stage 'd'"):
        run_pipeline(scan, tmp_path / "env", stages=make_stages([]), configs={"d": CopyConfig()})


def test_a_stage_whose_outputs_are_missing_runs_again(tmp_path: Path, scan: Path) -> None:
    """A folder from an older layout (its file under another name) is run again, not read;
    the stages after it too, as after any rerun."""
    calls: list[str] = []
    stages = make_stages(calls)
    env = tmp_path / "env"
    run_pipeline(scan, env, stages=stages, show_progress=False)
    old = stages[1].outputs(env / "work").text
    old.rename(old.with_name("scene.txt"))
    calls.clear()
    results = run_pipeline(scan, env, stages=stages, show_progress=False)
    assert [r.status for r in results] == ["skipped", "ran", "ran"] and calls == ["b", "c"]
    assert not missing_outputs(stages[1].outputs(env / "work"))


def test_a_stage_must_write_its_outputs(tmp_path: Path, scan: Path) -> None:
    def forgetful(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
        return {}

    stage = Stage("a", CopyConfig, forgetful, scan_digest=file_digest, outputs_at=TextOutputs.at)
    with pytest.raises(RuntimeError, match=r"did not write its outputs.*out\.txt"):
        run_pipeline(scan, tmp_path / "env", stages=(stage,), show_progress=False)
    assert not (tmp_path / "env" / "work" / "a").exists() and leftovers(tmp_path / "env") == []


def test_reading_an_undeclared_or_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    a, b, _ = make_stages([])
    ctx = StageContext(tmp_path, tmp_path / "out", tmp_path, {"a": tmp_path / "a"})
    with pytest.raises(ValueError, match="does not list it in its inputs"):
        ctx.input(b)
    with pytest.raises(
        ReconstructError, match=r"a/out.txt: the a stage's output 'text' is missing"
    ):
        ctx.input(a)


def test_no_two_pipeline_stages_share_an_output_path_or_file_name(tmp_path: Path) -> None:
    owners: dict[Path, str] = {}
    for stage in PIPELINE:
        paths = output_paths(stage.outputs(tmp_path))
        assert paths, f"{stage.name} declares no outputs"
        for path in paths.values():
            assert path.is_relative_to(tmp_path / stage.name)  # inside its atomic folder
            assert path not in owners, (stage.name, owners.get(path), path)
            owners[path] = stage.name
    files = [p for p in owners if p.suffix]
    named = {p.name: owners[p] for p in files}
    assert len(named) == len(files), sorted(p.name for p in files)  # e.g. scene.ply twice


@dataclass(frozen=True)
class PlaceConfig:
    base: str = "left"


def test_a_new_robot_base_reruns_only_the_stages_that_read_it(tmp_path: Path, scan: Path) -> None:
    """The align stage's top-down picture depends on the base, its model does not: a new base
    leaves the splats (which ignore placement) cached and reruns the package (which reads it).
    Before, any rerun of a stage removed every later stage: a new --base retrained the splats."""
    calls: list[str] = []

    def place(ctx: StageContext, config: PlaceConfig) -> dict[str, Any]:
        calls.append("align")
        (ctx.out_dir / "model.txt").write_text(ctx.scan.read_text())
        (ctx.out_dir / "picture.txt").write_text(f"base at {config.base}")
        return {"base": config.base}

    def reader(name: str, source: str):
        def run(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
            calls.append(name)
            (ctx.out_dir / "out.txt").write_text(
                (ctx.inputs[source.split("/")[0]] / source.split("/")[1]).read_text()
            )
            return {}

        return run

    stages = (
        Stage("align", PlaceConfig, place, scan_digest=file_digest,
              placement_files=frozenset({"picture.txt"})),
        Stage("splats", CopyConfig, reader("splats", "align/model.txt"), inputs=("align",),
              reads_placement=False),
        Stage("mesh", CopyConfig, reader("mesh", "splats/out.txt"), inputs=("splats",),
              reads_placement=False),
        Stage("package", CopyConfig, reader("package", "align/picture.txt"),
              inputs=("align", "mesh")),
    )  # fmt: skip
    env = tmp_path / "env"
    run_pipeline(scan, env, stages=stages, show_progress=False)
    moved = run_pipeline(
        scan, env, stages=stages, configs={"align": PlaceConfig("right")}, show_progress=False
    )
    assert [r.status for r in moved] == ["ran", "skipped", "skipped", "ran"]
    scan.write_text("another table")  # the model changes: everything after it runs
    again = run_pipeline(
        scan, env, stages=stages, configs={"align": PlaceConfig("right")}, show_progress=False
    )
    assert [r.status for r in again] == ["ran", "ran", "ran", "ran"]
    every = ["align", "splats", "mesh", "package"]
    assert calls == [*every, "align", "package", *every]
