"""How the objects look from the exterior camera and from the phone's own poses, source and twin.

    python -m benchmarks.fidelity.gap_views --twin tabletop_twin --out DIR

``gap_objects`` found the source's tray brighter at the exterior camera (105 at 160x90) than in
any band of the phone's frames (85-97), and the twin's tray at the scan's average. This says
whether the scan sees another world than the evaluation does, and where the twin departs:

- renderers: the scan's renderer (``PhoneRenderer``: the same lights, headlight and specular
  as ``sim_env.scene``) at the exterior camera's pose and intrinsics against sim_env's render
  of the same state (initial condition 0, the scan's arrangement), per object;
- masks: each object's mean luminance over its own pixels and over them grown by one pixel (as
  ``gap_objects`` measured it: the ring is table);
- shading: the objects at the exterior pose with the materials' specular, the headlight or the
  top light switched off, and with the camera turned about its eye (MuJoCo's headlight shines
  along the camera's axis: turning the camera relights what it sees);
- path: along the phone's path (every ``--every`` s), each object and the table in the source,
  the source as filmed (the exposure drift applied) and the twin, seen from the phone's pose
  with the exterior camera's intrinsics.

Luminance is Rec.601 luma (0-255) at ``--size``. One JSON line per figure to stdout; ``--out``
gets ``views.md`` and ``views.png`` (the path's curves).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mujoco
import numpy as np

from benchmarks.fidelity.gap_objects import LUMA
from benchmarks.figures import emit_rows
from reconstruct.synthetic.scan import (
    PhoneRenderer,
    ScanConfig,
    camera_path,
    exposure_drift,
)
from sim_env.cameras import mat_to_quat, opencv_to_mujoco_quat, world_to_camera
from sim_env.droid import EXTERIOR_IMAGE
from sim_env.render.config import HybridConfig
from studies.fidelity.gap_frames import WorldPair
from studies.fidelity.gap_metrics import dilate
from studies.fidelity.run import check_pair

BENCH = "fidelity_gap_views"
TABLE = "table"
MIN_PIXELS = 15  # an object seen by fewer pixels is not measured in that view


def luma(rgb: np.ndarray) -> np.ndarray:
    """[H, W] Rec.601 luma of an [H, W, 3] image in 0-255."""
    return rgb.astype(np.float32) @ LUMA


class Views:
    """The source and twin at initial condition 0, their exterior camera movable."""

    def __init__(self, source, twin, size: tuple[int, int]):
        self.pair = WorldPair(source, twin, HybridConfig())
        self.pair.set_state(source.spec.initial_conditions[0], twin.spec.initial_conditions[0])
        self.size = size
        scene = self.pair.source_scene
        self.ids = (scene.cameras[EXTERIOR_IMAGE], self.pair.twin_scene.cameras[EXTERIOR_IMAGE])
        self.exterior = world_to_camera(self.pair.source_data, self.ids[0])[:3]  # [3, 4]
        model = scene.model
        self.geoms = {
            o.name: [g for g in range(model.ngeom) if model.geom_bodyid[g] == o.body_id]
            for o in scene.objects
        }

    def put(self, cam_from_world: np.ndarray) -> None:
        """Move both worlds' exterior camera to an OpenCV [3, 4] pose."""
        rot, trans = cam_from_world[:, :3], cam_from_world[:, 3]
        pairs = ((self.pair.source_scene, self.pair.source_data), (self.pair.twin_scene,
                 self.pair.twin_data))  # fmt: skip
        for (scene, data), cid in zip(pairs, self.ids, strict=True):
            scene.model.cam_pos[cid] = -rot.T @ trans
            scene.model.cam_quat[cid] = opencv_to_mujoco_quat(mat_to_quat(rot.T))
            mujoco.mj_forward(scene.model, data)

    def masks(self, grow: int = 0) -> dict[str, np.ndarray]:
        """Per object (and the table) its own pixels in the source's view, off the robot."""
        pair = self.pair
        layers = pair.source_renderer.render_layers(
            pair.source_data, EXTERIOR_IMAGE, self.size, segmentation=True
        )
        seg, robot = (
            layers.segmentation,
            np.isin(layers.segmentation, sorted(pair.source_scene.robot_geoms)),
        )
        out = {n: dilate(np.isin(seg, g), grow) & ~robot if grow else np.isin(seg, g) & ~robot
               for n, g in self.geoms.items()}  # fmt: skip
        out[TABLE] = (
            (seg >= 0) & ~robot & ~np.any([np.isin(seg, g) for g in self.geoms.values()], axis=0)
        )
        return out

    def close(self) -> None:
        self.pair.close()


