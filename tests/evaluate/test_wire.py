"""The msgpack-numpy codec against itself and against openpi_client's reference encoding."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from openpi_client import msgpack_numpy

from evaluate import wire

NUMERIC = [
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float16, np.float32, np.float64,
]  # fmt: skip
SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3), (2, 3, 4, 1)]


def _array(dtype: type, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return np.asarray(rng.uniform(0, 100, shape)).astype(dtype)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_arrays_round_trip(dtype: type) -> None:
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        array = _array(dtype, shape, rng)
        back = wire.unpackb(wire.packb({"x": array, "nested": [array, {"y": array}]}))
        for got in (back["x"], back["nested"][0], back["nested"][1]["y"]):
            assert got.dtype == array.dtype and got.shape == array.shape
            np.testing.assert_array_equal(got, array)
            assert got.flags.writeable


def test_non_contiguous_big_endian_and_string_arrays_round_trip() -> None:
    strided = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    big_endian = np.arange(5, dtype=">i4")
    strings = np.array(["droid", "ok"])
    for array in (strided, big_endian, strings):
        back = wire.unpackb(wire.packb(array))
        assert back.dtype == array.dtype
        np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_numpy_scalars_round_trip(dtype: type) -> None:
    scalar = dtype(7)
    back = wire.unpackb(wire.packb(scalar))
    # np.float64 subclasses float, so msgpack writes it as a plain float (openpi does the same)
    assert type(back) is (float if dtype is np.float64 else dtype) and back == scalar


def test_plain_values_pass_through() -> None:
    value = {"prompt": "pick up the cube", "n": 3, "x": 1.5, "ok": True, "none": None, "l": [1, 2]}
    assert wire.unpackb(wire.packb(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        np.array([object()], dtype=object),
        np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
        np.zeros(3, dtype=np.complex64),
        np.complex128(1 + 2j),
    ],
    ids=["object", "void", "complex-array", "complex-scalar"],
)
def test_object_void_and_complex_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="cannot travel"):
        wire.packb(value)


def test_refused_dtype_in_an_incoming_frame_is_a_value_error() -> None:
    frame = msgpack.packb(
        {b"__ndarray__": True, b"data": b"\0" * 16, b"dtype": "<c16", b"shape": (1,)}
    )
    with pytest.raises(ValueError, match="cannot travel"):
        wire.unpackb(frame)
    with pytest.raises(ValueError, match="malformed"):
        wire.unpackb(b"\xc1")
    with pytest.raises(ValueError, match="malformed"):
        wire.unpackb(msgpack.packb({b"__ndarray__": True}))


def _observation_like() -> dict:
    rng = np.random.default_rng(1)
    return {
        "observation/exterior_image_1_left": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
        "observation/joint_position": rng.uniform(-1, 1, 7),
        "observation/gripper_position": np.array([0.25]),
        "prompt": "put the marker in the bowl",
        "step": np.int64(12),
        "scale": np.float32(0.5),
        "meta": {"shape": [1, 2], "flag": np.bool_(True)},
    }


def test_bytes_identical_to_openpi_client() -> None:
    value = _observation_like()
    assert wire.packb(value) == msgpack_numpy.packb(value)


def test_decodes_openpi_client_frames_and_openpi_client_decodes_ours() -> None:
    value = _observation_like()
    for decoded in (
        wire.unpackb(msgpack_numpy.packb(value)),
        msgpack_numpy.unpackb(wire.packb(value)),
    ):
        assert decoded.keys() == value.keys()
        for key in value:
            if isinstance(value[key], np.ndarray):
                np.testing.assert_array_equal(decoded[key], value[key])
                assert decoded[key].dtype == value[key].dtype
        assert decoded["prompt"] == value["prompt"]
        assert type(decoded["step"]) is np.int64 and decoded["step"] == 12
        assert type(decoded["meta"]["flag"]) is np.bool_
