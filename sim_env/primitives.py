"""Environment packages built from primitive shapes: a table, a cube and a bowl.

Used by the tests and as a worked example of writing a package (reconstruct writes the same
format from a scan). Everything is deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from sim_env.cameras import look_at
from sim_env.droid import CONTROL_HZ, EXTERIOR_IMAGE, WRIST_IMAGE
from sim_env.package import EnvPackage, save_package
from sim_env.robot import HOME_QPOS

TABLE_SIZE = (1.2, 1.2, 0.04)  # m, x y z; the top face is z = 0
TABLE_CENTER = (0.4, 0.0)
DISTRACTOR_SIZE = 0.04  # m
TABLE_RGBA, CUBE_RGBA, BOWL_RGBA, BLOCK_RGBA = (
    (0.55, 0.42, 0.3, 1.0),
    (0.85, 0.15, 0.1, 1.0),
    (0.15, 0.35, 0.8, 1.0),
    (0.2, 0.7, 0.3, 1.0),
)


# DROID's exterior camera, for a robot base at the origin facing +x (m): beside the robot at
# shoulder height, looking at the workspace in front of it.
EXTERIOR_EYE = (0.6, -0.7, 0.55)
EXTERIOR_TARGET = (0.35, 0.05, 0.05)


@dataclass(frozen=True)
class PrimitiveSceneConfig:
    """Sizes (m), masses (kg) and where initial conditions are sampled (m, in the table frame)."""

    cube_size: float = 0.05
    cube_mass: float = 0.2
    bowl_radius: float = 0.085
    bowl_height: float = 0.045
    bowl_wall: float = 0.01
    bowl_mass: float = 0.3
    bowl_segments: int = 12
    workspace_x: tuple[float, float] = (0.42, 0.62)
    workspace_y: tuple[float, float] = (-0.22, 0.22)
    min_separation: float = 0.19
    distractors: int = 0  # extra small blocks on the table
    splat_density: float = (
        0.0  # Gaussians per cm^2 of surface sampled from the meshes; 0 = no splats
    )
    camera_size: tuple[int, int] = (320, 180)
    n_initial_conditions: int = 10
    seed: int = 0


def _box(extents, center=(0, 0, 0)) -> trimesh.Trimesh:
    return trimesh.creation.box(
        extents=extents, transform=trimesh.transformations.translation_matrix(center)
    )


def bowl_hulls(cfg: PrimitiveSceneConfig) -> list[trimesh.Trimesh]:
    """A flat base and ``bowl_segments`` wall blocks around it, each convex."""
    r, h, w, n = cfg.bowl_radius, cfg.bowl_height, cfg.bowl_wall, cfg.bowl_segments
    hulls = [trimesh.creation.cylinder(radius=r - w, height=w, sections=24)]
    hulls[0].apply_translation((0, 0, w / 2))
    chord = 2 * r * np.tan(np.pi / n) * 1.02
    for k in range(n):
        angle = 2 * np.pi * k / n
        block = _box((w, chord, h), center=(r - w / 2, 0, h / 2))
        block.apply_transform(trimesh.transformations.rotation_matrix(angle, (0, 0, 1)))
        hulls.append(block)
    return hulls


def _write_splats(
    mesh: trimesh.Trimesh, rgba, cfg: PrimitiveSceneConfig, root: Path, rel: str
) -> str:
    """Gaussians sampled from a flat-coloured mesh, written as a 3DGS PLY file."""
    from sim_env.splats.from_mesh import MeshSampling, gaussians_from_mesh
    from sim_env.splats.ply import write_ply

    coloured = mesh.copy()
    coloured.visual = trimesh.visual.ColorVisuals(
        coloured, face_colors=(np.array(rgba) * 255).astype(np.uint8)
    )
    count = max(64, int(mesh.area * 1e4 * cfg.splat_density))
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_ply(root / rel, gaussians_from_mesh(coloured, MeshSampling(count=count, seed=cfg.seed)))
    return rel


def _write(mesh: trimesh.Trimesh, root: Path, rel: str) -> str:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    mesh.export(root / rel)
    return rel


def sample_initial_conditions(cfg: PrimitiveSceneConfig) -> list[dict]:
    """Cube, bowl (and distractor blocks) apart on the table; the arm at DROID's home pose."""
    rng = np.random.default_rng(cfg.seed)
    lo, hi = (cfg.workspace_x[0], cfg.workspace_y[0]), (cfg.workspace_x[1], cfg.workspace_y[1])
    conditions = []
    while len(conditions) < cfg.n_initial_conditions:
        xy = rng.uniform(lo, hi, (2, 2))
        if np.linalg.norm(xy[0] - xy[1]) < cfg.min_separation:
            continue
        yaw = rng.uniform(-np.pi / 4, np.pi / 4)
        blocks: list[np.ndarray] = []
        while len(blocks) < cfg.distractors:
            candidate = rng.uniform(lo, hi)
            if np.linalg.norm(np.array([*xy, *blocks]) - candidate, axis=1).min() > 0.12:
                blocks.append(candidate)
        objects = {
            "cube": {
                "pos": [float(xy[0, 0]), float(xy[0, 1]), cfg.cube_size / 2 + 1e-4],
                "quat": [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))],
            },
            "bowl": {"pos": [float(xy[1, 0]), float(xy[1, 1]), 1e-4], "quat": [1.0, 0.0, 0.0, 0.0]},
        }
        for k, block in enumerate(blocks):
            objects[f"block{k}"] = {
                "pos": [float(block[0]), float(block[1]), DISTRACTOR_SIZE / 2 + 1e-4]
            }
        conditions.append({"objects": objects, "arm_qpos": list(HOME_QPOS), "gripper": 0.0})
    return conditions


