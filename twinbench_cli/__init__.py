"""The ``twinbench`` command: one entry point, subcommands contributed by each package.

It is the top layer (see ARCHITECTURE.md): it imports every package and nothing imports it.
Each package owns its commands in its own ``cli.py`` and keeps heavy imports (MuJoCo, torch,
open3d) inside the command functions, so ``twinbench --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys

import typer

try:  # typer >= 0.20 vendors click and raises its own exception classes
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # older typer raises click's
    from click.exceptions import ClickException, UsageError

from twinbench.errors import TwinbenchError
from twinbench.version import __version__

app = typer.Typer(
    name="twinbench",
    help="Real-to-sim evaluation of robot policies: scan a table, get a simulated twin, rank policies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"twinbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log output (-vv: debug)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    handler = RichHandler(console=Console(stderr=True), show_path=False)  # stdout stays for data
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])


def _register_subcommands() -> None:
    from reconstruct.cli import reconstruct_command
    from sim_env.cli import env_app

    app.command("reconstruct")(reconstruct_command)
    app.add_typer(env_app, name="env")

    from cotrain.cli import cotrain_app

    app.add_typer(cotrain_app, name="cotrain")

    from evaluate.cli_serve import serve

    app.command("serve")(serve)

    from evaluate.cli_correlate import correlate

    app.command("correlate")(correlate)

    from evaluate.cli_estimate import estimate_command

    app.command("estimate")(estimate_command)

    from evaluate.cli_eval import eval_command, submit_command, worker_command

    app.command("eval")(eval_command)
    app.command("submit")(submit_command)
    app.command("worker")(worker_command)

    from studies.cli import demo_command, fidelity_command

    app.command("demo")(demo_command)
    app.command("fidelity")(fidelity_command)

    from dashboard.cli import dashboard

    app.command("dashboard")(dashboard)

    from benchmarks.cli import bench

    app.command("bench")(bench)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit status 2."""
    try:
        result = app(args=argv, prog_name="twinbench", standalone_mode=False)
    except UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        typer.echo(f"twinbench: error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except ClickException as exc:
        typer.echo(f"twinbench: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except TwinbenchError as exc:
        typer.echo(f"twinbench: error: {exc}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("twinbench: interrupted", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
