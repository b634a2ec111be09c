"""PLY reading and writing: exact round trips, the file variants seen in the wild, and one
clear SplatFileError (file and field) for every kind of broken file."""

import numpy as np
import pytest

from sim_env.errors import SplatFileError
from sim_env.splats import GaussianSet, read_ply, write_ply

FIELDS = ("means", "quats", "scales", "opacities", "sh")


def _random_set(n=64, degree=0, seed=0):
    rng = np.random.default_rng(seed)
    return GaussianSet.from_raw(
        rng.normal(size=(n, 3)),
        rng.normal(size=(n, 4)),
        rng.uniform(-12, 2, (n, 3)),
        rng.normal(0, 8, n),
        rng.normal(size=(n, (degree + 1) ** 2, 3)),
    )


def _assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _header(props, count, fmt="binary_little_endian", extra=""):
    lines = ["ply", f"format {fmt} 1.0", "comment made by a test", f"element vertex {count}"]
    lines += [f"property float {p}" for p in props]
    return ("\n".join(lines) + "\n" + extra + "end_header\n").encode()


def _inria_props(degree=0, normals=True, scales=3):
    props = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals else [])
    props += [f"f_dc_{i}" for i in range(3)]
    props += [f"f_rest_{i}" for i in range(3 * ((degree + 1) ** 2 - 1))]
    props += ["opacity"] + [f"scale_{i}" for i in range(scales)] + [f"rot_{i}" for i in range(4)]
    return props


def _write(path, props, table, fmt="binary_little_endian", extra=""):
    table = np.asarray(table, np.float32)
    if fmt == "ascii":
        body = "\n".join(" ".join(repr(float(v)) for v in row) for row in table).encode() + b"\n"
    else:
        body = table.astype("<f4" if fmt == "binary_little_endian" else ">f4").tobytes()
    path.write_bytes(_header(props, len(table), fmt, extra) + body)
    return path


def _table(n=5, degree=0, normals=True, scales=3, seed=1):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(n, len(_inria_props(degree, normals, scales)))).astype(np.float32)
    return table


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
@pytest.mark.parametrize("normals", [False, True])
def test_round_trip_is_exact(tmp_path, degree, normals):
    gs = _random_set(degree=degree, seed=degree)
    write_ply(tmp_path / "a.ply", gs, normals=normals)
    _assert_same(read_ply(tmp_path / "a.ply"), gs)


def test_round_trip_of_activated_values_and_extremes(tmp_path):
    rng = np.random.default_rng(3)
    gs = GaussianSet.from_activated(
        rng.normal(size=(500, 3)), rng.normal(size=(500, 4)), rng.uniform(1e-6, 2, (500, 3)),
        np.r_[0.0, 1.0, rng.uniform(0, 1, 498)], rng.normal(size=(500, 4, 3)),
    )  # fmt: skip
    write_ply(tmp_path / "a.ply", gs)
    _assert_same(read_ply(tmp_path / "a.ply"), gs)


