"""A source world: a textured MuJoCo tabletop that stands in for the real table, written from
its description (``reconstruct.synthetic.spec``).

A table (its top at z = 0) with printed sheets and the ArUco marker (DICT_4X4_50, id 0) lying
on it, the marker's centre at the robot base origin and its x axis along the robot's +x;
graspable objects (printed boxes and cans, 5-10 cm) and a tray made of five convex parts; the
room's light baked into the textures. Every object's body origin is the centre of its
footprint on the table (z = 0 at its bottom) with x along its longer side, the convention
reconstruct's objects stage uses, so the same initial conditions mean the same placements in
the source world and its reconstructed twin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from reconstruct.initial_conditions import (
    collision_free,
    footprint_radius,
    sample_layouts,
    to_initial_condition,
)
from reconstruct.synthetic import meshes, textures
from reconstruct.synthetic.spec import (
    FINISHES,
    SURFACES,
    TABLETOP,
    Lighting,
    SourceObject,
    SourceWorldConfig,
)
from sim_env.package import EnvPackage, save_package
from sim_env.primitives import droid_cameras, pick_place_rubric


def table_texture(
    config: SourceWorldConfig, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """The table top image (column = +x, row 0 = largest y), lit, and the photo credits used."""
    if config.surface not in SURFACES:
        raise ValueError(f"unknown table surface {config.surface!r} (one of {SURFACES})")
    ppm = config.texture_px_per_m
    (x0, x1), (y0, y1) = config.table_x, config.table_y
    size = (round((x1 - x0) * ppm), round((y1 - y0) * ppm))
    image = getattr(textures, config.surface)(size, rng, ppm)
    sources = []

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * ppm - 0.5, (y1 - y) * ppm - 0.5

    for sheet in config.prints:
        px = (round(sheet.size[0] * ppm), round(sheet.size[1] * ppm))
        if sheet.photo:
            picture, source = textures.photo_crop(sheet.photo, sheet.crop, px, rng)
            sources.append(source)
        else:
            picture = textures.packaging(px, sheet.colour, list(sheet.words), rng)
        textures.paste(image, picture, at(*sheet.centre), sheet.angle_deg)
    marker_px = round(config.marker_size * ppm)
    sheet = textures.aruco_sheet(0, marker_px, round(0.025 * ppm))
    textures.paste(image, sheet, at(0.0, 0.0), 0.0)
    xs = np.linspace(x0, x1, size[0])[None, :]
    ys = np.linspace(y1, y0, size[1])[:, None]
    return lit(image, config.lighting, light_falloff(config, xs, ys)), sources


def light_falloff(config: SourceWorldConfig, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brightness factor of the room's light at table points (m): 1 on the table's edge
    nearest the light, ``1 - falloff`` on the farthest."""
    light = config.lighting
    angle = np.radians(light.azimuth_deg)
    (x0, x1), (y0, y1) = config.table_x, config.table_y
    along = -(np.cos(angle) * x + np.sin(angle) * y)  # grows away from the light
    corners = [-(np.cos(angle) * cx + np.sin(angle) * cy) for cx in (x0, x1) for cy in (y0, y1)]
    t = (along - min(corners)) / max(max(corners) - min(corners), 1e-9)
    return 1.0 - light.falloff * t


def lit(image: np.ndarray, lighting: Lighting, factor: np.ndarray | float = 1.0) -> np.ndarray:
    """``image`` [H, W, 3] under ``lighting``, times ``factor`` (scalar or [H, W]); the
    neutral light returns it unchanged."""
    gain = np.asarray(lighting.tint) * lighting.gain * np.asarray(factor, float)[..., None]
    return np.clip(image * gain, 0, 255).astype(np.uint8)


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
    if obj.finish not in FINISHES:
        raise ValueError(f"{obj.name}: unknown finish {obj.finish!r} (one of {FINISHES})")
    if obj.kind == "tray":
        if obj.finish == "plastic":
            return textures.plastic((1200, 1000), obj.colour, rng), "procedural moulded plastic"
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


def write_source_world(root: Path, config: SourceWorldConfig = TABLETOP) -> EnvPackage:
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
        texture = lit(texture, config.lighting, 1.0 - config.lighting.falloff / 2)  # moves: mean
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
            "notes": f"textures: procedural {config.surface} and packaging; photographs: "
            + "; ".join(credits),
        },
    }
    draft = save_package(spec, root)
    free = collision_free(draft, conditions)
    kept = [c for c, ok in zip(conditions, free, strict=True) if ok][: config.layouts.count]
    if not free[0]:
        raise ValueError("the scan arrangement interpenetrates; move the objects apart")
    spec["initial_conditions"] = kept
    return save_package(spec, root)
