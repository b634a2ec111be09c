"""Submit page: queue a policy for evaluation and watch the queue.

A job names an openpi server or an uploaded bundle zip (unpacked safely next to the store);
workers (``twinbench worker``) claim jobs from the same store.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard import data, submission
from dashboard.errors import DashboardError
from dashboard.settings import DashboardSettings
from evaluate.errors import EvaluateError
from evaluate.store import JOB_STATES, ResultsStore
from sim_env import list_envs
from twinbench.errors import TwinbenchError

OPENPI = "openpi server"
BUNDLE = "bundle checkpoint (.zip)"
MAX_BUNDLE_MB = 2048
REFRESH_S = 2.0


def render(settings: DashboardSettings) -> None:
    st.title("Submit")
    env_ids = _env_choices(settings)
    kind = st.radio("Policy", [OPENPI, BUNDLE], horizontal=True, key="submit_kind")
    address, bundle = "", None
    with st.form("submit_form"):
        if kind == OPENPI:
            address = st.text_input(
                "Policy server", placeholder="openpi://127.0.0.1:8000", key="submit_address"
            )
        else:
            bundle = st.file_uploader(
                "Bundle zip (policy.yaml, code, *.safetensors)",
                type=["zip"],
                max_upload_size=MAX_BUNDLE_MB,
                key="submit_bundle",
            )
        envs = st.multiselect("Environments", env_ids, key="submit_envs")
        left, right = st.columns(2)
        episodes = left.number_input("Episodes per environment", 1, 10_000, 20, key="submit_n")
        seed = right.number_input("Seed", 0, 2**31 - 1, 0, key="submit_seed")
        submitted = st.form_submit_button("Submit job", type="primary")
    if submitted:
        try:
            if not envs:
                raise DashboardError("pick at least one environment", field="environments")
            if kind == OPENPI:
                spec = submission.openpi_spec(address)
            elif bundle is None:
                raise DashboardError("upload a bundle zip first", field="bundle")
            else:
                spec = submission.bundle_spec(bundle.name, bundle, settings.submissions_dir)
            _submit(settings, spec, envs, int(episodes), int(seed))
        except TwinbenchError as exc:
            st.error(f"Not submitted: {exc}")

    st.divider()
    auto = st.toggle(f"Refresh every {REFRESH_S:g} s", value=True, key="submit_refresh")
    st.fragment(run_every=REFRESH_S if auto else None)(_job_list)(settings)


def _submit(settings: DashboardSettings, spec: str, envs: Sequence[str], n: int, seed: int) -> None:
    with ResultsStore.open(settings.store_path) as store:
        job = store.submit_job(spec, envs, n, seed)
    st.success(f"Queued {job.job_id}: `{spec}` on {', '.join(envs)}, {n} episodes each.")


def _env_choices(settings: DashboardSettings) -> list[str]:
    """Registered environments plus any the store already has results for."""
    ids = [entry.id for entry in list_envs()]
    if settings.has_store:
        try:
            with ResultsStore.open(settings.store_path, read_only=True) as store:
                ids += data.env_ids_in_store(store)
        except EvaluateError as exc:
            st.warning(f"Cannot read the results store's environments: {exc}")
    return list(dict.fromkeys(ids))


def _job_list(settings: DashboardSettings) -> None:
    st.subheader("Jobs")
    if not settings.has_store:
        st.info(f"No jobs yet: there is no results store at `{settings.store_path}`.")
        return
    try:
        with ResultsStore.open(settings.store_path, read_only=True) as store:
            jobs = data.jobs_table(store)
    except EvaluateError as exc:
        st.error(f"Cannot read the job queue: {exc}")
        return
    if jobs.empty:
        st.info("No jobs yet.")
        return
    counts = jobs["state"].value_counts()
    for column, state in zip(st.columns(len(JOB_STATES)), JOB_STATES, strict=True):
        column.metric(state, int(counts.get(state, 0)))
    st.dataframe(
        jobs,
        hide_index=True,
        column_config={"submitted": st.column_config.DatetimeColumn("submitted (UTC)")},
    )


if __name__ == "__main__":
    render(DashboardSettings.from_env())
