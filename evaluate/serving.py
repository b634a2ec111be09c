"""Serve any Policy over openpi's websocket protocol, so openpi's own client can evaluate it.

Per connection: one metadata frame, then one reply frame per request frame with ``actions``,
``server_timing`` and ``policy_timing``. A failing request gets its traceback as a text frame
and the connection is closed (openpi's convention); the server keeps serving others.
``GET /healthz`` answers 200 for probes; with an API key, the websocket handshake requires
``Authorization: Api-Key <key>`` (what openpi_client sends) and answers 401 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import http.client
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import websockets.asyncio.server as ws_server
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from evaluate import wire
from evaluate.errors import EvaluateError
from evaluate.policies.droid import (
    ENDPOINT,
    ENDPOINTS,
    INFER,
    RESET,
    decode_request,
    metadata_to_frame,
)
from evaluate.policy import Observation, Policy, PolicyError
from evaluate.privileged import PrivilegedPolicy
from sim_env import droid

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    """Where to listen and whom to let in.

    Attributes:
        host: interface to bind; loopback unless the policy must be reachable from elsewhere.
        port: TCP port; 0 picks a free one (see ``BackgroundServer.port``).
        api_key: when set, required as ``Authorization: Api-Key <key>``.
        max_frame_bytes: the largest request accepted; a larger one closes the connection
            (code 1009) before it is buffered. The default holds three 1920x1080 RGB camera
            images with room to spare: DROID requests are two 224x224 images.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_frame_bytes: int = 32 * 2**20


class PolicyServer:
    """One policy behind a websocket; inference runs one request at a time off the event loop,
    so health probes and other connections stay responsive during a slow ``infer``."""

    def __init__(self, policy: Policy, config: ServerConfig):
        """Raises:
        EvaluateError: ``policy`` reads privileged simulator state, which no request carries.
        """
        if isinstance(policy, PrivilegedPolicy):
            raise EvaluateError(
                f"{policy.metadata.policy_id} reads the simulator's privileged state (object "
                "poses), which no request over the wire carries: it cannot be served; evaluate "
                "it in-process with twinbench eval --policy instead"
            )
        self.policy = policy
        self.config = config
        self._metadata_frame = wire.packb(
            {**metadata_to_frame(policy.metadata), ENDPOINTS: [INFER, RESET]}
        )

    def serve_forever(self, on_listening: Callable[[int], None] | None = None) -> None:
        """Block serving until interrupted (Ctrl-C raises KeyboardInterrupt)."""
        asyncio.run(self.run(on_listening=on_listening))

    async def run(
        self,
        stop: asyncio.Event | None = None,
        on_listening: Callable[[int], None] | None = None,
    ) -> None:
        """Serve until ``stop`` is set (forever without one); ``on_listening`` gets the port."""
        lock = asyncio.Lock()
        async with ws_server.serve(
            lambda connection: self._handle(connection, lock),
            self.config.host,
            self.config.port,
            compression=None,
            max_size=self.config.max_frame_bytes,
            process_request=self._process_request,
        ) as server:
            port = server.sockets[0].getsockname()[1]
            logger.info(
                "serving %s on ws://%s:%d", self.policy.metadata.policy_id, self.config.host, port
            )
            if on_listening is not None:
                on_listening(port)
            if stop is None:
                await server.serve_forever()
            else:
                await stop.wait()

    def _process_request(
        self, connection: ws_server.ServerConnection, request: ws_server.Request
    ) -> ws_server.Response | None:
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if self.config.api_key is not None:
            sent = request.headers.get("Authorization", "")
            expected = f"Api-Key {self.config.api_key}"
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                return connection.respond(
                    http.HTTPStatus.UNAUTHORIZED, "missing or wrong API key\n"
                )
        return None

    async def _handle(self, connection: ws_server.ServerConnection, lock: asyncio.Lock) -> None:
        logger.info("connection from %s opened", connection.remote_address)
        async with lock:
            await asyncio.to_thread(self.policy.reset)
        await connection.send(self._metadata_frame)
        previous_total_ms: float | None = None
        while True:
            try:
                message = await connection.recv()
            except ConnectionClosed:
                logger.info("connection from %s closed", connection.remote_address)
                return
            start = time.monotonic()
            try:
                reply = await self._answer(message, lock, start, previous_total_ms)
                await connection.send(reply)
            except ConnectionClosed:
                return
            except BadRequest as exc:  # the client's mistake: say what it was, in one line
                logger.warning("bad request from %s: %s", connection.remote_address, exc)
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(f"bad request: {exc}")
                    await connection.close(code=CloseCode.INVALID_DATA, reason="bad request")
                return
            except Exception:
                logger.exception("request from %s failed", connection.remote_address)
                with contextlib.suppress(ConnectionClosed):
                    await connection.send(traceback.format_exc())
                    await connection.close(
                        code=CloseCode.INTERNAL_ERROR,
                        reason="Internal server error. Traceback included in previous frame.",
                    )
                return
            previous_total_ms = (time.monotonic() - start) * 1000

    async def _answer(
        self,
        message: str | bytes,
        lock: asyncio.Lock,
        start: float,
        previous_total_ms: float | None,
    ) -> bytes:
        request = _unpack(message)
        if request.get(ENDPOINT) == RESET:  # between episodes (RoboArena's reset endpoint)
            async with lock:
                await asyncio.to_thread(self.policy.reset)
            return wire.packb({ENDPOINT: RESET})
        obs, instruction = _decode(request, self.policy.metadata.image_keys)
        async with lock:
            policy_start = time.monotonic()
            chunk = await asyncio.to_thread(self.policy.infer, obs, instruction)
            policy_ms = (time.monotonic() - policy_start) * 1000
        server_timing = {"infer_ms": (time.monotonic() - start) * 1000}
        if previous_total_ms is not None:
            server_timing["prev_total_ms"] = previous_total_ms
        return wire.packb(
            {
                droid.ACTIONS: chunk.actions,
                "server_timing": server_timing,
                "policy_timing": {"infer_ms": policy_ms},
            }
        )