def droid_cameras(size: tuple[int, int]) -> list[dict]:
    """An exterior camera beside the robot looking at the workspace, and the wrist camera."""
    w, h = size
    f = 0.55 * w  # about a 85 degree horizontal field of view, like a ZED 2 at 16:9
    intrinsics = {"width": w, "height": h, "fx": f, "fy": f, "cx": (w - 1) / 2, "cy": (h - 1) / 2}
    eye, target = np.array(EXTERIOR_EYE), np.array(EXTERIOR_TARGET)
    # The wrist camera sits on the gripper's side and looks past the fingertips (gripper frame:
    # z along the fingers, pinch point at z = 0.145 m).
    wrist_eye, wrist_target = np.array([-0.09, 0.0, 0.04]), np.array([0.0, 0.0, 0.22])
    return [
        {
            "name": EXTERIOR_IMAGE,
            **intrinsics,
            "parent": "world",
            "pose": {"pos": eye.tolist(), "quat": look_at(eye, target).tolist()},
        },
        {
            "name": WRIST_IMAGE,
            **intrinsics,
            "parent": "gripper",
            "pose": {
                "pos": wrist_eye.tolist(),
                "quat": look_at(wrist_eye, wrist_target, up=np.array([-1.0, 0.0, 0.0])).tolist(),
            },
        },
    ]


def pick_place_rubric(obj: str, container: str) -> dict:
    return {
        "criteria": [
            {"name": f"reach_{obj}", "kind": "reach", "params": {"object": obj, "threshold": 0.02}},
            {
                "name": f"lift_{obj}",
                "kind": "lift",
                "params": {"object": obj, "height": 0.04},
                "requires": [f"reach_{obj}"],
            },
            {
                "name": f"{obj}_in_{container}",
                "kind": "inside_xy",
                "params": {"object": obj, "container": container, "fraction": 0.8, "max_gap": 0.03},
                "requires": [f"lift_{obj}"],
            },
            {
                "name": "release",
                "kind": "gripper_open",
                "params": {"threshold": 0.1},
                "requires": [f"{obj}_in_{container}"],
            },
        ]
    }


def touch_rubric(obj: str, threshold: float = 0.02) -> dict:
    """The task for an object too big to grasp: the pinch point comes within ``threshold``
    metres of its box."""
    return {
        "criteria": [
            {
                "name": f"touch_{obj}",
                "kind": "reach",
                "params": {"object": obj, "threshold": threshold},
            }
        ]
    }


def write_primitive_package(
    root: str | Path, cfg: PrimitiveSceneConfig = PrimitiveSceneConfig()
) -> EnvPackage:
    """Write a cube-in-bowl package under ``root`` and return it loaded and validated."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    table = _box(TABLE_SIZE, center=(*TABLE_CENTER, -TABLE_SIZE[2] / 2))
    cube = _box((cfg.cube_size,) * 3)
    bowl = bowl_hulls(cfg)
    block = _box((DISTRACTOR_SIZE,) * 3)
    spec = {
        "format_version": 1,
        "name": "primitive_cube_bowl"
        if not cfg.distractors
        else f"primitive_cube_bowl_{cfg.distractors}blocks",
        "instruction": "put the cube in the bowl",
        "robot": {"base_pose": {"pos": [0.0, 0.0, 0.0]}},
        "cameras": droid_cameras(cfg.camera_size),
        "scene": {
            "visual": {
                "mesh": _write(table, root, "meshes/table.obj"),
                "rgba": list(TABLE_RGBA),
            },
            "collision_hulls": [_write(table, root, "hulls/table_0.obj")],
        },
        "objects": [
            {
                "name": "cube",
                "visual": {
                    "mesh": _write(cube, root, "meshes/cube.obj"),
                    "rgba": list(CUBE_RGBA),
                },
                "collision_hulls": [_write(cube, root, "hulls/cube_0.obj")],
                "mass": cfg.cube_mass,
                "friction": [1.0, 0.01, 0.0001],
            },
            {
                "name": "bowl",
                "visual": {
                    "mesh": _write(trimesh.util.concatenate(bowl), root, "meshes/bowl.obj"),
                    "rgba": list(BOWL_RGBA),
                },
                "collision_hulls": [
                    _write(h, root, f"hulls/bowl_{i}.obj") for i, h in enumerate(bowl)
                ],
                "mass": cfg.bowl_mass,
            },
            *[
                {
                    "name": f"block{k}",
                    "visual": {
                        "mesh": _write(block, root, "meshes/block.obj"),
                        "rgba": list(BLOCK_RGBA),
                    },
                    "collision_hulls": [_write(block, root, "hulls/block_0.obj")],
                    "mass": 0.1,
                }
                for k in range(cfg.distractors)
            ],
        ],
        "rubric": pick_place_rubric("cube", "bowl"),
        "initial_conditions": sample_initial_conditions(cfg),
        "episode": {"control_hz": float(CONTROL_HZ), "horizon_steps": 450},
        "provenance": {
            "created_by": "sim_env.primitives.write_primitive_package",
            "source": f"seed {cfg.seed}",
        },
    }
    if cfg.splat_density > 0:
        spec["scene"]["splats"] = _write_splats(table, TABLE_RGBA, cfg, root, "splats/scene.ply")
        meshes = {"cube": (cube, CUBE_RGBA), "bowl": (trimesh.util.concatenate(bowl), BOWL_RGBA)}
        for obj in spec["objects"]:
            mesh, rgba = meshes.get(obj["name"], (block, BLOCK_RGBA))
            obj["splats"] = _write_splats(mesh, rgba, cfg, root, f"splats/{obj['name']}.ply")
    return save_package(spec, root)