def means(image: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, float]:
    lum = luma(image)
    return {n: float(lum[m].mean()) if m.sum() >= MIN_PIXELS else float("nan")
            for n, m in masks.items()}  # fmt: skip


def renderers(views: Views, source) -> dict[str, dict[str, float]]:
    """The scan's renderer and sim_env's at the exterior pose, per object; and the masks."""
    camera = next(c for c in source.spec.cameras if c.name == EXTERIOR_IMAGE)
    w, h = views.size
    phone = PhoneRenderer(source, ScanConfig(size=(w, h), focal=camera.fx / camera.width))
    try:
        filmed = (phone.render(views.exterior) * 255 + 0.5).astype(np.uint8)
    finally:
        phone.close()
    bare = views.pair.source_bare.render_layers(views.pair.source_data, EXTERIOR_IMAGE, views.size)
    own, grown = views.masks(), views.masks(grow=1)
    return {
        "sim_env": means(bare.rgb, own),
        "scan renderer": means(filmed, own),
        "sim_env, masks grown 1 px": means(bare.rgb, grown),
    }


@contextmanager
def switched_off(model: mujoco.MjModel, term: str) -> Iterator[None]:
    """The model with one shading term off for the block."""
    fields = {
        "specular": [model.mat_specular],
        "headlight": [model.vis.headlight.diffuse, model.vis.headlight.specular],
        "top light": [model.light_diffuse, model.light_specular],
    }[term]
    saved = [f.copy() for f in fields]
    for f in fields:
        f[...] = 0
    try:
        yield
    finally:
        for f, s in zip(fields, saved, strict=True):
            f[...] = s


def shading(views: Views) -> dict[str, dict[str, float]]:
    """The source's objects at the exterior pose, each shading term off in turn, and at poses
    near it: turned about its eye (pitch, yaw) or moved with the tray kept in view."""
    model, out = views.pair.source_scene.model, {}

    def look(pose: np.ndarray) -> dict[str, float]:
        views.put(pose)
        rgb = views.pair.source_bare.render_layers(
            views.pair.source_data, EXTERIOR_IMAGE, views.size
        ).rgb
        return means(rgb, views.masks())

    base = views.exterior
    out["exterior"] = look(base)
    for term in ("specular", "headlight", "top light"):
        with switched_off(model, term):
            out[f"exterior, no {term}"] = look(base)
    rot, eye = base[:, :3], -base[:, :3].T @ base[:, 3]
    for name, axis, deg in (("pitch", rot[0], 8), ("pitch", rot[0], -8), ("yaw", [0, 0, 1], 8)):
        turn = _rotation(np.asarray(axis, float), deg)
        out[f"same eye, {name} {deg:+d} deg"] = look(_pose(eye, rot.T, turn))
    views.put(base)
    return out


def _rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    a = np.radians(deg)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _pose(eye: np.ndarray, cam_to_world: np.ndarray, turn: np.ndarray) -> np.ndarray:
    rot = (turn @ cam_to_world).T
    return np.c_[rot, -rot @ eye]


