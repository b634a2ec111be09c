"""twinbench estimate: intervals against references, pairing errors, the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evaluate.errors import EvaluateError
from evaluate.estimate import (
    betting_interval,
    clopper_pearson_interval,
    compare,
    equal_width_trials,
    estimate,
    load_episodes,
    pair,
    plan,
    ppi_betting,
    ppi_clt,
)
from evaluate.estimate.document import EstimateDocument
from evaluate.estimate.synthetic import Scenario
from twinbench_cli import main


def _draw(rho: float, n: int, big_n: int, seed: int = 0):
    return Scenario(rho).draw(1, n, big_n, np.random.default_rng(seed))


@pytest.mark.parametrize(("rho", "n", "big_n"), [(0.0, 10, 200), (0.7, 25, 1000), (0.98, 5, 50)])
def test_ppi_clt_agrees_with_ppi_py(rho, n, big_n):
    ppi_py = pytest.importorskip("ppi_py")  # the method authors' reference (a dev dependency)
    trials = _draw(rho, n, big_n, seed=n)
    y, s, t = trials.real[0], trials.paired[0], trials.twin[0]
    ours = ppi_clt(y, s, t, confidence=0.9)
    low, high = ppi_py.ppi_mean_ci(y, s, t, alpha=0.1)
    point = ppi_py.ppi_mean_pointestimate(y, s, t)
    np.testing.assert_allclose([ours.low, ours.high], [low[0], high[0]], atol=1e-6)
    np.testing.assert_allclose(ours.estimate, point[0], atol=1e-6)
    # lam = 1 (classical PPI) through the reference's own lam argument
    lam1 = ppi_py.ppi_mean_ci(y, s, t, alpha=0.1, lam=1.0)
    assert ours.lam <= 1.0
    classical = (t.mean() + (y - s).mean(), np.sqrt(t.var() / t.size + (y - s).var() / n))
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(
        [lam1[0][0], lam1[1][0]],
        [classical[0] - z * classical[1], classical[0] + z * classical[1]],
        atol=1e-9,
    )


@pytest.mark.parametrize(
    ("spread", "n", "big_n", "lam"), [(3.0, 10, 300, 0.0), (40.0, 60, 10_000, 1.0)]
)
def test_ppi_betting_estimate_is_ppi_py_at_its_weight(spread, n, big_n, lam):
    """The finite-sample interval's point is classical PPI at the weight it reports (ppi_py
    has no betting interval to compare the bounds with; their coverage is simulated): the
    real mean with a poor twin, PPI at weight 1 with a near-perfect one."""
    ppi_py = pytest.importorskip("ppi_py")
    offset = float(np.sqrt(1 + spread**2) / np.sqrt(10))  # true rate 0.62, twin unbiased
    trials = Scenario(1.0, offset, offset, spread).draw(1, n, big_n, np.random.default_rng(n))
    y, s, t = trials.real[0], trials.paired[0], trials.twin[0]
    if lam == 0.0:  # the poor twin: agreement 0.7
        y = np.where(np.random.default_rng(0).random(n) < 0.3, 1.0 - s, s)
    ours = ppi_betting(y, s, t, confidence=0.9)
    assert ours.lam == lam
    point = ppi_py.ppi_mean_pointestimate(y, s, t, lam=lam)
    np.testing.assert_allclose(ours.estimate, point[0], atol=1e-6)
    assert ours.low <= ours.estimate <= ours.high


def test_clopper_pearson_matches_scipy():
    for k, n in [(0, 5), (3, 10), (10, 10), (17, 30)]:
        ours = clopper_pearson_interval(k, n, 0.9)
        ref = stats.binomtest(k, n).proportion_ci(0.9, method="exact")
        np.testing.assert_allclose(ours, (ref.low, ref.high), atol=1e-9)


def test_betting_interval_contains_mean_and_shrinks():
    rng = np.random.default_rng(0)
    small = rng.random(10) < 0.3
    large = rng.random(400) < 0.3
    lo_s, hi_s = betting_interval(small.astype(float), 0.9)
    lo_l, hi_l = betting_interval(large.astype(float), 0.9)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    # a rate of exactly 0 or 1 is inside (bisection alone stops short of the edge)
    assert betting_interval(np.zeros(5), 0.9)[0] == 0.0
    assert betting_interval(np.ones(5), 0.9)[1] == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        betting_interval(np.array([0.2, 1.5]), 0.9)


def test_outcomes_outside_unit_interval_are_refused():
    with pytest.raises(ValueError, match=r"real outcomes must be in \[0, 1\]"):
        ppi_clt(np.array([0.0, 2.0]), np.array([0.0, 1.0]), np.array([1.0]), 0.9)


def test_high_agreement_twin_saves_real_trials_asymptotically():
    trials = Scenario(0.98, spread=6.0).draw(1, 30, 3000, np.random.default_rng(4))
    from evaluate.estimate import PairedCell

    cell = PairedCell("p", "e", trials.real[0], trials.paired[0], trials.twin[0], 3030)
    result = estimate(cell, 0.9)
    assert result.ppi_clt.width < result.wilson.width
    assert result.saved["asymptotic"] >= 8  # >= 25% fewer real trials for the same width
    assert equal_width_trials(result.wilson.width, result.wilson.estimate, 0.9, "asymptotic") <= 31
    ahead = plan(cell, 0.1, 0.9)
    assert ahead.more_real + ahead.n_real < ahead.real_only_needed


# --- reading and pairing ---------------------------------------------------------------


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _sides(tmp_path: Path, n_real: int = 12, twin_ics: int = 60, seed: int = 1):
    rng = np.random.default_rng(seed)
    sim, real = [], []
    for policy, offset in (("good", 1.5), ("bad", -1.5)):
        for ic in range(twin_ics):
            u = rng.standard_normal()
            sim.append(
                f"{policy},table,{ic},0,{int(rng.random() < stats.norm.cdf(offset + 3 * u))}"
            )
            if ic < n_real:
                real.append(
                    f"{policy},table,{ic},{int(rng.random() < stats.norm.cdf(offset + 3 * u))}"
                )
    sim_csv = _write(tmp_path / "twin.csv", "policy,env,initial_condition,seed,success", sim)
    real_csv = _write(tmp_path / "real.csv", "policy,env,initial_condition,success", real)
    return sim_csv, real_csv


def test_pairing_uses_the_twin_at_each_real_initial_condition(tmp_path):
    sim_csv, real_csv = _sides(tmp_path)
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    cells, notes = pair(sim, real, (str(sim_csv), str(real_csv)))
    assert [(c.policy, c.n_sim, c.real.size, c.twin.size) for c in cells] == [
        ("bad", 60, 12, 48),
        ("good", 60, 12, 48),
    ]
    good = sim[(sim.policy == "good") & (sim.initial_condition < 12)]["success"].to_numpy()
    np.testing.assert_array_equal(cells[1].paired, good)
    assert notes == []


def test_twin_only_trials_are_one_per_initial_condition(tmp_path):
    """Repeated twin episodes at a condition are its prediction (their mean), on both sides:
    4 twin episodes at 2 other conditions are 2 twin-only trials, not 4."""
    sim_csv = _write(
        tmp_path / "twin.csv",
        "policy,env,initial_condition,seed,success",
        ["p,t,0,0,1", "p,t,0,1,0", "p,t,1,0,1", "p,t,1,1,1", "p,t,2,0,1", "p,t,2,1,0"]
        + ["p,t,3,0,0", "p,t,3,1,0"],
    )
    real_csv = _write(
        tmp_path / "real.csv", "policy,env,initial_condition,success", ["p,t,0,1", "p,t,1,0"]
    )
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    (cell,), _ = pair(sim, real, (str(sim_csv), str(real_csv)))
    np.testing.assert_array_equal(cell.paired, [0.5, 1.0])
    np.testing.assert_array_equal(cell.twin, [0.5, 0.0])
    assert cell.n_sim == 8


def test_the_twin_can_predict_with_its_rubric_progress(tmp_path, capsys):
    sim_csv = _write(
        tmp_path / "twin.csv",
        "policy,env,initial_condition,seed,success,progress",
        ["p,t,0,0,0,0.5", "p,t,0,1,0,0.25", "p,t,1,0,1,1", "p,t,2,0,0,0.75", "p,t,3,0,1,1"],
    )
    real_csv = _write(
        tmp_path / "real.csv", "policy,env,initial_condition,success", ["p,t,0,1", "p,t,1,0"]
    )
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    (cell,), _ = pair(sim, real, ("s", "r"), twin_score="progress")
    np.testing.assert_array_equal(cell.paired, [0.375, 1.0])
    np.testing.assert_array_equal(cell.twin, [0.75, 1.0])
    (by_success,), _ = pair(sim, real, ("s", "r"))
    np.testing.assert_array_equal(by_success.paired, [0.0, 1.0])
    with pytest.raises(SystemExit) as done:
        main(["estimate", "--sim", str(sim_csv), "--real", str(real_csv), "--twin-score",
              "progress", "-o", str(tmp_path / "r")])  # fmt: skip
    assert done.value.code == 0
    assert EstimateDocument.load(tmp_path / "r" / "estimate.json").twin_score == "progress"
    page = (tmp_path / "r" / "index.html").read_text()
    assert "the twin predicts with its progress" in page and "<th>twin r</th>" in page
    # without a progress column: one line naming the file and what it needs
    plain = _write(tmp_path / "plain.csv", "policy,env,initial_condition,success", ["p,t,0,1"])
    with pytest.raises(SystemExit) as done:
        main(["estimate", "--sim", str(plain), "--real", str(real_csv), "--twin-score", "progress"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "plain.csv" in err and "needs a progress column" in err


@pytest.mark.parametrize(
    ("sim_rows", "real_rows", "message"),
    [
        (
            ["p,t,0,0,1", "p,t,1,0,0", "p,t,2,0,1"],
            ["p,t,0,1", "p,t,7,0"],
            r"no twin episode at their initial condition \(7\)",
        ),
        (
            ["p,t,0,0,1", "p,t,1,0,0", "p,t,2,0,1"],
            ["p,t,0,1"],
            r"1 paired real trial\(s\); an interval needs at least 2 \(1 more\)",
        ),
        (
            ["p,t,0,0,1", "p,t,1,0,0"],
            ["p,t,0,1", "p,t,1,0"],
            "twin trials at other initial conditions",
        ),
        (
            ["p,t,0,0,1", "p,t,0,0,0", "p,t,1,0,1"],
            ["p,t,0,1"],
            r"duplicate episode: .*initial condition 0, seed 0 appears 2 times \(line 2; line 3\)",
        ),
        (["p,t,0,0,1", "p,t,1,0,1"], ["p,t,0,1", "p,t,0,0"], "duplicate episode"),
        (
            ["p,t,0,0,1", "p,t,1,0,1"],
            ["p,t,0,2"],
            r"line 2, column success: expected 0/1 or true/false, got '2'",
        ),
        (["q,t,0,0,1", "q,t,1,0,1"], ["p,t,0,1", "p,t,1,0"], "no twin episode in"),
    ],
)
def test_bad_pairs_are_one_clear_error(tmp_path, sim_rows, real_rows, message):
    sim_csv = _write(tmp_path / "twin.csv", "policy,env,initial_condition,seed,success", sim_rows)
    real_csv = _write(tmp_path / "real.csv", "policy,env,initial_condition,success", real_rows)
    with pytest.raises(EvaluateError, match=message):
        sim, _ = load_episodes(sim_csv)
        real, _ = load_episodes(real_csv)
        pair(sim, real, (str(sim_csv), str(real_csv)))


def test_two_real_trials_at_one_condition_are_refused(tmp_path):
    sim_csv = _write(
        tmp_path / "twin.csv",
        "policy,env,initial_condition,seed,success",
        ["p,t,0,0,1", "p,t,1,0,0", "p,t,2,0,1"],
    )
    real_csv = _write(
        tmp_path / "real.csv",
        "policy,env,initial_condition,seed,success",
        ["p,t,0,0,1", "p,t,0,1,0", "p,t,1,0,1"],
    )
    sim, _ = load_episodes(sim_csv)
    real, _ = load_episodes(real_csv)
    with pytest.raises(EvaluateError, match="2 real trials at initial condition 0"):
        pair(sim, real, (str(sim_csv), str(real_csv)))


def test_a_csv_without_initial_conditions_names_the_columns(tmp_path):
    path = _write(tmp_path / "real.csv", "policy,env,success", ["p,t,1"])
    with pytest.raises(
        EvaluateError, match=r"real.csv: header: missing column\(s\) initial_condition"
    ):
        load_episodes(path)


# --- the command ---------------------------------------------------------------------


def test_cli_json_is_the_issue_document(tmp_path, capsys):
    sim_csv, real_csv = _sides(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(
            [
                "estimate",
                "--sim",
                str(sim_csv),
                "--real",
                str(real_csv),
                "--json",
                "-o",
                str(tmp_path / "report"),
                "--plan",
                "--width",
                "0.2",
            ]
        )
    assert done.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"confidence", "policies", "pairs", "plan"}
    assert out["confidence"] == 0.9
    first = out["policies"][0]
    assert set(first) == {"policy", "env", "real_only", "ppi", "real_trials_saved"}
    assert set(first["real_only"]) == {"estimate", "low", "high", "n"}
    assert set(first["ppi"]) == {"estimate", "low", "high", "n_real", "n_sim"}
    assert first["ppi"]["n_real"] == 12 and first["ppi"]["n_sim"] == 60
    for item in out["policies"]:
        assert item["ppi"]["low"] <= item["ppi"]["estimate"] <= item["ppi"]["high"]
    (difference,) = out["pairs"]
    assert (difference["better"], difference["worse"]) == ("good", "bad")
    assert difference["settled"] == (difference["low"] > 0)
    document = EstimateDocument.load(tmp_path / "report" / "estimate.json")
    assert document.summary() == out
    assert (tmp_path / "report" / "index.html").read_text().count("data:image/png;base64") == 1


def test_cli_reports_the_trial_correlation_and_why_nothing_was_saved(tmp_path, capsys):
    sim_csv, real_csv = _sides(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(
            ["estimate", "--sim", str(sim_csv), "--real", str(real_csv), "-o", str(tmp_path / "r")]
        )
    assert done.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    document = EstimateDocument.load(tmp_path / "r" / "estimate.json")
    cells, _ = pair(load_episodes(sim_csv)[0], load_episodes(real_csv)[0], ("s", "r"))
    for cell, result in zip(cells, document.policies, strict=True):
        varies = cell.real.std() > 0 and cell.paired.std() > 0  # else r is 0, not NaN
        r = np.corrcoef(cell.real, cell.paired)[0, 1] if varies else 0.0
        assert result.trial_correlation == pytest.approx(r)
    unsaved = [c for c in document.policies if c.real_trials_saved["finite-sample"] == 0]
    assert unsaved  # 12 pairs: the betting interval is wider than the exact one
    squares = sorted(c.trial_correlation**2 for c in unsaved)
    assert f"r^2 here: {squares[0]:.2f}-{squares[-1]:.2f}" in printed
    assert f"saved no real trials for {len(unsaved)} of 2 policies" in printed


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    sim_csv = _write(
        tmp_path / "twin.csv", "policy,env,initial_condition,success", ["p,t,0,1", "p,t,1,0"]
    )
    real_csv = _write(tmp_path / "real.csv", "policy,env,initial_condition,success", ["p,t,5,1"])
    with pytest.raises(SystemExit) as done:
        main(["estimate", "--sim", str(sim_csv), "--real", str(real_csv)])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no twin episode at their initial condition (5)" in err


def test_pair_differences_asymptotic_and_finite(tmp_path):
    sim_csv, real_csv = _sides(tmp_path, n_real=30, twin_ics=200)
    cells, _ = pair(load_episodes(sim_csv)[0], load_episodes(real_csv)[0], ("s", "r"))
    estimates = [estimate(c, 0.9) for c in cells]
    for family in ("asymptotic", "finite-sample"):
        (d,) = compare(estimates, 0.9, family)
        assert d.better == "good" and d.low <= d.difference <= d.high
    wide = compare(estimates, 0.9, "finite-sample")[0]
    narrow = compare(estimates, 0.9, "asymptotic")[0]
    assert wide.high - wide.low > narrow.high - narrow.low


def test_cli_reads_stores_with_runs_and_an_env_map(store_location, capsys):
    """Twin and real episodes in one store (as the fidelity study records them), an SQLite
    file or a postgresql:// URL as correlate takes: --run picks the twin's run, --real-run
    the real one's, --env-map names the twin's env as the real one."""
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    rng = np.random.default_rng(2)
    path = store_location
    with ResultsStore.open(path) as store:
        for run in ("twin-run", "real-run"):
            store.add_run({"side": run}, run_id=run)
        for ic in range(40):
            u = rng.standard_normal()
            for run, env, count in (("twin-run", "table_twin", 40), ("real-run", "table", 15)):
                if ic >= count:
                    continue
                diverged = run == "twin-run" and ic == 39
                outcome = EpisodeOutcome(
                    success=bool(rng.random() < stats.norm.cdf(1 + 3 * u)) and not diverged,
                    progress=0.0,
                    criteria={},
                    length_steps=10,
                    wall_time_s=1.0,
                    latency_mean_s=0.01,
                    latency_max_s=0.01,
                    failure_kind="diverged" if diverged else None,
                    failure_reason="simulation diverged at step 3" if diverged else None,
                )
                key = EpisodeKey("pi0", env, "h" * 64, ic, ic)
                store.record_episode(EpisodeRecord(run, key, outcome))
    args = ["estimate", "--sim", str(path), "--run", "twin-run", "--real", str(path)]
    with pytest.raises(SystemExit) as done:
        main([*args, "--real-run", "real-run", "--env-map", "table_twin=table", "--json"])
    assert done.value.code == 0
    captured = capsys.readouterr()
    (cell,) = json.loads(captured.out)["policies"]
    assert (cell["env"], cell["ppi"]["n_real"], cell["ppi"]["n_sim"]) == ("table", 15, 39)
    assert "1 diverged twin episode(s) left out" in captured.err
    with pytest.raises(SystemExit):  # without the map the twin's env is not the real one's
        main([*args, "--real-run", "real-run"])
    assert "use --env-map TWIN_ENV=REAL_ENV" in capsys.readouterr().err


def test_cli_reads_twin_episodes_from_several_runs(tmp_path, capsys):
    """Twin trials recorded over two evaluation runs: --run twice takes both, once one."""
    from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

    rng = np.random.default_rng(3)
    path = tmp_path / "results.sqlite"
    with ResultsStore.open(path) as store:
        for run in ("twin-a", "twin-b", "real"):
            store.add_run({"side": run}, run_id=run)
        for ic in range(40):
            u = rng.standard_normal()
            sides = [("twin-a" if ic < 20 else "twin-b", "table_twin"), ("real", "table")]
            for run, env in sides if ic < 15 else sides[:1]:
                success = bool(rng.random() < stats.norm.cdf(1 + 3 * u))
                outcome = EpisodeOutcome(success, 0.0, {}, 10, 1.0, 0.01, 0.01)
                store.record_episode(
                    EpisodeRecord(run, EpisodeKey("pi0", env, "h" * 64, ic, ic), outcome)
                )
    args = ["estimate", "--sim", str(path), "--real", str(path), "--real-run", "real"]
    args += ["--env-map", "table_twin=table", "--json"]
    n_sim = []
    for runs in (["--run", "twin-a", "--run", "twin-b"], ["--run", "twin-a"]):
        with pytest.raises(SystemExit) as done:
            main([*args, *runs])
        assert done.value.code == 0
        (cell,) = json.loads(capsys.readouterr().out)["policies"]
        n_sim.append(cell["ppi"]["n_sim"])
    assert n_sim == [40, 20]
    with pytest.raises(SystemExit):
        main([*args, "--run", "twin-a", "--run", "no-such-run"])
    assert "no-such-run" in capsys.readouterr().err


def test_cli_asymptotic_leads_with_wilson_and_ppi_plus_plus(tmp_path, capsys):
    from evaluate.metrics import wilson_interval

    sim_csv, real_csv = _sides(tmp_path)
    with pytest.raises(SystemExit):
        main(["estimate", "--sim", str(sim_csv), "--real", str(real_csv), "--json", "--asymptotic"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    real, _ = load_episodes(real_csv)
    bad = real[real.policy == "bad"]["success"]
    low, high = wilson_interval(bad.sum(), bad.size, 0.9)
    first = out["policies"][0]
    assert first["policy"] == "bad"
    assert (first["real_only"]["low"], first["real_only"]["high"]) == pytest.approx(
        (float(low), float(high))
    )
    assert "PPI++ covered well below its level" in " ".join(captured.err.split())


def test_a_useless_twin_plans_real_trials_only():
    from evaluate.estimate import PairedCell

    trials = Scenario(0.0).draw(1, 20, 500, np.random.default_rng(5))
    twin = np.random.default_rng(6).random(500) < 0.5  # unrelated to the real outcomes
    cell = PairedCell("p", "e", trials.real[0], trials.paired[0], twin.astype(float), 520)
    ahead = plan(cell, 0.1, 0.9)
    assert ahead.more_twin == 0
    assert ahead.n_real + ahead.more_real == ahead.real_only_needed
    rate = (cell.real.sum() + 2) / 24
    assert ahead.real_only_needed == int(
        np.ceil(rate * (1 - rate) / (0.1 / (2 * stats.norm.ppf(0.95))) ** 2)
    )
