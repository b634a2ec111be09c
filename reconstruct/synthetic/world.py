"""The source world: a textured MuJoCo tabletop that stands in for the real table.

A wooden table (its top at z = 0) with printed photographs and the ArUco marker (DICT_4X4_50,
id 0) lying on it, the marker's centre at the robot base origin and its x axis along the
robot's +x; three graspable objects (two printed boxes and a can, 5-6.5 cm) and a tray made
of five convex parts. Every object's body origin is the centre of its footprint on the table
(z = 0 at its bottom) with x along its longer side, the convention reconstruct's objects stage
uses, so the same initial conditions mean the same placements in the source world and its
reconstructed twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from reconstruct.initial_conditions import (
    LayoutConfig,
    collision_free,
    footprint_radius,
    sample_layouts,
    to_initial_condition,
)
from reconstruct.synthetic import meshes, textures
from sim_env.package import EnvPackage, save_package
from sim_env.primitives import droid_cameras, pick_place_rubric

Pose2 = tuple[float, float, float]  # x m, y m, yaw deg


@dataclass(frozen=True)
class SourceObject:
    """One movable object. ``kind``: box (extents x y z), can (radius, radius, height) or
    tray (outer x y z); ``scan_pose``: where it stands during the scan (and in initial
    condition 0)."""

    name: str
    kind: str
    size: tuple[float, float, float]
    mass: float
    scan_pose: Pose2
    colour: tuple[int, int, int] = (128, 128, 128)
    words: tuple[str, ...] = ()


DEFAULT_OBJECTS = (
    SourceObject(
        "red_box",
        "box",
        (0.05, 0.05, 0.065),
        0.12,
        (0.45, -0.17, 15.0),
        (196, 40, 34),
        ("TOMATO", "soup mix"),
    ),
    SourceObject(
        "green_box",
        "box",
        (0.065, 0.045, 0.05),
        0.1,
        (0.62, -0.13, -20.0),
        (38, 132, 62),
        ("GREEN", "tea 20 bags"),
    ),
    SourceObject(
        "blue_can",
        "can",
        (0.028, 0.028, 0.09),
        0.2,
        (0.42, 0.02, 0.0),
        (32, 72, 168),
        ("COLA", "330 ml"),
    ),
    SourceObject("tray", "tray", (0.19, 0.14, 0.045), 0.3, (0.6, 0.17, 10.0)),
)


@dataclass(frozen=True)
class SourceWorldConfig:
    """The source world's layout, textures and task.

    Attributes:
        name: the package name.
        table_x, table_y: the table top's extent, metres (the robot base is at the origin).
        table_thickness: metres.
        texture_px_per_m: table texture resolution.
        marker_size: side of the marker's black square, metres.
        objects: the movable objects.
        task: (object, container) of the pick-and-place rubric.
        layouts: how initial conditions are sampled (condition 0 is the scan arrangement).
        camera_size: (width, height) of the DROID-like cameras.
        seed: texture seed.
    """

    name: str = "tabletop_source"
    table_x: tuple[float, float] = (-0.25, 0.95)
    table_y: tuple[float, float] = (-0.5, 0.5)
    table_thickness: float = 0.04
    texture_px_per_m: float = 1000.0
    marker_size: float = 0.15
    objects: tuple[SourceObject, ...] = DEFAULT_OBJECTS
    task: tuple[str, str] = ("red_box", "tray")
    layouts: LayoutConfig = field(default_factory=lambda: LayoutConfig(seed=3))
    camera_size: tuple[int, int] = (320, 180)
    seed: int = 0

    @property
    def instruction(self) -> str:
        obj, container = (n.replace("_", " ") for n in self.task)
        return f"put the {obj} in the {container}"


def table_texture(
    config: SourceWorldConfig, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """The table top image (column = +x, row 0 = largest y) and the photo credits used."""
    ppm = config.texture_px_per_m
    (x0, x1), (y0, y1) = config.table_x, config.table_y
    size = (round((x1 - x0) * ppm), round((y1 - y0) * ppm))
    image = textures.wood(size, rng, ppm)
    sources = []

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * ppm - 0.5, (y1 - y) * ppm - 0.5

    prints = [  # (photo, crop, centre m, angle deg): photographs lying on the table
        ("00052.jpg", (0.25, 0.15, 0.75, 0.85), (0.1, 0.3), 12.0),
        ("00010.jpg", (0.2, 0.1, 0.8, 0.9), (0.78, -0.33), -8.0),
        ("00042.jpg", (0.25, 0.1, 0.75, 0.9), (0.2, -0.34), 25.0),
        ("00065.jpg", (0.2, 0.15, 0.8, 0.85), (0.82, 0.3), -15.0),
    ]
    for photo, crop, (x, y), angle in prints:
        picture, source = textures.photo_crop(
            photo, crop, (round(0.2 * ppm), round(0.14 * ppm)), rng
        )
        textures.paste(image, picture, at(x, y), angle)
        sources.append(source)
    marker_px = round(config.marker_size * ppm)
    sheet = textures.aruco_sheet(0, marker_px, round(0.025 * ppm))
    textures.paste(image, sheet, at(0.0, 0.0), 0.0)
    return image, sources


FACES = ("+x", "-x", "+y", "-y", "+z", "-z")


def grid_rects(columns: int, rows: int) -> list[meshes.UvRect]:
    """UV rectangles of a columns x rows atlas, row by row from the image's top."""
    return [
        (c / columns, 1 - (r + 1) / rows, (c + 1) / columns, 1 - r / rows)
        for r in range(rows)
        for c in range(columns)
    ]


