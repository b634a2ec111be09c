"""The Episodes page: filters, the failure reason, the video (or why there is none) and the
rubric criteria over time."""

from __future__ import annotations

import pytest

from dashboard import data


@pytest.fixture
def run_a(page, facts):
    app = page("episodes")
    app.selectbox(key="episodes_run").set_value(facts.RUN_ID).run()
    return app


def _criteria(app):
    return app.dataframe[-1].value.set_index("criterion")["step"].to_dict()


def test_filters(run_a, facts):
    assert len(run_a.dataframe[0].value) == sum(len(o) for o in facts.OUTCOMES.values())
    run_a.multiselect(key="episodes_pol").set_value(["octo"]).run()
    run_a.selectbox(key="episodes_outcome").set_value("success").run()
    shown = run_a.dataframe[0].value
    assert list(shown["policy_id"]) == ["octo"]  # octo's one success
    assert shown["success"].all()


def test_ended_early_episode_shows_its_reason(run_a, facts):
    run_a.selectbox(key="episodes_outcome").set_value("ended early").run()
    shown = run_a.dataframe[0].value
    policy, env, seed = facts.EARLY_END
    assert (list(shown["policy_id"]), list(shown["env_id"]), list(shown["seed"])) == (
        [policy], [env], [seed]
    )  # fmt: skip
    assert [e.value for e in run_a.error] == [f"Ended early: {facts.FAILURE_REASON}"]
    assert set(_criteria(run_a).values()) == {"not reached"}


def test_video_and_criteria_of_a_success(run_a, facts):
    run_a.selectbox(key=f"episodes_choice_{facts.RUN_ID}").set_value(
        0
    ).run()  # pi0, bundled env, seed 0
    assert "#0 · pi0" in run_a.selectbox(key=f"episodes_choice_{facts.RUN_ID}").format_func(0)
    assert len(run_a.get("video")) == 1
    assert not run_a.warning
    assert _criteria(run_a) == {"grasp": "10", "lift": "20", "place": "35"}
    assert [m.value for m in run_a.metric][:3] == ["yes", "1.00", "60"]


def test_missing_video_is_a_message(run_a, facts):
    run_a.selectbox(key=f"episodes_choice_{facts.RUN_ID}").set_value(
        1
    ).run()  # its video file is gone
    assert not run_a.get("video")
    assert any(facts.MISSING_VIDEO in w.value and "missing" in w.value for w in run_a.warning)


def test_criteria_progress_is_a_step_function():
    criteria = {"grasp": 12, "lift": 12, "place": None, "touch": 3}
    progress = data.criteria_progress(criteria, length_steps=40)
    assert progress.values.tolist() == [[0, 0], [3, 1], [12, 3], [40, 3]]
    timeline = data.criteria_timeline(criteria)
    assert list(timeline["criterion"]) == ["touch", "grasp", "lift", "place"]
    assert list(timeline["reached"]) == [True, True, True, False]
