"""Leaderboard page: every policy in every environment, success and progress with intervals."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, ui
from dashboard.settings import DashboardSettings


def render(settings: DashboardSettings) -> None:
    st.title("Leaderboard")
    with ui.open_store(settings) as store:
        ui.stop_if_no_episodes(store)
        run_id = ui.pick_run(store.runs(), key="leaderboard_run")
        table = data.leaderboard(store, run_id)
    if table.empty:
        st.info(f"Run `{run_id}` has no episodes yet.")
        return
    all_envs = sorted(table["env"].unique())
    left, right = st.columns([3, 1])
    envs = left.multiselect("Environments", all_envs, default=all_envs, key="leaderboard_envs")
    sort_key = right.selectbox("Sort by", list(data.SORT_KEYS), key="leaderboard_sort")
    shown = data.sort_leaderboard(table[table["env"].isin(envs)], sort_key)
    if shown.empty:
        st.info("Pick at least one environment.")
        return

    a, b, c = st.columns(3)
    a.metric("Policies", shown["policy"].nunique())
    b.metric("Environments", shown["env"].nunique())
    c.metric("Episodes", int(shown["episodes"].sum()))
    st.dataframe(
        data.leaderboard_display(shown),
        hide_index=True,
        column_config={
            "success": st.column_config.NumberColumn(format="%.3f"),
            "progress": st.column_config.NumberColumn(format="%.3f"),
            "ended early": st.column_config.NumberColumn(
                help="Episodes that count and ended early (policy error, timeout, bad action)"
            ),
            "diverged": st.column_config.NumberColumn(
                help="Simulations that diverged: not the policy's failure, left out of the rates"
            ),
            "errored": st.column_config.NumberColumn(
                help="Episodes lost to an infrastructure error, left out of the rates"
            ),
        },
    )
    st.caption(
        f"{data.LEVEL:.0%} intervals: Wilson score for success, a bootstrap over episodes for "
        "progress."
    )
    quantity = st.radio("Chart", ["success", "progress"], horizontal=True, key="leaderboard_chart")
    rate = "success_rate" if quantity == "success" else "progress"
    prefix = "success" if quantity == "success" else "progress"
    st.altair_chart(
        charts.rate_bars(shown, rate, f"{prefix}_low", f"{prefix}_high", f"{quantity} rate"),
        width="stretch",
    )


if __name__ == "__main__":
    render(DashboardSettings.from_env())
