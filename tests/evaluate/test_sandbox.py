"""Other people's bundles run sandboxed: the same answers as in-process for a well-behaved
bundle; a bundle that reaches for the network, 10 GB of memory, the CPU forever, files
outside its bundle or exits is stopped, and its episode or job fails with a one-line reason."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sim_env
from evaluate.bundle import load_bundle, save_bundle
from evaluate.errors import EvaluateError
from evaluate.policies import make_policy, untrusted_spec
from evaluate.policy import PolicyError
from evaluate.rollout import RolloutConfig, run_episode
from evaluate.sandbox import SandboxConfig, SandboxedPolicy, confine
from evaluate.store import ResultsStore
from twinbench_cli import app

FIXTURES = Path(__file__).parent / "test_bundle_fixtures"
ENV_ID = "primitive_cube_bowl"
LIMITS = SandboxConfig(memory_bytes=2 * 2**30, cpu_s=4, call_timeout_s=2.0)
CONFIG = {
    "action_space": "joint_position",
    "image_keys": ["exterior_image_1_left"],
    "image_size": (64, 64),
    "chunk_length": 4,
    "open_loop_horizon": 2,
}


def _linear(directory: Path, **overrides: object) -> Path:
    rng = np.random.default_rng(0)
    weights = {
        "linear.weight": rng.normal(scale=0.01, size=(32, 8)).astype(np.float32),
        "linear.bias": rng.normal(scale=0.01, size=32).astype(np.float32),
    }
    return save_bundle(
        directory,
        "linear_policy:LinearPolicy",
        {**CONFIG, **overrides},
        weights,
        sources=[FIXTURES / "linear_policy.py"],
    )


def _hostile(directory: Path, **params: object) -> Path:
    return save_bundle(
        directory,
        "hostile_policy:HostilePolicy",
        {**CONFIG, "params": params},
        {"w": np.zeros(1, np.float32)},
        sources=[FIXTURES / "hostile_policy.py"],
    )


def _one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    return message


def test_well_behaved_bundle_answers_as_in_process(tmp_path, obs):
    bundle = _linear(tmp_path / "linear")
    with SandboxedPolicy(bundle, LIMITS) as sandboxed:
        local = load_bundle(bundle)
        assert sandboxed.metadata.policy_id == local.metadata.policy_id == "linear"
        assert "user+network namespace" in sandboxed.metadata.extra["sandbox"]
        for instruction in ("pick", "place"):
            sandboxed.reset()
            expected = local.infer(obs, instruction)
            got = sandboxed.infer(obs, instruction)
            assert got.action_space == expected.action_space
            np.testing.assert_array_equal(got.actions, expected.actions)


@pytest.fixture
def listener():
    """A TCP server on the evaluator's loopback, which the sandbox must not reach."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        yield server


def _accepted(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("network", "PermissionError|Network is unreachable"),
        ("network_out", "PermissionError|Network is unreachable"),
        ("memory", "MemoryError"),
        ("spin", r"did not answer infer within 2 s \(its wall-clock limit\): stopped"),
        ("sleep", r"did not answer infer within 2 s"),
        ("write", "PermissionError"),
        ("read", "PermissionError"),
        ("exit", "exited with code 3"),
    ],
)
def test_hostile_call_is_stopped_with_one_line(tmp_path, obs, listener, attack, reason):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the evaluator's")
    target = {
        "network": listener.getsockname()[1],
        "write": outside / "pwned.txt",
        "read": outside / "secret.txt",
    }.get(attack, "")
    bundle = _hostile(tmp_path / "hostile", target=str(target))
    with SandboxedPolicy(bundle, LIMITS) as policy:
        policy.reset()
        with pytest.raises(PolicyError, match=reason) as stopped:
            policy.infer(obs, attack)
        _one_line(str(stopped.value))
        assert "hostile" in str(stopped.value) and "PolicyError" not in str(stopped.value)
        if attack in ("spin", "exit"):  # a stopped child: a fresh one for the next episode
            policy.reset()
            assert policy.infer(obs, "").horizon == 4
    assert not (outside / "pwned.txt").exists()
    assert not _accepted(listener)


