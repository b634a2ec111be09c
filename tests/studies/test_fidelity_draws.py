"""A study's ladder ranked over other training draws of some of its rungs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fidelity.draws import (
    draw_rows,
    drawn_rungs,
    every_draw,
    main,
    recipe_rates,
    replace_rungs,
    study_rates,
)

STUDY = {"src-a": (0.1, 0.2), "src-b": (0.5, 0.4), "cot-a": (0.3, 0.3), "cot-b": (0.8, 0.6)}
SEED2 = {"cot-a": (0.4, 0.5), "cot-b": (0.7, 0.9)}


def _write(path: Path, rates: dict[str, tuple[float, float]]) -> Path:
    policies = [
        {
            "policy": f"bundle:ladder/{name}",
            "worlds": {
                "source": {"success": s, "progress": s / 2},
                "twin": {"success": t, "progress": t / 2},
            },
        }
        for name, (s, t) in rates.items()
    ]
    path.write_text(json.dumps({"schema_version": 1, "policies": policies}))
    return path


def _pearson(rates: dict[str, tuple[float, float]]) -> float:
    pairs = np.array(list(rates.values()))
    return float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1])


def test_a_study_reads_as_rung_rates_by_short_name_for_either_quantity(tmp_path):
    path = _write(tmp_path / "fidelity.json", STUDY)
    assert study_rates(path) == STUDY
    assert study_rates(path, "progress")["cot-b"] == (0.4, 0.3)


def test_a_draw_replaces_its_rungs_and_the_ranking_is_pearson_and_mmrv_of_that_ladder():
    ladder = replace_rungs(STUDY, SEED2, "seed2")
    assert ladder == {
        "src-a": (0.1, 0.2),
        "src-b": (0.5, 0.4),
        "cot-a": (0.4, 0.5),
        "cot-b": (0.7, 0.9),
    }
    rows = draw_rows(STUDY, {"seed2": SEED2}, "seed0")
    assert rows["draw/seed2"]["pearson"] == pytest.approx(_pearson(ladder), abs=1e-6)
    assert rows["draw/seed0"]["pearson"] == pytest.approx(_pearson(STUDY), abs=1e-6)
    # seed2's twin calls cot-a (0.4 real) over src-b (0.5 real): the two violate by 0.1 each
    assert rows["draw/seed2"]["mmrv"] == pytest.approx(0.2 / 4)
    # the study's own ladder keeps the source's order: no violation
    assert rows["draw/seed0"]["mmrv"] == 0.0
    assert rows["draws/mean"]["mmrv"] == pytest.approx(0.025)
    assert rows["draws/lowest"]["pearson"] == pytest.approx(
        min(_pearson(ladder), _pearson(STUDY)), abs=1e-6
    )
    assert rows["draw/seed2"]["policies"] == 4


def test_the_recipe_averages_each_drawn_rung_over_its_draws_in_both_worlds():
    seed3 = {"cot-a": (0.2, 0.1)}
    recipe = recipe_rates(STUDY, {"seed2": SEED2, "seed3": seed3})
    assert recipe["src-a"] == (0.1, 0.2)
    assert recipe["cot-a"] == pytest.approx((0.3, 0.3))  # (0.3+0.4+0.2)/3, (0.3+0.5+0.1)/3
    assert recipe["cot-b"] == pytest.approx((0.75, 0.75))
    rows = draw_rows(STUDY, {"seed2": SEED2, "seed3": seed3}, "seed0")
    assert rows["recipe"]["pearson"] == pytest.approx(_pearson(recipe), abs=1e-6)


def test_every_draw_ranks_each_checkpoint_as_its_own_policy():
    ladder = every_draw(STUDY, {"seed2": SEED2}, "seed0")
    assert sorted(ladder) == [
        "cot-a@seed0",
        "cot-a@seed2",
        "cot-b@seed0",
        "cot-b@seed2",
        "src-a",
        "src-b",
    ]
    assert draw_rows(STUDY, {"seed2": SEED2}, "seed0")["every-draw"]["policies"] == 6


def test_bad_draws_are_named():
    with pytest.raises(ValueError, match=r"draw 'seed2'.*'cot-z'"):
        replace_rungs(STUDY, {"cot-z": (0.1, 0.1)}, "seed2")
    with pytest.raises(ValueError, match="no rung matches 'aug-\\*'"):
        drawn_rungs(SEED2, "aug-*", "seed2")
    with pytest.raises(ValueError, match="also a draw's"):
        draw_rows(STUDY, {"seed0": SEED2}, "seed0")


def test_a_malformed_study_names_the_file_and_field(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"policies": [{"policy": "bundle:x/a", "worlds": {}}]}))
    with pytest.raises(
        ValueError, match=r"broken.json: policies\[0\] has no worlds.source.success"
    ):
        study_rates(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"pearson": 1.0}))
    with pytest.raises(ValueError, match=r"other\.json: no 'policies' list"):
        study_rates(other)
    twice = _write(tmp_path / "twice.json", STUDY)
    document = json.loads(twice.read_text())
    document["policies"].append(document["policies"][0])
    twice.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="'src-a' appears twice"):
        study_rates(twice)


def test_the_command_prints_figures_and_writes_the_table_and_picture(tmp_path, capsys):
    study = _write(tmp_path / "study.json", STUDY)
    draw = _write(tmp_path / "draw.json", {"src-a": (0.9, 0.9), **SEED2})
    main([str(study), "--draw", f"seed2={draw}", "--rungs", "cot-*", "--out", str(tmp_path / "o")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    pearson = {row["case"]: row["value"] for row in lines if row["metric"] == "pearson"}
    # src-a from the draw's file is the study's own checkpoint re-run: not drawn again
    assert pearson["success/draw/seed2"] == pytest.approx(
        _pearson(replace_rungs(STUDY, SEED2, "seed2")), abs=1e-4
    )
    assert {row["bench"] for row in lines} == {"fidelity_draws"}
    table = (tmp_path / "o" / "draws.md").read_text()
    assert "| draw/seed2 | 4 |" in table and "--rungs 'cot-*'" in table
    assert (tmp_path / "o" / "draws.png").stat().st_size > 10_000
    with pytest.raises(SystemExit):
        main([str(study), "--draw", "no-equals-sign"])
    with pytest.raises(SystemExit):
        main([str(study), "--draw", f"a={draw}", "--draw", f"a={draw}"])
