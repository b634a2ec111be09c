"""End to end over the wire: a policy served by our own ``evaluate.serving`` server, evaluated
through ``openpi://`` by a spawned worker process on the bundled environment."""

from __future__ import annotations

import numpy as np

from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata
from evaluate.rollout import RolloutConfig
from evaluate.run import EvalConfig, Execution, run_evaluation
from evaluate.store import ResultsStore
from sim_env.images import ImageSize

ENV_ID = "primitive_cube_bowl"
CAMERAS = ("exterior_image_1_left", "wrist_image_left")


class SwayPolicy(Policy):
    """A stand-in for a learned policy: reads both cameras, nudges joint 0, opens the gripper."""

    def __init__(self):
        self.requests: list[tuple[dict[str, tuple[int, ...]], str]] = []
        self._metadata = PolicyMetadata(
            policy_id="sway", image_keys=CAMERAS, image_size=ImageSize(32, 32), chunk_length=10
        )

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        pass

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        self.requests.append(({k: v.shape for k, v in obs.images.items()}, instruction))
        actions = np.tile(np.concatenate([obs.joint_position, [0.0]]), (10, 1))
        actions[:, 0] += np.linspace(0.005, 0.05, 10)
        return ActionChunk(actions, "joint_position")


def test_served_policy_evaluated_end_to_end(serve, tmp_path):
    policy = SwayPolicy()
    server = serve(policy)
    spec = f"openpi://127.0.0.1:{server.port}?timeout=20"
    config = EvalConfig(
        envs=(ENV_ID,),
        policies=(spec,),
        episodes=2,
        image_size=(64, 48),
        rollout=RolloutConfig(max_steps=16),
    )
    result = run_evaluation(config, tmp_path, Execution(workers=1))
    assert not result.report.setup_errors and len(result.report.outcomes) == 2
    with ResultsStore.open(result.store) as store:
        frame = store.episodes(run_id=result.run_id)
    assert list(frame["policy_id"]) == [spec, spec]
    assert frame["failure_reason"].isna().all() and (frame["length_steps"] == 16).all()
    assert (frame["latency_mean_s"] > 0).all() and list(frame["initial_condition"]) == [0, 1]
    assert len(policy.requests) == 4  # 16 steps / open-loop horizon 8, per episode
    shapes, instruction = policy.requests[0]
    assert shapes == {camera: (32, 32, 3) for camera in CAMERAS}
    assert instruction == "put the cube in the bowl"


SECRET = "s3cret-key-0123"