def test_cpu_limit_stops_a_spinning_child(tmp_path, obs):
    bundle = _hostile(tmp_path / "hostile")
    limits = SandboxConfig(cpu_s=LIMITS.cpu_s, call_timeout_s=60.0)
    with SandboxedPolicy(bundle, limits) as policy:
        policy.reset()
        with pytest.raises(PolicyError, match="used up its CPU-time limit of 4 s") as stopped:
            policy.infer(obs, "spin")
    _one_line(str(stopped.value))


def test_attack_while_loading_is_one_clear_error(tmp_path, listener):
    bundle = _hostile(tmp_path / "hostile", init_attack="network", target=listener.getsockname()[1])
    with pytest.raises(EvaluateError, match=r"HostilePolicy.*failed") as refused:
        SandboxedPolicy(bundle, LIMITS)
    _one_line(str(refused.value))
    assert str(refused.value).count("policy.yaml") == 1  # the child's error, as it was
    assert refused.value.field == "entry_point"
    assert not _accepted(listener)


def test_work_dir_is_private_and_removed(tmp_path, obs):
    bundle = _hostile(tmp_path / "hostile", target="scratch.txt")
    policy = SandboxedPolicy(bundle, LIMITS)
    work_dir = policy._child.work_dir
    policy.reset()
    policy.infer(obs, "write")  # a relative path: inside its own work directory, allowed
    assert (work_dir / "scratch.txt").read_text() == "pwned"
    policy.close()
    assert not work_dir.exists()


