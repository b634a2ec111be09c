"""The stage runner on toy stages: caching, re-running on change, ``until``, atomic outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconstruct.errors import ReconstructError
from reconstruct.stage import Stage, StageContext, file_digest, read_summary
from reconstruct.stages import PIPELINE, get_stage, run_pipeline, stage_names


@dataclass(frozen=True)
class CopyConfig:
    suffix: str = "!"
    fail: bool = False


def make_stages(calls: list[str]) -> tuple[Stage, ...]:
    """Three toy stages: ``a`` copies the scan, ``b`` and ``c`` append to their input."""

    def copy_scan(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
        calls.append("a")
        (ctx.out_dir / "out.txt").write_text(ctx.scan.read_text() + config.suffix)
        return {"length": len(ctx.scan.read_text())}

    def appender(name: str, source: str):
        def run(ctx: StageContext, config: CopyConfig) -> dict[str, Any]:
            calls.append(name)
            text = (ctx.inputs[source] / "out.txt").read_text()
            (ctx.out_dir / "out.txt").write_text(text + config.suffix)
            (ctx.scratch_dir / "tmp.bin").write_bytes(b"scratch")
            if config.fail:
                raise ReconstructError("asked to fail")
            return {"from": source}

        return run

    return (
        Stage("a", CopyConfig, copy_scan, scan_digest=file_digest),
        Stage("b", CopyConfig, appender("b", "a"), inputs=("a",)),
        Stage("c", CopyConfig, appender("c", "b"), inputs=("b",)),
    )


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
    assert (env / "work" / "c" / "out.txt").read_text() == "table!!!"
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
    assert (env / "work" / "c" / "out.txt").read_text() == "table!?!"


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
