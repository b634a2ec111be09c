"""How big a twin's objects came out against the source world's, per object and axis.

    python -m benchmarks.fidelity.object_extents --source kitchen_source --twin kitchen_twin

The physics of a twin is its objects' collision hulls: a carton fused 2 cm too wide no
longer fits the gripper as the real one does, and a crate 5 cm too long takes what the real
one would not. Each twin object's hulls are measured in its body frame (x along its longer
side, as the source world's objects are built) against the source object's size from its
description (``reconstruct.synthetic.spec``; a can's is its radius, twice it across). One JSON
line per object and axis (the twin's extent, cm) and per object (the largest error, cm).
"""

from __future__ import annotations

import argparse

import numpy as np
import trimesh

from benchmarks.figures import emit_rows
from reconstruct.synthetic.spec import WORLDS, SourceObject
from sim_env.package import load_package
from sim_env.registry import resolve_env

BENCH = "fidelity_object_extents"
AXES = ("x", "y", "z")


def true_extents(obj: SourceObject) -> np.ndarray:
    """``[3]`` metres across the source object along its body axes."""
    size = np.asarray(obj.size, float)
    return np.array([2 * size[0], 2 * size[1], size[2]]) if obj.kind == "can" else size


def hull_extents(package, name: str) -> np.ndarray:
    """``[3]`` metres across the twin object's collision hulls (body frame)."""
    obj = next(o for o in package.spec.objects if o.name == name)
    vertices = np.concatenate(
        [trimesh.load(package.path(h), force="mesh").vertices for h in obj.collision_hulls]
    )
    return vertices.max(0) - vertices.min(0)


def extent_table(source: str, twin: str) -> dict[str, dict[str, float]]:
    """``object/axis`` -> the twin's and the true extent (cm), and ``object`` -> the largest
    error over its axes (cm)."""
    package = load_package(resolve_env(twin))
    table: dict[str, dict[str, float]] = {}
    for obj in WORLDS[source].objects:
        true, got = 100 * true_extents(obj), 100 * hull_extents(package, obj.name)
        for axis, t, g in zip(AXES, true, got, strict=True):
            table[f"{obj.name}/{axis}"] = {"extent": float(g), "true_extent": float(t)}
        table[obj.name] = {"largest_error": float(np.abs(got - true).max())}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="kitchen_source", choices=sorted(WORLDS))
    parser.add_argument("--twin", default="kitchen_twin", help="env id or package path")
    args = parser.parse_args()
    emit_rows(BENCH, str(args.twin), extent_table(args.source, args.twin), "cm")


if __name__ == "__main__":
    main()
