"""``twinbench dashboard``: serve the Streamlit app over a results store.

The store path reaches the app in ``TWINBENCH_DASHBOARD_STORE``; the process becomes the
Streamlit server (exec), so stopping this command stops the server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dashboard.settings import DEFAULT_STORE, STORE_ENV_VAR

APP = Path(__file__).resolve().parent / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no usage stats, no file watching."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless=true",
        f"--server.address={host}",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--global.developmentMode=false",
        "--client.toolbarMode=minimal",
    ]  # fmt: skip


def dashboard(
    store: Annotated[
        str,
        typer.Option(
            "--store",
            help="Results store to show and submit jobs to: a .sqlite file or a "
            "postgresql://USER@HOST:PORT/DB URL (password in PGPASSWORD).",
        ),
    ] = str(DEFAULT_STORE),
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8501,
) -> None:
    """Serve the web dashboard: leaderboard, sim vs real, episodes, environments, the environment
    view (each camera with the package's geometry drawn over it; a click places the robot base),
    job submission.

    Example: twinbench dashboard --store runs/demo/results.sqlite --port 8501
    """
    from dashboard.errors import DashboardError
    from evaluate.store import PostgresURL, store_location

    location = store_location(store)
    if isinstance(location, PostgresURL):  # the app connects with it: password included
        value = location.conninfo()
    else:
        location = location.absolute()
        if location.exists() and not location.is_file():
            raise DashboardError("expected a results store file, found a directory", file=location)
        if not location.exists():
            typer.echo(
                f"twinbench: no results store at {location} yet; pages will say so", err=True
            )
        value = str(location)
    typer.echo(f"twinbench dashboard: http://{host}:{port} (store {location})", err=True)
    env = {**os.environ, STORE_ENV_VAR: value}
    command = streamlit_command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)
