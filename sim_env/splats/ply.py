"""INRIA 3DGS PLY files: read (binary either endianness, or ascii) and write (binary LE).

The vertex element carries, per Gaussian: x y z, optional nx ny nz (ignored), f_dc_0..2,
f_rest_0..(3 (K-1) - 1) channel-major (all of red's higher-order coefficients, then green's,
then blue's; K = 1, 4, 9 or 16), opacity (logit), scale_0..2 (log) and rot_0..3 (w x y z,
unnormalised). gsplat's exporter and nerfstudio's ``ns-export gaussian-splat`` write the same
fields (nerfstudio's in its dataparser frame). 2DGS files carry only scale_0 and scale_1:
they are read as flat 3D Gaussians whose third log scale is log(1e-3 * min(s0, s1)), thin
enough to look like the 2D disc from any direction the splat is visible from. Other vertex
properties are ignored; elements after the vertex element are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_env.errors import SplatFileError
from sim_env.splats.gaussians import GaussianSet

__all__ = ["read_ply", "write_ply"]

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FORMATS = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "ascii"}
_REQUIRED = (
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "rot_0", "rot_1", "rot_2", "rot_3",
)  # fmt: skip
_MAX_HEADER_BYTES = 1 << 20
TWO_DGS_THIRD_SCALE = 1e-3  # third scale of a 2DGS splat, relative to its smaller scale


def _split_header(data: bytes, path: Path) -> tuple[list[str], bytes]:
    if not data.startswith(b"ply"):
        raise SplatFileError(
            "not a PLY file (it does not start with 'ply')", file=path, field="header"
        )
    end = data.find(b"end_header", 0, _MAX_HEADER_BYTES)
    if end < 0:
        raise SplatFileError("no 'end_header' line in the first 1 MiB", file=path, field="header")
    body_start = data.index(b"\n", end) + 1 if b"\n" in data[end : end + 16] else len(data)
    try:
        lines = data[:end].decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise SplatFileError("header is not ASCII text", file=path, field="header") from exc
    return [line.strip() for line in lines if line.strip()], data[body_start:]


def _parse_header(lines: list[str], path: Path) -> tuple[str, int, list[tuple[str, str]]]:
    """-> (format key, vertex count, vertex properties [(name, numpy type code)])."""
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        field = f"header line {number}"
        if words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            if len(words) != 3 or words[1] not in _FORMATS:
                raise SplatFileError(f"unsupported format line {line!r}", file=path, field=field)
            fmt = _FORMATS[words[1]]
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise SplatFileError(f"bad element line {line!r}", file=path, field=field)
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            if not elements:
                raise SplatFileError("property before any element", file=path, field=field)
            if words[1] == "list":
                elements[-1][2].append((words[-1], "list"))
            elif len(words) == 3 and words[1] in _TYPES:
                elements[-1][2].append((words[2], _TYPES[words[1]]))
            else:
                raise SplatFileError(f"bad property line {line!r}", file=path, field=field)
        else:
            raise SplatFileError(f"unknown header keyword {words[0]!r}", file=path, field=field)
    if fmt is None:
        raise SplatFileError("no format line", file=path, field="header")
    for name, count, props in elements:
        if name == "vertex":
            lists = [p for p, t in props if t == "list"]
            if lists:
                raise SplatFileError(
                    "list property in the vertex element", file=path, field=f"vertex.{lists[0]}"
                )
            return fmt, count, props
        if count > 0:
            raise SplatFileError(
                f"element {name!r} comes before 'vertex'; expected vertex first",
                file=path,
                field=name,
            )
    raise SplatFileError("no vertex element", file=path, field="vertex")


def _read_rows(fmt: str, count: int, props: list[tuple[str, str]], body: bytes, path: Path):
    """-> structured array [count] (binary) or float64 [count, len(props)] (ascii)."""
    if fmt != "ascii":
        dtype = np.dtype([(name, fmt + code) for name, code in props])
        if len(body) < count * dtype.itemsize:
            got = len(body) // dtype.itemsize
            raise SplatFileError(
                f"file is truncated: {got} of {count} vertices ({len(body)} of "
                f"{count * dtype.itemsize} bytes)",
                file=path,
                field="vertex",
            )
        return np.frombuffer(body, dtype, count)
    lines = body.split(b"\n", count)
    if len(lines) < count or (count and not lines[count - 1].strip()):
        raise SplatFileError(
            f"file is truncated: fewer than {count} vertex lines", file=path, field="vertex"
        )
    rows = [line.split() for line in lines[:count]]
    for i, row in enumerate(rows):
        if len(row) != len(props):
            raise SplatFileError(
                f"vertex line {i} has {len(row)} values; expected {len(props)}",
                file=path,
                field="vertex",
            )
    try:
        return np.array(rows, dtype=np.float64).reshape(count, len(props))
    except ValueError as exc:
        raise SplatFileError(f"non-numeric vertex value: {exc}", file=path, field="vertex") from exc


def _sh_rest_count(names: set[str], path: Path) -> int:
    rest = sorted(int(n[7:]) for n in names if n.startswith("f_rest_") and n[7:].isdigit())
    if rest != list(range(len(rest))):
        missing = sorted(set(range(max(rest) + 1)) - set(rest))
        raise SplatFileError(
            "f_rest_* properties are not numbered 0..M-1",
            file=path,
            field=f"vertex.f_rest_{missing[0]}",
        )
    if len(rest) % 3 or len(rest) // 3 + 1 not in (1, 4, 9, 16):
        raise SplatFileError(
            f"{len(rest)} f_rest_* properties; expected 0, 9, 24 or 45 (SH degree 0..3)",
            file=path,
            field="vertex.f_rest",
        )
    return len(rest)


def read_ply(path: str | Path) -> GaussianSet:
    """Read a 3DGS (or 2DGS) PLY file; any problem raises SplatFileError naming the field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SplatFileError(f"cannot read: {exc.strerror}", file=path) from exc
    lines, body = _split_header(data, path)
    fmt, count, props = _parse_header(lines, path)
    names = {name for name, _ in props}
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        kind = "a point cloud or mesh, not 3DGS splats" if "f_dc_0" in missing else "incomplete"
        raise SplatFileError(
            f"missing property {missing[0]!r} ({kind})", file=path, field=f"vertex.{missing[0]}"
        )
    n_rest = _sh_rest_count(names, path)
    rows = _read_rows(fmt, count, props, body, path)
    columns = {
        name: (rows[name] if fmt != "ascii" else rows[:, i]) for i, (name, _) in enumerate(props)
    }

    def stack(fields: list[str]) -> np.ndarray:
        out = np.empty((count, len(fields)), np.float32)
        for j, name in enumerate(fields):
            out[:, j] = columns[name]
        bad = ~np.isfinite(out)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise SplatFileError(
                f"row {row} is {out[row, col]}", file=path, field=f"vertex.{fields[col]}"
            )
        return out

    means = stack(["x", "y", "z"])
    k = n_rest // 3 + 1
    sh = np.empty((count, k, 3), np.float32)
    sh[:, 0] = stack(["f_dc_0", "f_dc_1", "f_dc_2"])
    sh[:, 1:] = (
        stack([f"f_rest_{i}" for i in range(n_rest)]).reshape(count, 3, k - 1).transpose(0, 2, 1)
    )
    opacity = stack(["opacity"])[:, 0]
    if "scale_2" in names:
        log_scales = stack(["scale_0", "scale_1", "scale_2"])
    else:
        flat = stack(["scale_0", "scale_1"])
        third = flat.min(axis=1, keepdims=True) + np.float32(np.log(TWO_DGS_THIRD_SCALE))
        log_scales = np.concatenate([flat, third], axis=1)
    quats = stack(["rot_0", "rot_1", "rot_2", "rot_3"])
    zero = ~np.any(quats != 0, axis=1)
    if zero.any():
        raise SplatFileError(
            f"row {np.flatnonzero(zero)[0]} has a zero quaternion", file=path, field="vertex.rot_0"
        )
    return GaussianSet.from_raw(means, quats, log_scales, opacity, sh)


