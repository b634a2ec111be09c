"""``twinbench dashboard``: the Streamlit command line it execs, and what it refuses."""

from __future__ import annotations

import pytest

import dashboard
from dashboard.cli import APP, streamlit_command
from twinbench_cli import main


def test_streamlit_command_is_headless_and_bound():
    command = streamlit_command("127.0.0.1", 8765)
    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    for flag in (
        "--server.headless=true",
        "--server.address=127.0.0.1",
        "--server.port=8765",
        "--browser.gatherUsageStats=false",
    ):
        assert flag in command


def test_directory_as_store_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["dashboard", "--store", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "expected a results store file, found a directory" in capsys.readouterr().err


def test_public_names_resolve():
    for name in dashboard.__all__:
        assert getattr(dashboard, name) is not None


def test_a_postgres_store_reaches_the_app_with_its_password_and_is_printed_without(
    monkeypatch, capsys
):
    """The app connects with the URL as given (the environment variable is not shown); what
    the command prints names the URL without its password."""
    execs = []
    monkeypatch.setattr("os.execve", lambda path, args, env: execs.append(env))
    url = "postgresql://lab:pw-never-shown@db-host:5432/twinbench"
    with pytest.raises(SystemExit) as exit_info:  # execve, mocked, returned
        main(["dashboard", "--store", url])
    assert exit_info.value.code == 0
    (env,) = execs
    assert env["TWINBENCH_DASHBOARD_STORE"] == url
    err = capsys.readouterr().err
    assert "(store postgresql://lab@db-host:5432/twinbench)" in err and "pw-never" not in err
