"""Streamlit pieces every page uses: opening the store with a friendly stop, picking a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from dashboard.settings import DashboardSettings
from evaluate.errors import EvaluateError
from evaluate.store import ResultsStore, RunRecord

ALL_RUNS = "All runs"


@contextmanager
def open_store(settings: DashboardSettings) -> Iterator[ResultsStore]:
    """The store, read-only, for the page to read in a ``with`` block. If there is none, or
    it cannot be read (at open, or a value the page reads is damaged), the page shows why
    and stops there."""
    path = settings.store_path
    if not settings.has_store:
        st.info(
            f"No results store at `{path}` yet. Submit a job on the **Submit** page or run an "
            "evaluation to create one, or start the dashboard with `--store PATH`."
        )
        st.stop()
    try:
        with ResultsStore.open(path, read_only=True) as store:
            yield store
    except EvaluateError as exc:
        st.error(f"Cannot read the results store: {exc}")
        st.stop()


def stop_if_no_episodes(store: ResultsStore) -> None:
    """Pages about results have nothing to show before the first episode is recorded."""
    if store.summary().empty:
        st.info(
            f"The results store `{store.path}` holds no episodes yet. Results appear here as "
            "workers record them."
        )
        st.stop()


def pick_run(runs: list[RunRecord], *, key: str, allow_all: bool = True) -> str | None:
    """A run selector, newest first, each run shown with its label if it has one; None
    means every run."""
    labels = {run.run_id: _run_label(run) for run in reversed(runs)}
    options = [ALL_RUNS, *labels] if allow_all else list(labels)
    choice = st.selectbox("Run", options, format_func=lambda o: labels.get(o, o), key=key)
    return None if choice in (None, ALL_RUNS) else choice


def _run_label(run: RunRecord) -> str:
    """``ID · LABEL`` when the run's config has a label (the demo's "real: …" and "sim: …"
    sides), cut at 80 characters."""
    label = str(run.config.get("label") or "")
    if len(label) > 80:
        label = label[:79] + "…"
    return f"{run.run_id} · {label}" if label else run.run_id
