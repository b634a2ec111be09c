"""The sandboxed side: load one bundle and answer reset/infer/close frames on a socket.

Runs only after :mod:`evaluate.sandbox.confine` has confined the process. Every failure of
the bundle's code (loading included) goes back as a one-line ``error`` frame; the evaluator
decides what it means. The bundle's own output goes to the child's log, never to the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any

from evaluate.bundle import load_bundle
from evaluate.policies.droid import metadata_to_frame
from evaluate.policy import Observation, Policy
from evaluate.sandbox.frames import FrameClosed, recv_frame, send_frame
from twinbench.errors import TwinbenchError

MAX_ERROR_CHARS = 500


def error_frame(exc: BaseException) -> dict[str, Any]:
    """The one-line reason for the evaluator: our own errors as they are (message, file,
    field), anything else as ``Type: message``, cut to a length a job's reason can hold."""
    if isinstance(exc, TwinbenchError):
        return {"error": exc.message[:MAX_ERROR_CHARS], "file": exc.file, "field": exc.field}
    text = " ".join(str(exc).split()) or repr(exc)
    return {"error": f"{type(exc).__name__}: {text}"[:MAX_ERROR_CHARS]}


def serve(fd: int, bundle: str, held: Sequence[str]) -> None:
    """Load ``bundle``, send its metadata (or why it failed), then answer until closed."""
    sock = socket.socket(fileno=fd)
    try:
        policy = load_bundle(bundle)
    except BaseException as exc:  # the bundle's code may raise anything, even SystemExit
        send_frame(sock, error_frame(exc))
        return
    send_frame(sock, {"metadata": metadata_to_frame(policy.metadata), "sandbox": list(held)})
    while True:
        try:
            request = recv_frame(sock)
        except (FrameClosed, OSError):
            return
        send_frame(sock, _answer(policy, request))
        if request.get("op") == "close":
            return


def _answer(policy: Policy, request: Mapping[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    try:
        if op == "reset":
            policy.reset()
            return {"ok": True}
        if op == "infer":
            obs = Observation(
                request["joint_position"], request["gripper_position"], request["images"]
            )
            chunk = policy.infer(obs, request["instruction"])
            return {"actions": chunk.actions, "action_space": chunk.action_space}
        if op == "close":
            policy.close()
            return {"ok": True}
        return {"error": f"unknown request {op!r}"}
    except BaseException as exc:  # reported to the evaluator, which fails the episode
        return error_frame(exc)
