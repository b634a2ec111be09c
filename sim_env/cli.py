"""``twinbench env``: list, validate, inspect and render environment packages."""

from __future__ import annotations

import typer

env_app = typer.Typer(help="Environment packages: list, validate, inspect, render.", no_args_is_help=True)