class BadRequest(ValueError):
    """A request that does not follow the wire contract (the client's error, not the server's)."""


def _unpack(message: str | bytes) -> Mapping[str, Any]:
    """One request frame as a map.

    Raises:
        BadRequest: a text frame, not msgpack, or not a map.
    """
    if isinstance(message, str):
        raise BadRequest("requests must be binary msgpack frames, got a text frame")
    try:
        request = wire.unpackb(message)
    except Exception as exc:
        raise BadRequest(f"not a msgpack frame ({type(exc).__name__}: {exc})") from None
    if not isinstance(request, Mapping):
        raise BadRequest(f"expected a map of observation keys, got {type(request).__name__}")
    return request


def _decode(request: Mapping[str, Any], cameras: Sequence[str]) -> tuple[Observation, str]:
    """The observation and instruction of one inference request.

    Raises:
        BadRequest: naming what is wrong (a missing key, a state of the wrong shape or dtype
            with the expected one, a non-finite state, an image that is not uint8 (H, W, 3),
            a camera the policy reads that the request lacks).
    """
    try:
        obs, instruction = decode_request(request)
    except (ValueError, TypeError, PolicyError) as exc:
        raise BadRequest(str(exc)) from None
    missing = [droid.openpi_key(key) for key in cameras if key not in obs.images]
    if missing:
        raise BadRequest(
            f"request has no {missing} for the camera(s) the policy reads; it has "
            f"{sorted(str(key) for key in request)}"
        )
    return obs, instruction


class BackgroundServer:
    """A PolicyServer on its own thread and event loop, for tests and in-process evaluation.

    Use as a context manager: ``with BackgroundServer(policy, ServerConfig(port=0)) as s:``
    then connect to ``s.port``.
    """

    def __init__(self, policy: Policy, config: ServerConfig, *, start_timeout_s: float = 10.0):
        self._server = PolicyServer(policy, config)
        self._start_timeout_s = start_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._listening = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def start(self) -> BackgroundServer:
        """Start listening; return once the port is bound.

        Raises:
            EvaluateError: the server did not come up (e.g. the port is taken).
        """
        self._thread = threading.Thread(target=self._main, name="policy-server", daemon=True)
        self._thread.start()
        if not self._listening.wait(self._start_timeout_s) or self.port is None:
            self.stop()
            raise EvaluateError(
                f"policy server on {self._server.config.host}:{self._server.config.port} "
                f"did not start: {self._error!r}"
            )
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the listener and every connection (code 1001), then join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self._server.run(self._stop, self._on_listening)

        try:
            asyncio.run(main())
        except Exception as exc:  # reported by start(); the thread has nowhere else to raise
            self._error = exc
            self._listening.set()

    def _on_listening(self, port: int) -> None:
        self.port = port
        self._listening.set()


def wait_until_healthy(host: str, port: int, timeout_s: float) -> None:
    """Poll ``GET /healthz`` until it answers 200.

    Raises:
        EvaluateError: no healthy answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
            if status == http.HTTPStatus.OK:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = exc
        finally:
            connection.close()
        time.sleep(0.05)
    raise EvaluateError(f"policy server {host}:{port} not healthy after {timeout_s:g} s: {last}")
