"""openpi's msgpack-numpy wire encoding: numpy arrays and scalars inside msgpack, no pickle.

An array travels as ``{b"__ndarray__": True, b"data": raw bytes, b"dtype": dtype.str,
b"shape": shape}`` and a numpy scalar as ``{b"__npgeneric__": True, b"data": item,
b"dtype": dtype.str}``, byte for byte what ``openpi_client.msgpack_numpy`` writes, so either
side of a connection can be ours or openpi's. Object, void and complex dtypes are refused:
they cannot cross a language boundary without pickle.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

REFUSED_KINDS = frozenset("VOc")  # void (structured), object, complex


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind in REFUSED_KINDS:
        raise ValueError(f"dtype {dtype} cannot travel on the wire (object/void/complex)")


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        _check_dtype(obj.dtype)
        return {
            b"__ndarray__": True,
            b"data": obj.tobytes(),
            b"dtype": obj.dtype.str,
            b"shape": obj.shape,
        }
    if isinstance(obj, np.generic):
        _check_dtype(obj.dtype)
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot encode {type(obj).__name__} on the wire")


def _decode(obj: dict) -> Any:
    if b"__ndarray__" in obj:
        dtype = np.dtype(obj[b"dtype"])
        _check_dtype(dtype)
        flat = np.frombuffer(obj[b"data"], dtype=dtype)
        return flat.reshape(obj[b"shape"]).copy()
    if b"__npgeneric__" in obj:
        dtype = np.dtype(obj[b"dtype"])
        _check_dtype(dtype)
        return dtype.type(obj[b"data"])
    return obj


def packb(obj: Any) -> bytes:
    """Encode a (nested) structure of dicts, lists, scalars and numpy values."""
    return msgpack.packb(obj, default=_encode)


def unpackb(data: bytes) -> Any:
    """Decode one frame; arrays come back writable and owning their memory.

    Raises:
        ValueError: the frame is not msgpack, or an array in it is malformed or refused.
    """
    try:
        return msgpack.unpackb(data, object_hook=_decode)
    except (KeyError, TypeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed frame: {exc!r}") from exc
