"""The twinbench command: one clear line and exit status 2 for user errors, help everywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from twinbench_cli import app, main

COMMANDS = [
    "reconstruct",
    "env",
    "eval",
    "serve",
    "submit",
    "worker",
    "correlate",
    "cotrain",
    "dashboard",
    "bench",
    "demo",
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twinbench_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["env", "frobnicate"], "No such command 'frobnicate'"),
        (["env", "validate", "--bogus"], "No such option: --bogus"),
        (["env", "render"], "Missing argument"),
        (["bench", "nope"], "unknown benchmark 'nope'"),
    ],
)
def test_bad_argument_is_one_line_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("twinbench: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_user_error_names_the_file(tmp_path):
    (tmp_path / "env.yaml").write_text("format_version: 1\nname: 3x\n")
    result = run("env", "validate", str(tmp_path))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith(f"twinbench: error: {tmp_path / 'env.yaml'}: ")
    assert len(line.splitlines()) == 1


def test_unexpected_errors_keep_their_traceback(monkeypatch):
    import sim_env.cli

    def boom() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(sim_env.registry, "list_envs", boom)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["env", "list"])


def test_every_command_has_help_with_an_example():
    import typer.main

    command = typer.main.get_command(app)

    def leaves(group, path):
        for name, sub in getattr(group, "commands", {}).items():
            if getattr(sub, "commands", None):
                yield from leaves(sub, [*path, name])
            else:
                yield [*path, name], sub

    for path, sub in leaves(command, []):
        assert "Example" in (sub.help or ""), f"'twinbench {' '.join(path)} --help' has no example"
