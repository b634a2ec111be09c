"""``twinbench bench``: run the benchmarks in ``benchmarks/`` (one JSON line per figure)."""

from __future__ import annotations

import pkgutil
import runpy
import sys

import typer

import benchmarks


def available() -> list[str]:
    modules = pkgutil.iter_modules(benchmarks.__path__)
    return sorted(m.name for m in modules if m.name != "cli" and not m.name.endswith("_cases"))


def bench(
    name: str = typer.Argument(
        ..., help="A module of benchmarks/: sim_env, render, eval_throughput, cotrain, ..."
    ),
    args: list[str] = typer.Argument(None, help="Arguments passed to the benchmark, e.g. --quick."),
) -> None:
    """Run one benchmark; it prints {"bench", "case", "metric", "value", "unit"} JSON lines.

    Example: twinbench bench sim_env -- --quick
    """
    from twinbench.errors import TwinbenchError
    from twinbench.registry import unknown_name_message

    if name not in available():
        raise TwinbenchError(unknown_name_message("benchmark", name, available()))
    sys.argv = [f"benchmarks.{name}", *(args or [])]
    runpy.run_module(f"benchmarks.{name}", run_name="__main__")
