"""Length-prefixed wire frames on a socket between the evaluator and its sandboxed child.

Each frame is a 4-byte big-endian length, then that many bytes of ``evaluate.wire`` msgpack
(numpy arrays without pickle). Reading has a deadline and a size cap, so a child that stalls
or floods cannot hold or exhaust the evaluator.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from evaluate import wire

_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 64 * 2**20  # a reply holds one action chunk; a request a few camera images


class FrameTimeout(TimeoutError):
    """No whole frame arrived before the deadline."""


class FrameClosed(EOFError):
    """The other end closed the socket (the process exited)."""


def send_frame(sock: socket.socket, message: Any) -> None:
    data = wire.packb(message)
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv_frame(
    sock: socket.socket, timeout_s: float | None = None, max_bytes: int = MAX_FRAME_BYTES
) -> Any:
    """One decoded frame; ``timeout_s`` None waits forever (the child waiting for work).

    Raises:
        FrameTimeout: the deadline passed first.
        FrameClosed: the socket closed before a whole frame.
        ValueError: a frame over ``max_bytes`` or not valid msgpack.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    (length,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size, deadline))
    if length > max_bytes:
        raise ValueError(f"frame of {length} bytes is over the {max_bytes}-byte limit")
    return wire.unpackb(_recv_exactly(sock, length, deadline))


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks, received = [], 0
    while received < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FrameTimeout(f"no reply within the deadline ({received}/{size} bytes)")
            sock.settimeout(left)
        try:
            chunk = sock.recv(min(size - received, 2**20))
        except TimeoutError:
            continue  # the loop's deadline check raises
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise FrameClosed(f"closed after {received} of {size} bytes")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)