def test_reads_inria_layout_and_sh_order(tmp_path):
    """f_rest is channel-major: all red coefficients, then green, then blue."""
    props = _inria_props(degree=1)
    table = _table(degree=1)
    gs = read_ply(_write(tmp_path / "inria.ply", props, table))
    col = {p: i for i, p in enumerate(props)}
    np.testing.assert_array_equal(gs.means, table[:, [col["x"], col["y"], col["z"]]])
    np.testing.assert_array_equal(gs.sh[:, 0, 1], table[:, col["f_dc_1"]])
    np.testing.assert_array_equal(gs.sh[:, 2, 0], table[:, col["f_rest_1"]])  # red, k = 2
    np.testing.assert_array_equal(gs.sh[:, 1, 2], table[:, col["f_rest_6"]])  # blue, k = 1
    np.testing.assert_allclose(
        gs.scales, np.exp(table[:, [col[f"scale_{i}"] for i in range(3)]]), rtol=1e-6
    )
    np.testing.assert_allclose(gs.opacities, 1 / (1 + np.exp(-table[:, col["opacity"]])), rtol=1e-6)
    q = table[:, [col[f"rot_{i}"] for i in range(4)]]
    np.testing.assert_allclose(gs.quats, q / np.linalg.norm(q, axis=1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("fmt", ["ascii", "binary_big_endian"])
def test_reads_ascii_and_big_endian(tmp_path, fmt):
    props, table = _inria_props(), _table()
    a = read_ply(_write(tmp_path / "le.ply", props, table))
    b = read_ply(_write(tmp_path / "other.ply", props, table, fmt=fmt))
    _assert_same(a, b)


def test_reads_gsplat_export_without_normals_and_extra_properties(tmp_path):
    props = _inria_props(normals=False)
    table = _table(normals=False)
    plain = read_ply(_write(tmp_path / "gsplat.ply", props, table))
    extra = np.concatenate([table, np.ones((len(table), 1), np.float32)], axis=1)
    with_extra = read_ply(_write(tmp_path / "extra.ply", [*props, "filter_3D"], extra))
    _assert_same(plain, with_extra)


def test_reads_2dgs_with_a_thin_third_axis(tmp_path):
    props, table = _inria_props(scales=2), _table(scales=2)
    gs = read_ply(_write(tmp_path / "2dgs.ply", props, table))
    s01 = np.exp(table[:, [props.index("scale_0"), props.index("scale_1")]])
    np.testing.assert_allclose(gs.scales[:, :2], s01, rtol=1e-6)
    np.testing.assert_allclose(gs.scales[:, 2], 1e-3 * s01.min(axis=1), rtol=1e-5)


def _expect_error(path, field, match=None):
    with pytest.raises(SplatFileError, match=match) as info:
        read_ply(path)
    assert info.value.file == str(path)
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize(
    ("value", "name"), [(np.nan, "opacity"), (np.inf, "scale_1"), (-np.inf, "x")]
)
def test_non_finite_values(tmp_path, value, name):
    props, table = _inria_props(), _table()
    table[3, props.index(name)] = value
    _expect_error(_write(tmp_path / "bad.ply", props, table), f"vertex.{name}", "row 3")


def test_missing_property(tmp_path):
    props, table = _inria_props(), _table()
    drop = props.index("rot_2")
    _expect_error(
        _write(tmp_path / "bad.ply", props[:drop] + props[drop + 1 :], np.delete(table, drop, 1)),
        "vertex.rot_2",
    )


def test_wrong_sh_property_count(tmp_path):
    props, table = _inria_props(degree=1), _table(degree=1)
    drop = props.index("f_rest_8")
    _expect_error(
        _write(tmp_path / "bad.ply", props[:drop] + props[drop + 1 :], np.delete(table, drop, 1)),
        "vertex.f_rest",
    )
    gap = props.index("f_rest_4")
    _expect_error(
        _write(tmp_path / "gap.ply", props[:gap] + props[gap + 1 :], np.delete(table, gap, 1)),
        "vertex.f_rest_4",
    )


@pytest.mark.parametrize("fmt", ["binary_little_endian", "ascii"])
def test_truncated_file(tmp_path, fmt):
    path = _write(tmp_path / "full.ply", _inria_props(), _table(), fmt=fmt)
    data = path.read_bytes()
    cut = tmp_path / "cut.ply"
    cut.write_bytes(data[: len(data) - 40])
    _expect_error(cut, "vertex", "truncated" if fmt != "ascii" else None)


def test_zero_quaternion(tmp_path):
    props, table = _inria_props(), _table()
    table[2, [props.index(f"rot_{i}") for i in range(4)]] = 0
    _expect_error(_write(tmp_path / "bad.ply", props, table), "vertex.rot_0", "row 2")


def test_mesh_ply_is_not_a_splat_file(tmp_path):
    header = (
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
        "property float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    )
    path = tmp_path / "mesh.ply"
    path.write_text(header + "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n3 0 1 2\n")
    _expect_error(path, "vertex.f_dc_0", "point cloud or mesh")


def test_not_a_ply_and_bad_headers(tmp_path):
    (tmp_path / "a.ply").write_bytes(b"\x89PNG\r\n")
    _expect_error(tmp_path / "a.ply", "header", "not a PLY")
    (tmp_path / "b.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1\n")
    _expect_error(tmp_path / "b.ply", "header", "end_header")
    (tmp_path / "c.ply").write_bytes(_header(["x"], 0, fmt="binary_middle_endian"))
    _expect_error(tmp_path / "c.ply", "header line 2", "format")
    with pytest.raises(SplatFileError, match="cannot read"):
        read_ply(tmp_path / "missing.ply")
