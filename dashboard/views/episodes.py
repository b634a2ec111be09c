"""Episodes page: browse a run's episodes, watch one, see when each rubric criterion was met."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts, data, ui
from dashboard.settings import DashboardSettings
from evaluate.store import EXCLUDED_KINDS

OUTCOMES = ("all", "success", "no success", "ended early")
_TABLE_COLUMNS = [
    "policy_id", "env_id", "initial_condition", "seed", "success", "progress",
    "length_steps", "failure_kind", "failure_reason",
]  # fmt: skip


def render(settings: DashboardSettings) -> None:
    st.title("Episodes")
    with ui.open_store(settings) as store:
        ui.stop_if_no_episodes(store)
        run_id = ui.pick_run(store.runs(), key="episodes_run", allow_all=False)
        episodes = store.episodes(run_id=run_id)
    if episodes.empty:
        st.info(f"Run `{run_id}` has no episodes yet.")
        return
    shown = _filtered(episodes)
    st.caption(f"{len(shown)} of {len(episodes)} episodes (# = order recorded in the run)")
    if shown.empty:
        st.info("No episode matches these filters.")
        return
    st.dataframe(
        shown[_TABLE_COLUMNS].assign(video=shown["video_path"].notna()).rename_axis("#"),
        column_config={
            "policy_id": "policy",
            "env_id": "env",
            "initial_condition": "condition",
            "progress": st.column_config.NumberColumn(format="%.2f"),
            "length_steps": "steps",
            "failure_kind": "ended early as",
            "failure_reason": "ended early because",
        },
    )
    labels = {int(row.Index): _label(row) for row in shown.itertuples()}
    chosen = st.selectbox(  # keyed by run: another run's episode numbers mean other episodes
        "Episode", list(labels), format_func=labels.__getitem__, key=f"episodes_choice_{run_id}"
    )
    if chosen is not None:
        _details(settings, chosen, shown.loc[chosen])


def _filtered(episodes: pd.DataFrame) -> pd.DataFrame:
    a, b, c = st.columns(3)
    policies = a.multiselect("Policies", sorted(episodes["policy_id"].unique()), key="episodes_pol")
    envs = b.multiselect("Environments", sorted(episodes["env_id"].unique()), key="episodes_env")
    outcome = c.selectbox("Outcome", OUTCOMES, key="episodes_outcome")
    keep = pd.Series(True, index=episodes.index)
    if policies:
        keep &= episodes["policy_id"].isin(policies)
    if envs:
        keep &= episodes["env_id"].isin(envs)
    if outcome == "success":
        keep &= episodes["success"]
    elif outcome == "no success":
        keep &= ~episodes["success"]
    elif outcome == "ended early":
        keep &= episodes["failure_reason"].notna()
    return episodes[keep]


def _label(row: Any) -> str:  # an itertuples() row
    outcome = "success" if row.success else f"progress {row.progress:.2f}"
    return (
        f"#{row.Index} · {row.policy_id} · {row.env_id} · "
        f"condition {row.initial_condition} · seed {row.seed} · {outcome}"
    )


def _details(settings: DashboardSettings, number: int, episode: pd.Series) -> None:
    st.subheader(f"Episode #{number}: {episode['policy_id']} in {episode['env_id']}")
    a, b, c, d = st.columns(4)
    a.metric("Success", "yes" if episode["success"] else "no")
    b.metric("Progress", f"{episode['progress']:.2f}")
    c.metric("Steps", int(episode["length_steps"]))
    d.metric("Policy latency", f"{episode['latency_mean_s'] * 1000:.0f} ms")
    if episode["failure_kind"] in EXCLUDED_KINDS:
        st.warning(
            f"Not counted in the rates ({episode['failure_kind']}, not the policy's failure): "
            f"{episode['failure_reason']}"
        )
    elif pd.notna(episode["failure_reason"]):
        st.error(f"Ended early: {episode['failure_reason']}")
    left, right = st.columns(2)
    with left:
        _video(settings, episode["video_path"])
    with right:
        criteria = episode["criteria"]
        if not criteria:
            st.info("This episode recorded no rubric criteria.")
            return
        timeline = data.criteria_timeline(criteria)
        st.altair_chart(
            charts.criteria_chart(
                data.criteria_progress(criteria, int(episode["length_steps"])), timeline
            ),
            width="stretch",
        )
        st.dataframe(
            timeline.assign(step=timeline["step"].astype("string").fillna("not reached")),
            hide_index=True,
        )


def _video(settings: DashboardSettings, video_path: object) -> None:
    if pd.isna(video_path):
        st.info("No video was recorded for this episode.")
        return
    path = data.video_file(settings.store_dir, str(video_path))
    if not path.is_file():
        st.warning(f"The episode's video is missing: `{path}` does not exist (moved or deleted?).")
        return
    st.video(str(path))


if __name__ == "__main__":
    render(DashboardSettings.from_env())
