"""The dashboard's Streamlit entry point (``streamlit run dashboard/app.py``): one page per
file in ``views/``, each reading the store named by ``TWINBENCH_DASHBOARD_STORE``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.settings import DashboardSettings

VIEWS = Path(__file__).resolve().parent / "views"
PAGES = (
    ("leaderboard.py", "Leaderboard", ":material/leaderboard:"),
    ("sim_real.py", "Sim vs real", ":material/compare_arrows:"),
    ("episodes.py", "Episodes", ":material/movie:"),
    ("environments.py", "Environments", ":material/view_in_ar:"),
    ("env_detail.py", "Environment view", ":material/center_focus_strong:"),
    ("submit.py", "Submit", ":material/send:"),
)


def main() -> None:
    st.set_page_config(page_title="twinbench", page_icon=":material/smart_toy:", layout="wide")
    pages = [
        st.Page(VIEWS / file, title=title, icon=icon, default=i == 0)
        for i, (file, title, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages)
    st.sidebar.caption(f"Results store: `{DashboardSettings.from_env().store_path}`")
    page.run()


if __name__ == "__main__":
    main()