def path(views: Views, scan: ScanConfig, every: float) -> dict[str, np.ndarray]:
    """Per object: [T, 3] source / source as filmed / twin luminance along the phone's path."""
    times = np.arange(0, scan.total_s, every)
    gain, gamma = exposure_drift(np.round(times * scan.fps) / scan.fps, scan)
    rows: dict[str, list] = {}
    for i, pose in enumerate(camera_path(times, scan)):
        views.put(pose)
        frame = views.pair.frame(EXTERIOR_IMAGE, views.size)
        filmed = 255 * np.clip(frame.source_no_robot / 255 * gain[i], 0, 1) ** gamma[i]
        masks = {n: m & ~frame.twin_robot for n, m in views.masks().items()}
        for world in (means(frame.source_no_robot, masks), means(filmed, masks),
                      means(frame.twin, masks)):  # fmt: skip
            for n, v in world.items():
                rows.setdefault(n, []).append(v)
        print(f"path {i + 1}/{len(times)}", file=sys.stderr, flush=True)
    views.put(views.exterior)
    out = {n: np.array(v).reshape(len(times), 3) for n, v in rows.items()}
    out["time"] = times
    out["gain"] = gain
    return out


WORLDS = ("source", "source as filmed", "twin")


def plot(file: Path, track: dict[str, np.ndarray], exterior: dict[str, float],
         twin_exterior: dict[str, float]) -> None:  # fmt: skip
    names = [n for n in track if n not in ("time", "gain")]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.0), sharex=True)
    for ax, n in zip(axes, names, strict=True):
        for k, (world, style) in enumerate(zip(WORLDS, ("-", ":", "--"), strict=True)):
            ax.plot(track["time"], track[n][:, k], style, label=world)
        ax.axhline(exterior[n], color="k", lw=0.8, label="source at exterior")
        ax.axhline(twin_exterior[n], color="r", lw=0.8, label="twin at exterior")
        ax.set_title(n, fontsize=9)
        ax.set_xlabel("scan time (s)", fontsize=8)
    axes[0].set_ylabel("mean luminance (own pixels)", fontsize=8)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(file, dpi=110)
    plt.close(fig)


def twin_at_exterior(views: Views) -> dict[str, float]:
    views.put(views.exterior)
    frame = views.pair.frame(EXTERIOR_IMAGE, views.size)
    masks = {n: m & ~frame.twin_robot for n, m in views.masks().items()}
    return means(frame.twin, masks)


def markdown(tables: dict[str, dict[str, dict[str, float]]], command: str) -> str:
    lines = [f"# The objects from the exterior camera and the phone's poses\n\n`{command}`. "
             "Mean luminance (Rec.601, 0-255) over each object's own pixels; picture: "
             "`views.png` (the phone's path, source / as filmed / twin).\n"]  # fmt: skip
    for title, rows in tables.items():
        names = list(next(iter(rows.values())))
        lines += [f"## {title}\n", "| | " + " | ".join(names) + " |",
                  "|---" * (len(names) + 1) + "|"]  # fmt: skip
        lines += [f"| {r} | " + " | ".join(f"{v[n]:.1f}" for n in names) + " |"
                  for r, v in rows.items()]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--size", default="160x90", help="the study's image size")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between path views")
    parser.add_argument("--out", type=Path, default=None, help="write views.md/.png here")
    args = parser.parse_args(argv)
    source, twin = check_pair(args.source, args.twin)
    size = tuple(int(v) for v in args.size.split("x"))
    views = Views(source, twin, size)  # type: ignore[arg-type]
    try:
        tables = {"renderers at the exterior pose (initial condition 0)": renderers(views, source),
                  "shading of the source at and near the exterior pose": shading(views)}  # fmt: skip
        twin_ext = twin_at_exterior(views)
        tables["renderers at the exterior pose (initial condition 0)"]["twin"] = twin_ext
        track = path(views, ScanConfig(), args.every)
    finally:
        views.close()
    summary = {}
    for k, world in enumerate(WORLDS):
        summary[f"phone path, {world}: mean"] = {
            n: float(np.nanmean(v[:, k])) for n, v in track.items() if n not in ("time", "gain")
        }
    tables["along the phone's path (mean over views)"] = summary
    for title, rows in tables.items():
        emit_rows(BENCH, title, rows, "luminance")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        command = "python -m benchmarks.fidelity.gap_views " + " ".join(argv or sys.argv[1:])
        (args.out / "views.md").write_text(markdown(tables, command))
        exterior = tables["renderers at the exterior pose (initial condition 0)"]["sim_env"]
        plot(args.out / "views.png", track, exterior, twin_ext)


if __name__ == "__main__":
    main()