def object_geometry(obj: SourceObject) -> tuple[meshes.UvMesh, list[trimesh.Trimesh]]:
    """Visual mesh (UVs) and convex collision hulls, body frame (origin at the footprint
    centre on the table). Every face shows its own part of the texture: identical faces
    would make structure from motion match one face with another."""
    if obj.kind == "box":
        rects = dict(zip(FACES, grid_rects(3, 2), strict=True))
        visual = meshes.box(obj.size, rects).moved((0, 0, obj.size[2] / 2))
        hull = trimesh.creation.box(extents=obj.size)
        hull.apply_translation((0, 0, obj.size[2] / 2))
        return visual, [hull]
    if obj.kind == "can":
        radius, _, height = obj.size
        visual = meshes.cylinder(radius, height)
        hull = trimesh.creation.cylinder(radius=radius, height=height, sections=32)
        hull.apply_translation((0, 0, height / 2))
        return visual, [hull]
    if obj.kind == "tray":
        parts = meshes.tray_parts(obj.size, wall=0.01, floor=0.008)
        cells = iter(grid_rects(6, 5))
        visual = meshes.concatenate(
            [meshes.box(e, {f: next(cells) for f in FACES}).moved(c) for e, c in parts]
        )
        hulls = []
        for extents, centre in parts:
            hull = trimesh.creation.box(extents=extents)
            hull.apply_translation(centre)
            hulls.append(hull)
        return visual, hulls
    raise ValueError(f"unknown object kind {obj.kind!r} (box, can or tray)")


