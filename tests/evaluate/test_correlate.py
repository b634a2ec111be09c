"""Per-env and pooled correlation, the bootstrap, the report directory and the CLI end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from evaluate.correlation import BootstrapConfig, Cell, RateTable, correlate
from evaluate.correlation.bootstrap import percentile_interval, resample_rates
from evaluate.documents import CorrelationReportDocument
from evaluate.errors import EvaluateError
from evaluate.metrics import mmrv, pearson
from twinbench_cli import main

POLICIES = ["rt-2-x", "rt-1-converged", "rt-1-15pct", "rt-1-x", "rt-1-begin", "octo-base"]
SIMPLER = {  # env -> (sim, real), SIMPLER's Google-robot numbers
    "pick_coke_can": (
        [0.787, 0.857, 0.710, 0.567, 0.027, 0.170],
        [0.907, 0.853, 0.920, 0.760, 0.133, 0.293],
    ),
    "move_near": (
        [0.779, 0.442, 0.354, 0.317, 0.050, 0.042],
        [0.733, 0.633, 0.583, 0.450, 0.017, 0.350],
    ),
}
METRIC_KEYS = {"pearson", "mmrv", "spearman", "kendall", "n_policies", "ci"}


def _rate_tables() -> tuple[RateTable, RateTable]:
    sides = [
        RateTable(
            name,
            {
                (p, env): Cell(rates[side][i])
                for env, rates in SIMPLER.items()
                for i, p in enumerate(POLICIES)
            },
        )
        for side, name in ((0, "sim.csv"), (1, "real.csv"))
    ]
    return sides[0], sides[1]


def _episode_tables(n_episodes: int, seed: int = 0) -> tuple[RateTable, RateTable]:
    """Bernoulli episodes drawn at SIMPLER's rates, on both sides."""
    rng = np.random.default_rng(seed)
    sides = []
    for side in (0, 1):
        cells = {
            (p, env): Cell.from_samples(rng.random(n_episodes) < rates[side][i])
            for env, rates in SIMPLER.items()
            for i, p in enumerate(POLICIES)
        }
        sides.append(RateTable(f"side{side}", cells))
    return sides[0], sides[1]


def test_per_env_and_pooled_follow_simpler():
    sim, real = _rate_tables()
    report = correlate(sim, real, "success")
    coke = report.per_env["pick_coke_can"]
    assert coke.values["mmrv"] == pytest.approx(0.0313, abs=1e-3)
    assert coke.values["pearson"] == pytest.approx(0.9754, abs=1e-3)
    assert report.per_env["move_near"].values["mmrv"] == pytest.approx(0.1110, abs=1e-3)
    pooled_sim, pooled_real = (
        np.mean([SIMPLER[e][side] for e in SIMPLER], axis=0) for side in (0, 1)
    )
    assert report.pooled.values["pearson"] == pytest.approx(pearson(pooled_sim, pooled_real))
    assert report.pooled.values["mmrv"] == pytest.approx(mmrv(pooled_sim, pooled_real))
    assert (
        coke.intervals is None and coke.summary()["ci"] is None
    )  # rates only: nothing to resample
    summary = report.summary()
    assert set(summary) == {"per_env", "pooled"}
    assert set(summary["per_env"]["move_near"]) == METRIC_KEYS == set(summary["pooled"])
    assert summary["pooled"]["n_policies"] == 6


def test_rank_disagreements_are_flagged():
    sim, real = _rate_tables()
    points = {p.policy: p for p in correlate(sim, real, "success").per_env["pick_coke_can"].points}
    # real ranks rt-1-15pct first and rt-1-converged third; sim ranks them third and first
    assert points["rt-1-15pct"].rank_disagrees and points["rt-1-converged"].rank_disagrees
    assert not points["rt-1-begin"].rank_disagrees
    assert points["rt-1-15pct"].max_violation == pytest.approx(0.920 - 0.853)