def test_namespaces_refused_means_no_run(tmp_path):
    """unshare(CLONE_NEWUSER) refuses a threaded process: a clear refusal, nothing runs."""
    code = textwrap.dedent(
        """
        import threading, time
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        from evaluate.sandbox.confine import ConfinementError, enter_namespaces
        try:
            enter_namespaces()
        except ConfinementError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "the kernel refused a new user+network namespace" in out.stdout, out.stderr


def test_a_child_that_cannot_be_confined_is_refused(tmp_path, monkeypatch):
    refusing = tmp_path / "refuse.py"
    refusing.write_text(
        f"import sys\nprint('sandbox refused: no namespaces here', file=sys.stderr)\n"
        f"sys.exit({confine.REFUSED_EXIT})\n"
    )
    monkeypatch.setattr(confine, "__file__", str(refusing))
    with pytest.raises(EvaluateError, match="refusing to run bundle 'linear' unsandboxed") as no:
        SandboxedPolicy(_linear(tmp_path / "linear"), LIMITS)
    assert "no namespaces here" in _one_line(str(no.value))


def test_queued_bundles_run_sandboxed():
    assert untrusted_spec("bundle:/x/y") == "sandboxed:/x/y"
    assert untrusted_spec("openpi://h:1") == "openpi://h:1"
    assert untrusted_spec("scripted:fair") == "scripted:fair"


@pytest.fixture(scope="module")
def env():
    environment = sim_env.make(ENV_ID, cameras=("exterior_image_1_left",))
    yield environment
    environment.close()


def test_episode_results_match_in_process(tmp_path, env):
    bundle = _linear(tmp_path / "linear")
    config = RolloutConfig(max_steps=12)
    local = run_episode(env, load_bundle(bundle), initial_condition=0, seed=3, config=config)
    with make_policy(f"sandboxed:{bundle}") as policy:
        boxed = run_episode(env, policy, initial_condition=0, seed=3, config=config)
    same = ("success", "progress", "criteria", "length_steps", "failure_kind")
    assert {k: getattr(boxed, k) for k in same} == {k: getattr(local, k) for k in same}
    assert boxed.failure_kind is None and boxed.length_steps == 12


def test_hostile_episode_is_a_failed_episode_with_the_reason(tmp_path, env):
    bundle = _hostile(tmp_path / "hostile", attack="memory")
    with SandboxedPolicy(bundle, LIMITS) as policy:
        result = run_episode(env, policy, initial_condition=0, seed=0, config=RolloutConfig())
    assert result.failure_kind == "policy" and "MemoryError" in result.failure_reason
    _one_line(result.failure_reason)


@pytest.mark.slow
def test_queued_bundle_job_runs_sandboxed(tmp_path, listener):
    store = tmp_path / "results.sqlite"
    good, bad = (
        _linear(tmp_path / "good"),
        _hostile(tmp_path / "bad", init_attack="network", target=listener.getsockname()[1]),
    )
    runner = CliRunner()
    for bundle in (good, bad):
        queued = runner.invoke(
            app,
            ["submit", "-p", f"bundle:{bundle}", "-e", ENV_ID, "-n", "1", "--store", str(store)],
        )
        assert queued.exit_code == 0, queued.output
    for _ in range(2):
        ran = runner.invoke(app, ["worker", "--store", str(store), "--once", "--workers", "0"])
        assert ran.exit_code == 0, ran.output
    with ResultsStore.open(store) as results:
        done, failed = results.jobs()
        episodes = results.episodes(run_id=done.job_id)
    assert done.policy_spec == f"sandboxed:{good}" and done.state == "done"
    assert len(episodes) == 1 and episodes["failure_kind"].isna().all()
    assert failed.state == "failed" and "HostilePolicy" in _one_line(failed.reason)
    assert not _accepted(listener)


@pytest.fixture
def unix_listener(tmp_path):
    """A pathname Unix socket on the host (as PostgreSQL's or Docker's), which the sandbox must
    not reach: it has no TCP to refuse, so only a filter on the socket calls stops it."""
    path = tmp_path / "host.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        server.settimeout(0.2)
        yield server, path


@pytest.mark.parametrize("attack", ["unix_connect", "socketpair"])
def test_no_new_unix_sockets(tmp_path, obs, unix_listener, attack):
    server, path = unix_listener
    bundle = _hostile(tmp_path / "hostile", target=str(path))
    with SandboxedPolicy(bundle, LIMITS) as policy:
        assert any(held.startswith("seccomp") for held in policy.metadata.extra["sandbox"])
        policy.reset()
        with pytest.raises(PolicyError, match="PermissionError") as stopped:
            policy.infer(obs, attack)
        _one_line(str(stopped.value))
        assert policy.infer(obs, "").horizon == 4  # its own socket pair still answers
    assert not _accepted(server)


@pytest.mark.parametrize("attack", ["fork", "subprocess"])
def test_no_new_processes_but_threads(tmp_path, obs, attack):
    bundle = _hostile(tmp_path / "hostile")
    with SandboxedPolicy(bundle, LIMITS) as policy:
        assert "seccomp: no new sockets or processes" in policy.metadata.extra["sandbox"]
        policy.reset()
        with pytest.raises(PolicyError, match="PermissionError") as stopped:
            policy.infer(obs, attack)
        _one_line(str(stopped.value))
        assert policy.infer(obs, "thread").horizon == 4


@pytest.mark.parametrize(
    "target",
    [
        "/proc/{evaluator}/cmdline",  # the evaluator's command line (a policy spec's key)
        "/proc/1/environ",
        "{repo}/dashboard/__init__.py",  # twinbench sources the child never imports
        "{repo}/pyproject.toml",
        "/etc/hostname",
    ],
)
def test_reads_only_what_a_policy_needs(tmp_path, obs, target):
    repo = Path(__file__).resolve().parents[2]
    path = target.format(evaluator=os.getpid(), repo=repo)
    assert os.access(path, os.R_OK)  # the evaluator can read it
    bundle = _hostile(tmp_path / "hostile", target=path)
    with SandboxedPolicy(bundle, LIMITS) as policy:
        policy.reset()
        with pytest.raises(PolicyError, match="PermissionError"):
            policy.infer(obs, "read")