def object_texture(obj: SourceObject, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The object's texture atlas (matching ``object_geometry``'s UVs) and its origin."""
    if obj.kind == "tray":
        return textures.weave((1200, 1000), rng), "procedural rattan weave"
    if obj.kind == "can":
        image = textures.packaging((512, 512), obj.colour, list(obj.words), rng)
        lid = 200 + 25 * textures.smooth_noise((154, 154), 4, rng)[..., None]
        image[-154:, :154] = np.clip(lid, 0, 255).astype(np.uint8)  # the caps' brushed metal
        return image, "procedural packaging"
    panels = [list(obj.words), ["INGREDIENTS", "water salt", "sugar"], [obj.words[0]], ["NET WT", "350 g"], ["OPEN", "here"], ["made in", "twinbench"]]  # fmt: skip
    light = tuple(int(0.25 * c + 180) for c in obj.colour)  # the top is a pale price label
    colours = [obj.colour] * 4 + [light, obj.colour]
    images = [
        textures.packaging((256, 256), c, w, rng) for c, w in zip(colours, panels, strict=True)
    ]
    atlas = np.concatenate([np.concatenate(images[:3], 1), np.concatenate(images[3:], 1)], 0)
    return atlas, "procedural packaging"


def truth_centroids(config: SourceWorldConfig) -> dict[str, np.ndarray]:
    """World centroid (of the solid volume) of each object in the scan arrangement, metres."""
    out = {}
    for obj in config.objects:
        _, hulls = object_geometry(obj)
        volumes = np.array([h.volume for h in hulls])
        local = sum(h.center_mass * v for h, v in zip(hulls, volumes, strict=True)) / volumes.sum()
        x, y, yaw = obj.scan_pose
        c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
        out[obj.name] = np.array(
            [x + c * local[0] - s * local[1], y + s * local[0] + c * local[1], local[2]]
        )
    return out


def write_source_world(root: Path, config: SourceWorldConfig = SourceWorldConfig()) -> EnvPackage:
    """Write the source world package under ``root`` (an empty or missing folder)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    image, credits = table_texture(config, rng)
    (root / "textures").mkdir(exist_ok=True)
    Image.fromarray(image).save(root / "textures/table.png")
    (x0, x1), (y0, y1) = config.table_x, config.table_y
    extents = (x1 - x0, y1 - y0, config.table_thickness)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2, -config.table_thickness / 2)
    edge = (0.0, 0.0, 0.02, 0.02)
    slab = meshes.box(extents, {k: edge for k in ("+x", "-x", "+y", "-y", "-z")}).moved(centre)
    meshes.write_obj(root / "meshes/table.obj", slab)
    table_hull = trimesh.creation.box(extents=extents)
    table_hull.apply_translation(centre)
    (root / "hulls").mkdir(exist_ok=True)
    table_hull.export(root / "hulls/table_0.obj")
    objects, radii, heights = [], {}, {}
    for obj in config.objects:
        visual, hulls = object_geometry(obj)
        meshes.write_obj(root / f"meshes/{obj.name}.obj", visual)
        texture, credit = object_texture(obj, rng)
        Image.fromarray(texture).save(root / f"textures/{obj.name}.png")
        credits.append(f"{obj.name}: {credit}")
        hull_paths = []
        for k, hull in enumerate(hulls):
            hull.export(root / f"hulls/{obj.name}_{k}.obj")
            hull_paths.append(f"hulls/{obj.name}_{k}.obj")
        radii[obj.name] = footprint_radius(np.concatenate([h.vertices for h in hulls]))
        heights[obj.name] = 0.0
        objects.append(
            {
                "name": obj.name,
                "visual": {"mesh": f"meshes/{obj.name}.obj", "texture": f"textures/{obj.name}.png"},
                "collision_hulls": hull_paths,
                "mass": obj.mass,
            }
        )
    scan = {
        o.name: (o.scan_pose[0], o.scan_pose[1], float(np.radians(o.scan_pose[2])))
        for o in config.objects
    }
    layouts = sample_layouts(radii, config.layouts)
    conditions = [to_initial_condition(layout, heights) for layout in [scan, *layouts]]
    spec = {
        "format_version": 1,
        "name": config.name,
        "instruction": config.instruction,
        "robot": {"base_pose": {"pos": [0.0, 0.0, 0.0]}},
        "cameras": droid_cameras(config.camera_size),
        "scene": {
            "visual": {"mesh": "meshes/table.obj", "texture": "textures/table.png"},
            "collision_hulls": ["hulls/table_0.obj"],
        },
        "objects": objects,
        "rubric": pick_place_rubric(*config.task),
        "initial_conditions": conditions[:1],
        "episode": {"control_hz": 15.0, "horizon_steps": 450},
        "provenance": {
            "created_by": "reconstruct.synthetic.world.write_source_world",
            "source": f"procedural source world, seed {config.seed}",
            "notes": "textures: procedural wood and packaging; photographs: " + "; ".join(credits),
        },
    }
    draft = save_package(spec, root)
    free = collision_free(draft, conditions)
    kept = [c for c, ok in zip(conditions, free, strict=True) if ok][: config.layouts.count]
    if not free[0]:
        raise ValueError("the scan arrangement interpenetrates; move the objects apart")
    spec["initial_conditions"] = kept
    return save_package(spec, root)