def test_partial_overlap_is_noted_and_pooled_over_complete_policies():
    sim, real = _rate_tables()
    sim_cells = dict(sim.cells)
    del sim_cells["octo-base", "move_near"]
    sim_cells["sim-only", "pick_coke_can"] = Cell(0.5)
    real_cells = {
        k: v for k, v in real.cells.items() if k[0] in POLICIES[:2] or k[1] == "pick_coke_can"
    }
    real_cells["rt-1-x", "real_only_env"] = Cell(0.5)
    report = correlate(
        RateTable("sim.csv", sim_cells), RateTable("real.csv", real_cells), "success"
    )
    assert report.per_env["pick_coke_can"].n_policies == 6
    assert report.per_env["move_near"].n_policies == 2
    assert [p.policy for p in report.pooled.points] == sorted(POLICIES[:2])
    notes = "\n".join(report.notes)
    assert (
        "env 'real_only_env' only in real.csv" in notes
        and "policy 'sim-only' only in sim.csv" in notes
    )
    assert "pooled leaves out" in notes and "octo-base" in notes


def test_no_shared_policies_is_a_clear_error():
    sim, real = _rate_tables()
    renamed = RateTable("real.csv", {(f"other-{p}", e): c for (p, e), c in real.cells.items()})
    with pytest.raises(EvaluateError, match="no environment has 2 or more policies") as info:
        correlate(sim, renamed, "success")
    assert info.value.file == "real.csv"


def test_bootstrap_is_seeded_and_its_intervals_shrink_with_more_episodes():
    few, many = _episode_tables(20), _episode_tables(400)
    config = BootstrapConfig(n_resamples=500, seed=3)
    first = correlate(*few, "success", config).summary()
    assert first == correlate(*few, "success", config).summary()
    assert first != correlate(*few, "success", BootstrapConfig(n_resamples=500, seed=4)).summary()

    def width(tables):
        low, high = correlate(*tables, "success", config).pooled.intervals["pearson"]
        return high - low

    assert width(many) < width(few)
    low, high = correlate(*many, "success", config).pooled.intervals["pearson"]
    assert low <= correlate(*many, "success", config).pooled.values["pearson"] <= high


def test_resampled_bernoulli_rates_have_binomial_spread():
    cell = Cell.from_counts(15, 50)
    draws = resample_rates(cell, 20000, np.random.default_rng(0))
    assert draws.mean() == pytest.approx(0.3, abs=0.005)
    assert draws.std() == pytest.approx(np.sqrt(0.3 * 0.7 / 50), rel=0.05)
    np.testing.assert_array_equal(resample_rates(Cell(0.4), 3, np.random.default_rng(0)), [0.4] * 3)
    low, high = percentile_interval(np.arange(101.0), 0.9)
    assert (low, high) == pytest.approx((5.0, 95.0))


def test_bootstrap_of_6_policies_by_50_episodes_is_fast():
    sim, real = _episode_tables(50)
    start = time.perf_counter()
    report = correlate(sim, real, "success", BootstrapConfig(n_resamples=1000))
    elapsed = time.perf_counter() - start
    assert report.per_env["pick_coke_can"].intervals is not None
    assert elapsed < 1.0, f"2 envs x 6 policies x 50 episodes, 1000 resamples took {elapsed:.2f} s"


