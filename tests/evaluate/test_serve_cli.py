"""``twinbench serve`` in a real process: killed mid-episode, restarted, reconnected to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from evaluate.bundle import save_bundle
from evaluate.policies.openpi import OpenpiConfig, OpenpiPolicy
from evaluate.policy import PolicyError
from evaluate.serving import wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).parent / "test_bundle_fixtures" / "linear_policy.py"
# The serve command alone, so this test does not depend on every package's CLI importing.
RUN_SERVE = "import typer; from evaluate.cli_serve import serve; typer.run(serve)"

pytestmark = pytest.mark.timeout(60)


def _bundle(directory: Path) -> Path:
    rng = np.random.default_rng(0)
    config = {"action_space": "joint_position", "chunk_length": 10, "open_loop_horizon": 8}
    weights = {"linear.weight": rng.normal(size=(80, 8)), "linear.bias": np.zeros(80)}
    return save_bundle(directory, "linear_policy:LinearPolicy", config, weights, sources=[SOURCE])


def _start(bundle: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_SERVE,
            f"bundle:{bundle}",
            "--port",
            str(port),
            "--api-key",
            "k",
        ],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_healthy("127.0.0.1", port, timeout_s=20)
    except Exception:
        process.kill()
        raise
    return process


def test_killed_server_gives_policy_error_then_reconnects(tmp_path: Path, obs, unused_port) -> None:
    bundle = _bundle(tmp_path / "bundle")
    process = _start(bundle, unused_port)
    config = OpenpiConfig("127.0.0.1", unused_port, api_key="k", timeout_s=5, backoff_s=0.1)
    try:
        policy = OpenpiPolicy(config)
        first = policy.infer(obs, "go")
        process.kill()  # SIGKILL: no close frame, the socket just dies
        process.wait(5)
        assert "serving bundle" in process.stderr.read()
        start = time.monotonic()
        with pytest.raises(PolicyError, match="cannot reach the policy server"):
            policy.infer(obs, "go")
        assert time.monotonic() - start < 3.0
        process = _start(bundle, unused_port)
        np.testing.assert_array_equal(policy.infer(obs, "go").actions, first.actions)
        policy.close()
    finally:
        process.kill()
        process.wait(5)
        process.stderr.close()


def test_serve_is_registered_in_the_twinbench_cli() -> None:
    from twinbench_cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--api-key" in result.output


def test_taken_port_is_a_one_line_error(tmp_path: Path, serve, fake_policy) -> None:
    server = serve(fake_policy())
    bundle = _bundle(tmp_path / "bundle")
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "twinbench_cli",
            "serve",
            f"bundle:{bundle}",
            "--port",
            str(server.port),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 2
    assert process.stderr.strip().splitlines()[-1].startswith("twinbench: error: cannot serve on")
