"""Our websocket client and server against each other and against openpi_client's real code."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import websockets.asyncio.server
from openpi_client import msgpack_numpy, websocket_client_policy

from evaluate.errors import EvaluateError
from evaluate.policies import make_policy
from evaluate.policies.openpi import OpenpiConfig, OpenpiPolicy
from evaluate.policy import ChunkBroker, PolicyError
from evaluate.serving import BackgroundServer, ServerConfig, wait_until_healthy
from sim_env.images import ImageSize

pytestmark = pytest.mark.timeout(30)


def client(port: int, **options: object) -> OpenpiPolicy:
    options = {"timeout_s": 5.0, "retries": 2, "backoff_s": 0.05, **options}
    return OpenpiPolicy(OpenpiConfig(host="127.0.0.1", port=port, **options))


def test_metadata_and_actions_round_trip(serve, fake_policy, make_obs, expected) -> None:
    served = fake_policy(policy_id="served", image_size=ImageSize(128, 96), open_loop_horizon=5)
    server = serve(served)
    with make_policy(f"openpi://127.0.0.1:{server.port}?gripper=off") as policy:
        meta = policy.metadata
        assert meta.image_size == ImageSize(width=128, height=96)
        assert (meta.policy_id, meta.open_loop_horizon) == ("served", 5)
        assert meta.chunk_length == 10 and meta.action_space == "joint_position"
        for seed in range(3):
            obs = make_obs(seed, height=180, width=320)
            chunk = policy.infer(obs, "put the cube in the bowl")
            np.testing.assert_allclose(chunk.actions, expected(obs))
        seen_obs, instruction = served.seen[-1]
        assert instruction == "put the cube in the bowl"
        assert {k: v.shape for k, v in seen_obs.images.items()} == {
            "exterior_image_1_left": (96, 128, 3),
            "wrist_image_left": (96, 128, 3),
        }
        assert set(policy.last_timing) == {"server_timing", "policy_timing"}
        assert policy.last_timing["policy_timing"]["infer_ms"] >= 0
        assert "prev_total_ms" in policy.last_timing["server_timing"]
    assert served.resets == 1  # each connection starts from a reset policy


def test_client_binarizes_gripper_and_spec_overrides_metadata(serve, fake_policy, obs) -> None:
    server = serve(fake_policy())
    with client(server.port, open_loop_horizon=3, action_space="joint_velocity") as policy:
        assert policy.metadata.open_loop_horizon == 3
        chunk = policy.infer(obs, "go")
        assert chunk.action_space == "joint_velocity"
        assert set(np.unique(chunk.actions[:, -1])) <= {0.0, 1.0}
        broker = ChunkBroker(policy)
        for _ in range(7):
            broker.act(obs, "go")


def test_healthz_answers_200(serve, fake_policy) -> None:
    server = serve(fake_policy(), api_key="k")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert response.status == 200 and response.read().strip() == b"OK"
    connection.close()
    wait_until_healthy("127.0.0.1", server.port, timeout_s=2)


def test_server_error_becomes_policy_error_with_traceback(serve, fake_policy, obs) -> None:
    served = fake_policy()
    server = serve(served)
    with client(server.port) as policy:
        served.mode = "raise"
        with pytest.raises(PolicyError, match="the fake policy exploded") as info:
            policy.infer(obs, "go")
        assert "Traceback (most recent call last)" in info.value.remote_traceback
        assert "RuntimeError" in info.value.remote_traceback
        served.mode = "ok"
        assert policy.infer(obs, "go").horizon == 10  # reconnected after the server closed


def test_bad_served_actions_fail_on_the_server(serve, fake_policy, obs) -> None:
    server = serve(fake_policy(mode="nan"))
    with client(server.port) as policy, pytest.raises(PolicyError, match="non-finite"):
        policy.infer(obs, "go")


def test_missing_camera_is_a_setup_error_not_a_policy_error(serve, fake_policy, obs) -> None:
    server = serve(fake_policy(image_keys=("exterior_image_2_left",)))
    with client(server.port) as policy, pytest.raises(EvaluateError) as info:
        policy.infer(obs, "go")
    assert not isinstance(info.value, PolicyError)
    assert "exterior_image_2_left" in str(info.value)


def test_api_key_is_enforced(serve, fake_policy, obs) -> None:
    server = serve(fake_policy(), api_key="s3cret")
    for key in (None, "wrong"):
        with pytest.raises(PolicyError, match="HTTP 401"):
            client(server.port, api_key=key)
    with make_policy(f"openpi://127.0.0.1:{server.port}?api_key=s3cret") as policy:
        assert policy.infer(obs, "go").horizon == 10


def test_slow_server_times_out(serve, fake_policy, obs) -> None:
    served = fake_policy()
    slow = served.infer
    served.infer = lambda o, i: (time.sleep(1.0), slow(o, i))[1]
    server = serve(served)
    with client(server.port, timeout_s=0.2) as policy:
        start = time.monotonic()
        with pytest.raises(PolicyError, match=r"no reply .* within 0.2 s"):
            policy.infer(obs, "go")
        assert time.monotonic() - start < 0.9  # did not wait for the 1 s reply


def test_server_stopped_mid_episode_then_restarted(fake_policy, obs, unused_port) -> None:
    config = ServerConfig(port=unused_port)
    server = BackgroundServer(fake_policy(), config).start()
    try:
        with client(unused_port) as policy:
            assert policy.infer(obs, "go").horizon == 10
            server.stop()
            start = time.monotonic()
            with pytest.raises(PolicyError, match="cannot reach"):
                policy.infer(obs, "go")
            assert time.monotonic() - start < 2.0
            server = BackgroundServer(fake_policy(), config).start()
            assert policy.infer(obs, "go").horizon == 10  # reconnects to the restarted server
            server.stop()
            server = BackgroundServer(fake_policy(policy_id="another"), config).start()
            with pytest.raises(PolicyError, match="different policy"):
                policy.infer(obs, "go")
    finally:
        server.stop()


def test_unreachable_server_fails_within_the_retries(unused_port) -> None:
    start = time.monotonic()
    with pytest.raises(PolicyError, match=r"cannot reach .* after 3 attempt\(s\)"):
        client(unused_port)
    assert time.monotonic() - start < 2.0


@pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager")
def test_real_openpi_client_against_our_server(serve, fake_policy, obs, expected) -> None:
    served = fake_policy(policy_id="for-openpi")
    server = serve(served, api_key="k")
    real = websocket_client_policy.WebsocketClientPolicy("127.0.0.1", server.port, api_key="k")
    try:
        assert real.get_server_metadata()["policy_id"] == "for-openpi"
        request = {
            "observation/exterior_image_1_left": obs.images["exterior_image_1_left"],
            "observation/wrist_image_left": obs.images["wrist_image_left"],
            "observation/joint_position": obs.joint_position,
            "observation/gripper_position": obs.gripper_position,
            "prompt": "wipe the table",
        }
        reply = real.infer(request)
        np.testing.assert_allclose(reply["actions"], expected(obs))
        assert {"server_timing", "policy_timing"} <= set(reply)
        assert served.seen[-1][1] == "wipe the table"
        served.mode = "raise"
        with pytest.raises(RuntimeError, match="Error in inference server"):
            real.infer(request)
    finally:
        real._ws.close()  # openpi's client has no close()


class _ReferenceServer:
    """A minimal openpi-style server written with openpi_client.msgpack_numpy, not our codec."""

    def __init__(self, actions: np.ndarray, metadata: dict | None = None):
        self.actions = actions
        self.metadata = {"reset_pose": np.zeros(7)} if metadata is None else metadata
        self.requests: list[dict] = []
        self.port: int | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _handler(self, connection) -> None:
        await connection.send(msgpack_numpy.packb(self.metadata))
        async for message in connection:
            self.requests.append(msgpack_numpy.unpackb(message))
            await connection.send(msgpack_numpy.packb({"actions": self.actions}))

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with websockets.asyncio.server.serve(
            self._handler, "127.0.0.1", 0, compression=None, max_size=None
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> _ReferenceServer:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


@pytest.fixture
def reference_server() -> Iterator[_ReferenceServer]:
    actions = np.linspace(0, 1, 15 * 8, dtype=np.float32).reshape(15, 8)
    with _ReferenceServer(actions) as server:
        yield server


def test_our_client_against_a_reference_encoded_server(reference_server, make_obs) -> None:
    obs = make_obs(height=720, width=1280)
    with client(reference_server.port) as policy:
        meta = policy.metadata  # openpi sends no fields of ours: DROID defaults apply
        assert meta.image_size == (224, 224) and meta.open_loop_horizon == 8
        assert meta.policy_id == f"openpi://127.0.0.1:{reference_server.port}"
        np.testing.assert_array_equal(meta.extra["reset_pose"], np.zeros(7))
        chunk = policy.infer(obs, "open the drawer")
    expected_actions = reference_server.actions.astype(np.float64)
    expected_actions[:, -1] = expected_actions[:, -1] > 0.5
    np.testing.assert_array_equal(chunk.actions, expected_actions)
    request = reference_server.requests[-1]
    assert request["prompt"] == "open the drawer"
    assert request["observation/exterior_image_1_left"].shape == (224, 224, 3)
    assert request["observation/exterior_image_1_left"].dtype == np.uint8
    np.testing.assert_array_equal(request["observation/joint_position"], obs.joint_position)
    assert request["observation/gripper_position"].shape == (1,)


def test_unusable_server_metadata_is_a_policy_error() -> None:
    with (
        _ReferenceServer(np.zeros((4, 8)), {"action_space": "eef"}) as server,
        pytest.raises(PolicyError, match=r"server metadata .* unusable"),
    ):
        client(server.port)


def test_oversized_frame_is_refused_before_it_is_buffered(serve, fake_policy) -> None:
    """Issue 22: the server used to buffer frames of any size (200 MB before failing)."""
    import websockets.exceptions
    import websockets.sync.client

    server = serve(fake_policy(), max_frame_bytes=1 << 20)
    with websockets.sync.client.connect(
        f"ws://127.0.0.1:{server.port}", compression=None, max_size=None
    ) as connection:
        connection.recv()  # the metadata frame
        connection.send(b"\0" * (4 << 20))
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            connection.recv(timeout=10)
    assert closed.value.rcvd.code == 1009  # message too big


def _valid_request() -> dict:
    return {
        "observation/joint_position": np.zeros(7, np.float32),
        "observation/gripper_position": np.zeros(1, np.float32),
        "observation/exterior_image_1_left": np.zeros((8, 8, 3), np.uint8),
        "prompt": "go",
    }


BAD_REQUESTS = [
    ("text frame", "text", "binary msgpack frames, got a text frame"),
    ("not msgpack", b"\xc1\xc1\xc1", "not a msgpack frame"),
    ("an int", 7, "expected a map of observation keys, got int"),
    ("a list", [1, 2], "expected a map of observation keys, got list"),
    ("no joints", {"prompt": "go"}, "request has no 'observation/joint_position'"),
    (
        "wrong shape",
        {**_valid_request(), "observation/joint_position": np.zeros(3, np.float32)},
        r"observation/joint_position must be a float array of shape \(7,\)",
    ),
    (
        "wrong dtype",
        {**_valid_request(), "observation/gripper_position": np.zeros(1, np.int64)},
        "observation/gripper_position must be a float array",
    ),
    (
        "float image",
        {**_valid_request(), "observation/exterior_image_1_left": np.zeros((8, 8, 3), np.float32)},
        "uint8",
    ),
    (  # these three were tracebacks in benchmarks.hostile's table
        "nan state",
        {**_valid_request(), "observation/joint_position": np.full(7, np.nan, np.float32)},
        "observation/joint_position holds a non-finite value",
    ),
    (
        "empty image",
        {**_valid_request(), "observation/exterior_image_1_left": np.zeros((0, 0, 3), np.uint8)},
        r"must be uint8 \(H, W, 3\) with H, W >= 1",
    ),
    (
        "missing camera",
        _valid_request(),  # the fake policy reads both DROID cameras; it has one
        r"request has no \['observation/wrist_image_left'\] for the camera\(s\) the policy reads",
    ),
]


@pytest.mark.parametrize(
    ("what", "payload", "message"), BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS]
)
def test_bad_request_gets_one_line_naming_what_is_wrong(serve, fake_policy, what, payload, message):
    """Issue 22: these used to come back as tracebacks (`argument of type 'int' is not
    iterable`); openpi's convention (a text frame, then close) is kept."""
    import re

    import websockets.exceptions
    import websockets.sync.client

    from evaluate import wire

    server = serve(fake_policy())
    with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}", compression=None) as ws:
        ws.recv()  # metadata
        if payload == "text":
            ws.send("hello")
        elif isinstance(payload, bytes):
            ws.send(payload)
        else:
            ws.send(wire.packb(payload))
        reply = ws.recv(timeout=10)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert isinstance(reply, str) and reply.startswith("bad request: ")
    assert re.search(message, reply) and "Traceback" not in reply and len(reply.splitlines()) == 1
    assert closed.value.rcvd.code == 1007


def test_a_privileged_policy_is_refused_at_start() -> None:
    """Issue 18: `twinbench serve scripted:expert` started, then every request failed."""
    with pytest.raises(EvaluateError, match=r"privileged state .* cannot be served"):
        BackgroundServer(make_policy("scripted:expert"), ServerConfig(port=0))