def _write_episode_csv(path: Path, tables: tuple[RateTable, RateTable], side: int) -> None:
    lines = ["policy,env,success,progress"]
    for (policy, env), cell in tables[side].cells.items():
        lines += [f"{policy},{env},{int(s)},{0.5 + s / 2}" for s in cell.samples]
    path.write_text("\n".join(lines) + "\n")


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["correlate", *args])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_cli_json_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    tables = _episode_tables(30)
    _write_episode_csv(tmp_path / "sim.csv", tables, 0)
    _write_episode_csv(tmp_path / "real.csv", tables, 1)
    out = tmp_path / "report"
    code, stdout, stderr = _run_cli(
        [
            "--sim",
            str(tmp_path / "sim.csv"),
            "--real",
            str(tmp_path / "real.csv"),
            "-o",
            str(out),
            "--json",
            "--resamples",
            "200",
        ],
        capsys,
    )
    assert code == 0, stderr
    summary = json.loads(stdout)  # stdout holds the JSON and nothing else
    assert set(summary) == {"per_env", "pooled"} and set(summary["per_env"]) == set(SIMPLER)
    assert set(summary["pooled"]) == METRIC_KEYS
    assert set(summary["pooled"]["ci"]) == {
        "level",
        "n_resamples",
        "pearson",
        "mmrv",
        "spearman",
        "kendall",
    }
    assert "pooled" in stderr and "Pearson" in stderr  # the table went to stderr

    report = CorrelationReportDocument.load(out / "report.json")
    assert report.primary == "success" and set(report.results) == {"success", "progress"}
    pooled = report.results["success"].pooled
    assert pooled.pearson == summary["pooled"]["pearson"]
    assert pooled.flagged == [p.policy for p in pooled.policies if p.flagged]
    assert report.inputs.real.label == "real" and report.inputs.real.excluded == {}
    plots = sorted(p.name for p in out.glob("*.png"))
    assert len(plots) == 6  # (2 envs + pooled) x (success, progress)
    assert all((out / name).read_bytes().startswith(b"\x89PNG") for name in plots)
    index = (out / "index.html").read_text()
    assert index.count("data:image/png;base64,") == 6 and "move_near" in index


def test_cli_without_json_prints_the_table_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    real = tmp_path / "real.csv"
    real.write_text(
        "policy,env,successes,trials\n" + "".join(f"{p},e,{i},10\n" for i, p in enumerate(POLICIES))
    )
    sim = tmp_path / "sim.csv"
    sim.write_text(
        "policy,env,success_rate\n"
        + "".join(f"{p},e,{i / 8}\n" for i, p in enumerate(POLICIES[::-1]))
    )
    code, stdout, _ = _run_cli(
        ["--sim", str(sim), "--real", str(real), "-o", str(tmp_path / "r")], capsys
    )
    assert code == 0
    assert "Pearson r -1.000" in stdout and "MMRV 0.400" in stdout and "Kendall -1.000" in stdout


def test_cli_user_errors_exit_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    sim = tmp_path / "sim.csv"
    sim.write_text("policy,env,success_rate\na,e,0.5\nb,e,0.7\n")
    real = tmp_path / "real.csv"
    real.write_text("policy,env,success_rate\na,e,0.5\nb,e,1.7\n")
    code, stdout, stderr = _run_cli(
        ["--sim", str(sim), "--real", str(real), "-o", str(tmp_path / "r"), "--json"], capsys
    )
    assert code == 2 and stdout == ""
    assert f"{real}: line 3, column success_rate" in stderr
    real.write_text("policy,env,success_rate\na,e,0.5\nb,e,0.7\n")
    code, _, stderr = _run_cli(
        ["--sim", str(sim), "--real", str(real), "-o", str(tmp_path / "r"), "--metric", "progress"],
        capsys,
    )
    assert code == 2 and "--metric progress needs a progress column" in stderr


@pytest.mark.parametrize("output", ["report.html", "report.html/sub"])
def test_cli_output_that_is_a_file_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
):
    """Issue 22: ``-o`` naming an existing file (or a path under one) was a FileExistsError."""
    sides = tmp_path / "sides.csv"
    sides.write_text("policy,env,success_rate\na,e,0.5\nb,e,0.7\n")
    (tmp_path / "report.html").write_text("an earlier report")
    args = ["--sim", str(sides), "--real", str(sides), "-o", str(tmp_path / output)]
    code, _, stderr = _run_cli(args, capsys)
    assert code == 2 and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(f"twinbench: error: {tmp_path / 'report.html'}: exists and is not a")
    assert (tmp_path / "report.html").read_text() == "an earlier report"
