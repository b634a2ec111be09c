"""A Policy that asks an openpi websocket policy server (ours or openpi's) for action chunks.

Speaks openpi's protocol as ``openpi_client.websocket_client_policy`` does, with what that
client lacks for unattended benchmark runs: a timeout on every wait, bounded reconnects with
backoff, and server errors surfaced as PolicyError so one bad episode does not end a run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import websockets.exceptions
import websockets.sync.client

from evaluate import wire
from evaluate.errors import EvaluateError
from evaluate.policies import public_spec
from evaluate.policies.droid import (
    ENDPOINT,
    ENDPOINTS,
    METADATA_FIELDS,
    RESET,
    encode_request,
    metadata_from_frame,
)
from evaluate.policy import (
    ACTION_SPACES,
    ActionChunk,
    ActionSpace,
    Observation,
    Policy,
    PolicyError,
    PolicyMetadata,
    binarize_gripper,
    check_actions,
)
from sim_env import droid
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize

logger = logging.getLogger(__name__)

# Failures worth a reconnect: refused or reset sockets, connect timeouts, dropped websockets.
_TRANSIENT = (OSError, websockets.exceptions.ConnectionClosed)
_MAX_BACKOFF_S = 2.0
_T = TypeVar("_T")


@dataclass(frozen=True)
class OpenpiConfig:
    """Where the server is and how patiently to talk to it.

    Attributes:
        host, port: the server's address.
        api_key: sent as ``Authorization: Api-Key <key>`` when set.
        action_space, open_loop_horizon, image_size: override what the server reports
            (openpi's own servers report none of them; the DROID defaults apply then).
            ``image_size`` is written WIDTHxHEIGHT in a spec, like every size in twinbench.
        timeout_s: longest wait for one reply (and for connecting) [s].
        retries: reconnect attempts after a dropped connection before giving up.
        backoff_s: first pause between attempts, doubled each time up to 2 s [s].
        gripper_threshold: binarize the gripper above this; None keeps it continuous.
    """

    host: str
    port: int
    api_key: str | None = None
    action_space: ActionSpace | None = None
    open_loop_horizon: int | None = None
    image_size: ImageSize | None = None
    timeout_s: float = 30.0
    retries: int = 3
    backoff_s: float = 0.25
    gripper_threshold: float | None = droid.GRIPPER_THRESHOLD

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @classmethod
    def from_spec(cls, spec: str) -> OpenpiConfig:
        """Parse ``openpi://HOST:PORT[?api_key_env=VAR&horizon=8&action_space=joint_velocity
        &image_size=224x224&timeout=30&retries=3&gripper=0.5|off]``.

        The API key comes from the environment variable ``api_key_env`` names (``api_key=K``
        is accepted too, but a key in a spec ends up in shell histories); error messages
        quote the spec without it.
        """
        parts = urlsplit(spec)
        shown = public_spec(spec)
        try:
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise EvaluateError(f"bad port in policy spec {shown!r}: {exc}") from exc
        if parts.scheme != "openpi" or not host or port is None:
            raise EvaluateError(f"policy spec {shown!r} must look like openpi://HOST:PORT[?...]")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - set(_QUERY_PARSERS))
        if unknown:
            raise EvaluateError(
                f"unknown option(s) {unknown} in {shown!r}; valid: {sorted(_QUERY_PARSERS)}"
            )
        fields: dict[str, Any] = {}
        if "api_key_env" in query:
            variable = query.pop("api_key_env")
            if "api_key" in query:
                raise EvaluateError(f"give api_key or api_key_env, not both, in {shown!r}")
            if not os.environ.get(variable):
                raise EvaluateError(
                    f"environment variable {variable!r} (api_key_env) is not set",
                    field="api_key_env",
                )
            fields["api_key"] = os.environ[variable]
        for key, text in query.items():
            name, parse = _QUERY_PARSERS[key]
            try:
                fields[name] = parse(text)
            except SimEnvError as exc:
                raise EvaluateError(f"{exc.message} in {shown!r}", field=key) from exc
            except ValueError as exc:
                raise EvaluateError(f"bad value {text!r} in {shown!r}: {exc}", field=key) from exc
        return cls(host=host, port=port, **fields)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be > 0")
    return value


def _action_space(text: str) -> str:
    if text not in ACTION_SPACES:
        raise ValueError(f"expected one of {ACTION_SPACES}")
    return text


def _threshold(text: str) -> float | None:
    return None if text.lower() in ("off", "none") else float(text)


_QUERY_PARSERS = {
    "api_key": ("api_key", str),
    "api_key_env": ("api_key", str),  # read from the environment in from_spec
    "horizon": ("open_loop_horizon", _positive_int),
    "action_space": ("action_space", _action_space),
    "image_size": ("image_size", ImageSize.parse),
    "timeout": ("timeout_s", _positive_float),
    "retries": ("retries", _non_negative_int),
    "gripper": ("gripper_threshold", _threshold),
}


class OpenpiPolicy(Policy):
    """Client of one policy server; connects on construction to read the server's metadata.

    Raises:
        PolicyError: the server cannot be reached within the retries, or refuses the API key.
    """

    def __init__(self, config: OpenpiConfig):
        self.config = config
        self.last_timing: Mapping[str, Any] = {}  # server_timing / policy_timing of the last reply
        self._conn: websockets.sync.client.ClientConnection | None = None
        self._session = contextlib.ExitStack()  # closes self._conn
        self._frame: Mapping[str, Any] = {}
        self._with_retries(self._connected)
        overrides = {
            name: value
            for name in ("action_space", "open_loop_horizon", "image_size")
            if (value := getattr(config, name)) is not None
        }
        defaults = PolicyMetadata(policy_id=f"openpi://{config.uri.removeprefix('ws://')}")
        try:
            self._metadata = metadata_from_frame(self._frame, defaults, overrides)
        except PolicyError:
            self._drop()
            raise

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        """Reset the served policy between episodes, where the server offers RoboArena's
        reset endpoint (twinbench's servers do); plain openpi servers have none, and
        their policies are stateless."""
        if RESET not in self._frame.get(ENDPOINTS, ()):
            return
        request = wire.packb({ENDPOINT: RESET})
        reply = self._decode(self._with_retries(lambda: self._round_trip(request)))
        if not isinstance(reply, Mapping) or reply.get(ENDPOINT) != RESET:
            raise PolicyError(
                f"{self.config.uri} did not acknowledge the reset: {reply!r}", infrastructure=True
            )

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        payload = wire.packb(encode_request(obs, instruction, self._metadata))
        reply = self._decode(self._with_retries(lambda: self._round_trip(payload)))
        if not isinstance(reply, Mapping) or droid.ACTIONS not in reply:
            keys = sorted(reply) if isinstance(reply, Mapping) else type(reply).__name__
            raise PolicyError(
                f"reply from {self.config.uri} has no {droid.ACTIONS!r} (got {keys})",
                infrastructure=True,
            )
        self.last_timing = {k: reply[k] for k in ("server_timing", "policy_timing") if k in reply}
        actions = check_actions(reply[droid.ACTIONS], self._metadata.action_space)
        if self.config.gripper_threshold is not None:
            actions = binarize_gripper(actions, self.config.gripper_threshold)
        return ActionChunk(actions, self._metadata.action_space)

    def close(self) -> None:
        self._drop()

    def _connected(self) -> websockets.sync.client.ClientConnection:
        """The open connection, opening one (and reading its metadata frame) when needed."""
        if self._conn is not None:
            return self._conn
        headers = (
            {"Authorization": f"Api-Key {self.config.api_key}"} if self.config.api_key else None
        )
        session = contextlib.ExitStack()  # websockets >= 17 wants connect() as a context manager
        try:
            conn = session.enter_context(
                websockets.sync.client.connect(
                    self.config.uri,
                    compression=None,
                    max_size=None,
                    additional_headers=headers,
                    open_timeout=self.config.timeout_s,
                    close_timeout=1.0,
                    ping_interval=None,  # openpi servers block their event loop while inferring
                )
            )
        except websockets.exceptions.InvalidStatus as exc:
            status = exc.response.status_code
            hint = " (missing or wrong API key)" if status in (401, 403) else ""
            raise PolicyError(
                f"{self.config.uri} refused the connection: HTTP {status}{hint}"
            ) from exc
        except websockets.exceptions.InvalidHandshake as exc:
            raise PolicyError(
                f"{self.config.uri} is not a websocket policy server: {exc}", infrastructure=True
            ) from exc
        try:
            frame = self._decode(conn.recv(timeout=self.config.timeout_s))
            self._check_same_policy(frame)
        except BaseException:
            session.close()
            raise
        self._conn, self._session, self._frame = conn, session, frame
        return conn

    def _check_same_policy(self, frame: Any) -> None:
        """Refuse a reconnect that lands on a server now serving a different policy."""
        if not self._frame or not isinstance(frame, Mapping):
            return
        before = {key: self._frame.get(key) for key in METADATA_FIELDS}
        after = {key: frame.get(key) for key in METADATA_FIELDS}
        if before != after:
            raise PolicyError(
                f"{self.config.uri} came back serving a different policy: {before} -> {after}"
            )

    def _round_trip(self, payload: bytes) -> bytes:
        conn = self._connected()
        conn.send(payload)
        try:
            return conn.recv(timeout=self.config.timeout_s)
        except TimeoutError as exc:
            self._drop()  # a late reply would answer the next request
            raise PolicyError(
                f"no reply from {self.config.uri} within {self.config.timeout_s:g} s",
                infrastructure=True,
            ) from exc

    def _with_retries(self, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt``; on a dropped or refused connection reconnect, a bounded number of
        times with exponential backoff."""
        failure: BaseException | None = None
        for number in range(self.config.retries + 1):
            if number:
                time.sleep(min(self.config.backoff_s * 2 ** (number - 1), _MAX_BACKOFF_S))
                logger.info("reconnecting to %s (attempt %d)", self.config.uri, number)
            try:
                return attempt()
            except _TRANSIENT as exc:
                self._drop()
                failure = exc
        raise PolicyError(
            f"cannot reach the policy server at {self.config.uri} after "
            f"{self.config.retries + 1} attempt(s): {failure}",
            infrastructure=True,
        )

    def _drop(self) -> None:
        self._session.close()
        self._conn = None

    def _decode(self, frame: str | bytes) -> Any:
        if isinstance(frame, str):
            self._drop()  # the server closes after an error frame
            raise PolicyError(
                f"policy server {self.config.uri} failed:\n{frame}", remote_traceback=frame
            )
        try:
            return wire.unpackb(frame)
        except ValueError as exc:
            raise PolicyError(
                f"undecodable frame from {self.config.uri}: {exc}", infrastructure=True
            ) from exc