def write_ply(path: str | Path, gs: GaussianSet, *, normals: bool = False) -> None:
    """Write ``gs`` as binary little-endian INRIA 3DGS PLY (zero normals if ``normals``);
    ``read_ply`` gives back exactly ``gs``."""
    raw = gs.to_raw()
    k = gs.sh.shape[1]
    rest = raw.sh[:, 1:].transpose(0, 2, 1).reshape(len(gs), 3 * (k - 1))
    blocks = [
        ("x", "y", "z"),
        ("nx", "ny", "nz") if normals else (),
        ("f_dc_0", "f_dc_1", "f_dc_2"),
        tuple(f"f_rest_{i}" for i in range(3 * (k - 1))),
        ("opacity",),
        ("scale_0", "scale_1", "scale_2"),
        ("rot_0", "rot_1", "rot_2", "rot_3"),
    ]
    values = [
        raw.means,
        np.zeros((len(gs), 3 if normals else 0), np.float32),
        raw.sh[:, 0],
        rest,
        raw.logit_opacities[:, None],
        raw.log_scales,
        raw.quats,
    ]
    names = [name for block in blocks for name in block]
    table = np.concatenate(values, axis=1).astype("<f4")
    header = "\n".join(
        ["ply", "format binary_little_endian 1.0", f"element vertex {len(gs)}"]
        + [f"property float {name}" for name in names]
        + ["end_header", ""]
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.ascontiguousarray(table).tobytes())