def test_api_key_reaches_the_server_but_never_the_store_or_output(serve, tmp_path, monkeypatch):
    """Issue 22: a key in the spec used to be the policy's id, printed and stored."""
    from typer.testing import CliRunner

    from twinbench_cli import app

    server = serve(SwayPolicy(), api_key=SECRET)
    port = server.port
    with_key = f"openpi://127.0.0.1:{port}?api_key={SECRET}&timeout=20"
    monkeypatch.setenv("POLICY_KEY", SECRET)
    from_env = f"openpi://127.0.0.1:{port}?api_key_env=POLICY_KEY&timeout=20"
    for n, spec in enumerate((with_key, from_env)):
        out = tmp_path / f"run{n}"
        args = ["eval", "--env", ENV_ID, "--policy", spec, "--episodes", "1", "-o", str(out)]
        args += ["--image-size", "64x48", "--max-steps", "8", "--workers", "0"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        with ResultsStore.open(out / "results.sqlite") as store:
            frame = store.episodes()
            runs = store.runs()
        assert list(frame["policy_id"]) == [f"openpi://127.0.0.1:{port}?timeout=20"]
        assert frame["failure_reason"].isna().all()  # the key was sent: the server answered
        assert SECRET not in (out / "results.sqlite").read_bytes().decode("latin-1")
        assert all(SECRET not in str(run.config) for run in runs)


def test_a_queued_job_may_not_hold_a_key(tmp_path):
    from evaluate.errors import EvaluateError

    with ResultsStore.open(tmp_path / "q.sqlite") as store:
        try:
            store.submit_job(f"openpi://h:1?api_key={SECRET}", [ENV_ID], 1)
        except EvaluateError as exc:
            assert "api_key_env=VAR" in str(exc) and SECRET not in str(exc)
        else:
            raise AssertionError("a job holding a key was queued")
        job = store.submit_job("openpi://h:1?api_key_env=POLICY_KEY", [ENV_ID], 1)
        assert job.policy_spec == "openpi://h:1?api_key_env=POLICY_KEY"


class CountingPolicy(Policy):
    """Stateful: each chunk moves joint 0 by the number of chunks since the last reset, so an
    episode that starts without a reset follows another path."""

    def __init__(self):
        self.counters: list[int] = []  # chunks since reset, at each call
        self._since_reset = 0
        self._metadata = PolicyMetadata(
            policy_id="counting", image_keys=(), image_size=ImageSize(32, 32), chunk_length=4
        )

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        self._since_reset = 0

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        self.counters.append(self._since_reset)
        actions = np.tile(np.concatenate([obs.joint_position, [0.0]]), (4, 1))
        actions[:, 0] += 0.05 * self._since_reset
        self._since_reset += 1
        return ActionChunk(actions, "joint_position")


def test_served_stateful_policy_is_reset_between_episodes_like_in_process(serve):
    """Issue 18: over openpi:// the server's policy was never reset between episodes."""
    from evaluate.policies.openpi import OpenpiConfig, OpenpiPolicy
    from evaluate.rollout import run_episode
    from sim_env.env import EnvConfig, TwinEnv
    from sim_env.registry import resolve_env

    env = TwinEnv(resolve_env(ENV_ID), EnvConfig(image_size=ImageSize(32, 24)))
    config = RolloutConfig(max_steps=12)
    local, served = CountingPolicy(), CountingPolicy()
    server = serve(served)
    remote = OpenpiPolicy(OpenpiConfig.from_spec(f"openpi://127.0.0.1:{server.port}?timeout=20"))
    try:
        outcomes = {
            name: [
                run_episode(env, policy, initial_condition=k, seed=k, config=config)
                for k in range(3)
            ]
            for name, policy in (("local", local), ("remote", remote))
        }
    finally:
        remote.close()
        env.close()
    assert served.counters == local.counters == [0, 1, 2] * 3  # 12 steps / 4 per chunk
    for here, there in zip(outcomes["local"], outcomes["remote"], strict=True):
        assert (here.success, here.progress, here.length_steps, here.criteria) == (
            there.success, there.progress, there.length_steps, there.criteria
        )  # fmt: skip


def test_server_dying_mid_run_is_an_errored_episode_retried_on_resume(tmp_path):
    """Issue 18: a policy server that goes away is an infrastructure error, not a failed
    trial: the episode is errored, left out of the rates, and run again on resume."""
    import threading

    from evaluate.serving import BackgroundServer, ServerConfig

    class DiesOnSecondCall(SwayPolicy):
        calls = 0

        def infer(self, obs, instruction):
            DiesOnSecondCall.calls += 1
            if DiesOnSecondCall.calls == 2:  # the server goes away mid-episode
                threading.Thread(target=server.stop).start()
                threading.Event().wait(5)
            return super().infer(obs, instruction)

    server = BackgroundServer(DiesOnSecondCall(), ServerConfig(port=0)).start()
    spec = f"openpi://127.0.0.1:{server.port}?timeout=20&retries=1"
    config = EvalConfig(
        envs=(ENV_ID,), policies=(spec,), episodes=1, rollout=RolloutConfig(max_steps=16)
    )
    first = run_evaluation(config, tmp_path, Execution(workers=0))
    with ResultsStore.open(first.store) as store:
        frame = store.episodes()
        summary = store.summary().iloc[0]
    assert list(frame["failure_kind"]) == ["error"]
    assert frame["failure_reason"][0].startswith("infrastructure error: ")
    assert (summary["episodes"], summary["errored"]) == (0, 1)  # not a failed trial
    again = BackgroundServer(SwayPolicy(), ServerConfig(port=server.port)).start()
    try:
        resumed = run_evaluation(config, tmp_path, Execution(workers=0))
    finally:
        again.stop()
    assert resumed.run_id == first.run_id and resumed.already_done == 0
    with ResultsStore.open(resumed.store) as store:
        frame = store.episodes()
    assert len(frame) == 1 and frame["failure_kind"].isna().all()
