"""Textured primitive meshes for the source world: boxes, cylinders and trays with UVs, written
as OBJ files MuJoCo reads (``v``, ``vt``, ``f v/vt``; no material file, the package names the
texture). UV (0, 0) is the texture image's bottom-left corner, as OBJ files have it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

UvRect = tuple[float, float, float, float]  # u0, v0, u1, v1
FULL: UvRect = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True, eq=False)
class UvMesh:
    """A triangle mesh whose vertices carry texture coordinates (seams duplicate vertices)."""

    vertices: np.ndarray  # [V, 3] metres
    uvs: np.ndarray  # [V, 2]
    faces: np.ndarray  # [F, 3] counter-clockwise seen from outside

    def trimesh(self) -> trimesh.Trimesh:
        """The geometry alone (duplicated seam vertices merged), for volumes and hulls."""
        mesh = trimesh.Trimesh(self.vertices, self.faces, process=False)
        mesh.merge_vertices()
        return mesh

    def moved(self, offset: np.ndarray) -> UvMesh:
        return UvMesh(self.vertices + np.asarray(offset, float), self.uvs, self.faces)


def concatenate(meshes: list[UvMesh]) -> UvMesh:
    starts = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return UvMesh(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.uvs for m in meshes]),
        np.concatenate([m.faces + s for m, s in zip(meshes, starts, strict=True)]),
    )


def _quad(corners: np.ndarray, rect: UvRect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two triangles over 4 corners (counter-clockwise from outside), UVs spanning ``rect``."""
    u0, v0, u1, v1 = rect
    uvs = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    return corners, uvs, np.array([[0, 1, 2], [0, 2, 3]])


def box(extents: tuple[float, float, float], rects: dict[str, UvRect] | None = None) -> UvMesh:
    """A box centred at the origin; ``rects`` maps faces (``+x -x +y -y +z -z``) to UV
    rectangles (each face gets the whole texture by default)."""
    hx, hy, hz = (e / 2 for e in extents)
    faces = {
        "+x": [[hx, -hy, -hz], [hx, hy, -hz], [hx, hy, hz], [hx, -hy, hz]],
        "-x": [[-hx, hy, -hz], [-hx, -hy, -hz], [-hx, -hy, hz], [-hx, hy, hz]],
        "+y": [[hx, hy, -hz], [-hx, hy, -hz], [-hx, hy, hz], [hx, hy, hz]],
        "-y": [[-hx, -hy, -hz], [hx, -hy, -hz], [hx, -hy, hz], [-hx, -hy, hz]],
        "+z": [[-hx, -hy, hz], [hx, -hy, hz], [hx, hy, hz], [-hx, hy, hz]],
        "-z": [[-hx, hy, -hz], [hx, hy, -hz], [hx, -hy, -hz], [-hx, -hy, -hz]],
    }
    rects = rects or {}
    parts = [_quad(np.array(c, float), rects.get(k, FULL)) for k, c in faces.items()]
    return concatenate([UvMesh(v, uv, f) for v, uv, f in parts])


def cylinder(
    radius: float, height: float, sections: int = 32, side: UvRect = (0.0, 0.3, 1.0, 1.0),
    cap: UvRect = (0.0, 0.0, 0.3, 0.3),
) -> UvMesh:  # fmt: skip
    """A cylinder standing on z = 0 (axis z): the side's texture wraps once around inside
    ``side``; both caps show the disc inscribed in ``cap``."""
    angles = np.linspace(0.0, 2 * np.pi, sections + 1)
    ring = np.c_[radius * np.cos(angles), radius * np.sin(angles)]
    u = side[0] + (side[2] - side[0]) * angles / (2 * np.pi)
    bottom = np.c_[ring, np.zeros(sections + 1)]
    top = np.c_[ring, np.full(sections + 1, height)]
    verts = np.concatenate([bottom, top])
    uvs = np.concatenate([np.c_[u, np.full_like(u, side[1])], np.c_[u, np.full_like(u, side[3])]])
    k = np.arange(sections)
    n = sections + 1
    side_faces = np.concatenate([np.c_[k, k + 1, n + k + 1], np.c_[k, n + k + 1, n + k]])
    meshes = [UvMesh(verts, uvs, side_faces)]
    cu, cv = (cap[0] + cap[2]) / 2, (cap[1] + cap[3]) / 2
    cr = min(cap[2] - cap[0], cap[3] - cap[1]) / 2
    for z, flip in ((height, False), (0.0, True)):
        centre = np.array([[0.0, 0.0, z]])
        rim = np.c_[ring[:-1], np.full(sections, z)]
        cap_uv = np.c_[cu + cr * np.cos(angles[:-1]), cv + cr * np.sin(angles[:-1])]
        tri = np.c_[np.zeros(sections, int), 1 + k, 1 + (k + 1) % sections]
        meshes.append(
            UvMesh(
                np.concatenate([centre, rim]),
                np.concatenate([[[cu, cv]], cap_uv]),
                tri[:, ::-1] if flip else tri,
            )
        )
    return concatenate(meshes)


def tray_parts(
    extents: tuple[float, float, float], wall: float, floor: float
) -> list[tuple[tuple[float, float, float], np.ndarray]]:
    """The (extents, centre) of a tray's convex parts, standing on z = 0: floor + 4 walls,
    none overlapping (so their volumes add up)."""
    lx, ly, h = extents
    wall_h = h - floor
    z = floor + wall_h / 2
    return [
        ((lx, ly, floor), np.array([0.0, 0.0, floor / 2])),
        ((wall, ly, wall_h), np.array([(lx - wall) / 2, 0.0, z])),
        ((wall, ly, wall_h), np.array([-(lx - wall) / 2, 0.0, z])),
        ((lx - 2 * wall, wall, wall_h), np.array([0.0, (ly - wall) / 2, z])),
        ((lx - 2 * wall, wall, wall_h), np.array([0.0, -(ly - wall) / 2, z])),
    ]


def write_obj(path: Path, mesh: UvMesh) -> None:
    """Write ``mesh`` as OBJ with texture coordinates (1-based, ``f v/vt``)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in mesh.uvs]
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in mesh.faces + 1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
