"""The Submit page queues jobs in the store (openpi address or an uploaded bundle zip) and
lists the queue with each job's state and reason."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from dashboard import submission
from dashboard.errors import DashboardError
from dashboard.settings import SUBMISSIONS_DIR
from evaluate.store import ResultsStore

POLICY_YAML = {
    "entry_point": "linear_policy:LinearPolicy",
    "action_space": "joint_position",
    "chunk_length": 4,
    "open_loop_horizon": 2,
}


def _bundle_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _jobs(store_path):
    with ResultsStore.open(store_path, create=False) as store:
        return store.jobs()


def _fill(app, env: str, episodes: int = 3) -> None:
    app.multiselect(key="submit_envs").set_value([env])
    app.number_input(key="submit_n").set_value(episodes)


def test_openpi_job_is_queued(page, dashboard_env, facts):
    app = page("submit")
    app.text_input(key="submit_address").input("127.0.0.1:8123")
    _fill(app, facts.BUNDLED_ENV)
    app.button[0].click().run()
    assert not app.error
    job = _jobs(dashboard_env.store)[-1]
    assert (job.policy_spec, job.envs, job.episodes, job.state) == (
        "openpi://127.0.0.1:8123", (facts.BUNDLED_ENV,), 3, "queued"
    )  # fmt: skip
    assert app.success[0].value.startswith(f"Queued {job.job_id}")
    assert job.job_id in list(app.dataframe[0].value["job"])


@pytest.mark.parametrize(
    ("address", "envs", "message"),
    [
        ("not a server", True, "must look like openpi://HOST:PORT"),
        ("127.0.0.1:8000", False, "pick at least one environment"),
    ],
)
def test_bad_submission_is_a_message(page, dashboard_env, facts, address, envs, message):
    app = page("submit")
    app.text_input(key="submit_address").input(address)
    if envs:
        _fill(app, facts.BUNDLED_ENV)
    app.button[0].click().run()
    assert message in app.error[0].value
    assert len(_jobs(dashboard_env.store)) == 1  # the fixture's job only


@pytest.mark.parametrize(
    ("address", "spec"),
    [
        ("127.0.0.1:8000", "openpi://127.0.0.1:8000"),
        (" openpi://h:1?horizon=4 ", "openpi://h:1?horizon=4"),
    ],
)
def test_openpi_address_becomes_a_spec(address, spec):
    assert submission.openpi_spec(address) == spec


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:8000?horizn=3", "http://h:1"])
def test_bad_openpi_address_is_refused(address):
    with pytest.raises(DashboardError, match="policy address"):
        submission.openpi_spec(address)


def _upload_bundle(app, data: bytes, env: str) -> None:
    app.radio(key="submit_kind").set_value("bundle checkpoint (.zip)").run()
    app.file_uploader(key="submit_bundle").set_value(("my policy.zip", data, "application/zip"))
    _fill(app, env)
    app.button[0].click().run()


def test_bundle_upload_is_unpacked_and_queued(page, dashboard_env, facts):
    app = page("submit")
    files = {
        "my_policy/policy.yaml": yaml.safe_dump(POLICY_YAML).encode(),
        "my_policy/linear_policy.py": b"raise SystemExit('never imported by the dashboard')\n",
    }
    _upload_bundle(app, _bundle_zip(files), facts.BUNDLED_ENV)
    assert not app.error
    spec = _jobs(dashboard_env.store)[-1].policy_spec
    assert spec.startswith("sandboxed:")
    bundle = dashboard_env.root / SUBMISSIONS_DIR
    [unpacked] = bundle.iterdir()
    assert unpacked.name.startswith("my_policy-")
    assert spec == f"sandboxed:{(unpacked / 'my_policy').resolve()}"
    assert (unpacked / "my_policy" / "linear_policy.py").is_file()


def test_bad_bundle_upload_is_a_message(page, dashboard_env, facts):
    app = page("submit")
    _upload_bundle(app, _bundle_zip({"README.md": b"no config"}), facts.BUNDLED_ENV)
    assert "my policy.zip: no policy.yaml" in app.error[0].value
    assert list((dashboard_env.root / SUBMISSIONS_DIR).glob("*")) == []
    assert len(_jobs(dashboard_env.store)) == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../escape.txt": b"x", "policy.yaml": b"{}"}, "climbs out"),
        ({"b/policy.yaml": b"{}", "c/policy.yaml": b"{}"}, "no policy.yaml"),
        (
            {"policy.yaml": yaml.safe_dump({"action_space": "joint_position"}).encode()},
            "entry_point",
        ),
        ({"policy.yaml": yaml.safe_dump(POLICY_YAML).encode(), "w.pt": b"\x80\x04"}, "pickle"),
        ({"policy.yaml": b"entry_point: [unclosed"}, "not valid YAML"),
        (
            {
                "policy.yaml": yaml.safe_dump(
                    {**POLICY_YAML, "entry_point": "/tmp/x/evil:E"}
                ).encode()
            },
            "not a dotted Python module name",
        ),
    ],
    ids=["zip-slip", "two-folders", "bad-config", "pickle", "bad-yaml", "path-entry-point"],
)
def test_bad_bundle_is_refused_and_removed(tmp_path, files, message):
    with pytest.raises(DashboardError, match=message) as refused:
        submission.bundle_spec("up.zip", io.BytesIO(_bundle_zip(files)), tmp_path / "subs")
    assert "up.zip" in str(refused.value)
    assert list((tmp_path / "subs").glob("*")) == []


def test_bundle_at_the_top_level(tmp_path):
    data = io.BytesIO(_bundle_zip({"policy.yaml": yaml.safe_dump(POLICY_YAML).encode()}))
    spec = submission.bundle_spec("flat.zip", data, tmp_path)
    [unpacked] = tmp_path.iterdir()
    assert spec == f"sandboxed:{unpacked.resolve()}"


def test_job_list_shows_states_and_reasons(page, dashboard_env, facts):
    with ResultsStore.open(dashboard_env.store) as store:
        for _ in range(3):
            store.submit_job("openpi://127.0.0.1:9000", [facts.BUNDLED_ENV], 2)
        running, done, failed = (store.claim_job(f"w{i}") for i in range(3))
        store.finish_job(done.job_id, "w1", "done")
        store.finish_job(failed.job_id, "w2", "failed", "policy server refused the connection")
    app = page("submit")
    assert {m.label: m.value for m in app.metric} == {
        "queued": "1", "running": "1", "done": "1", "failed": "1"
    }  # fmt: skip
    jobs = app.dataframe[0].value.set_index("job")
    assert jobs.loc[running.job_id, "state"] == "running"
    assert jobs.loc[failed.job_id, "reason"] == "policy server refused the connection"
