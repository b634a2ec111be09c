"""The gap report's pictures, one per cause (PNG, written next to gap.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from benchmarks.fidelity.gap_locator import task_objects
from studies.fidelity.gap_metrics import BANDS, dilate, downsample2

STUDY, FULL = (160, 90), (320, 180)
EXTERIOR = "exterior_image_1_left"


def _grid(path: Path, rows: list[list[tuple[str, np.ndarray]]], scale: float = 2.4) -> None:
    fig, axes = plt.subplots(
        len(rows), len(rows[0]), figsize=(scale * 1.8 * len(rows[0]), scale * len(rows)),
        squeeze=False,
    )  # fmt: skip
    for r, row in enumerate(rows):
        for c, (title, image) in enumerate(row):
            axes[r, c].imshow(image, interpolation="nearest")
            axes[r, c].set_title(title, fontsize=8)
            axes[r, c].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _frame(shown: dict, look: str, pose: str, camera: str, size: tuple[int, int]):
    return shown[look][1, pose, camera, size]


def write_figures(out: Path, shown: dict, rows: dict, locator: dict, maps: dict) -> None:
    looks = list(shown)
    cameras = sorted({k[2] for k in shown[looks[0]]})
    _grid(
        out / "colour.png",
        [
            [("source", _frame(shown, looks[0], "start", c, FULL).source)]
            + [(f"twin {look}", _frame(shown, look, "start", c, FULL).twin) for look in looks]
            for c in cameras
        ],
    )
    _sharpness(out / "sharpness.png", rows, cameras)
    alias_rows = []
    for c in cameras:
        row = []
        for world, look in [("source", looks[0])] + [("twin", look) for look in looks]:
            low = getattr(_frame(shown, look, "start", c, STUDY), world)
            high = downsample2(getattr(_frame(shown, look, "start", c, FULL), world))
            diff = np.abs(low.astype(float) - high).mean(axis=-1)
            name = "source" if world == "source" else f"twin {look}"
            row.append((f"{name}: |160x90 - box(320x180)|", np.clip(diff / 40, 0, 1)))
        alias_rows.append(row)
    _grid(out / "aliasing.png", alias_rows)
    overlay_rows = []
    for c in cameras:
        row = []
        for look in looks:
            f = _frame(shown, look, "reach", c, FULL)
            img = f.twin.astype(float) / 255 * 0.6
            img[f.floaters()] = [1, 0, 0]
            img[f.holes()] = [0, 0.4, 1]
            row.append((f"twin {look}: floaters red, holes blue", img))
        overlay_rows.append(row)
    _grid(out / "floaters.png", overlay_rows)
    comp_rows = []
    for c in cameras:
        f = _frame(shown, looks[0], "reach", c, FULL)
        xor = np.zeros((*f.source_robot.shape, 3))
        xor[f.source_robot & ~f.twin_robot] = [1, 0, 0]
        xor[~f.source_robot & f.twin_robot] = [0, 0.5, 1]
        xor[f.source_robot & f.twin_robot] = [0.85, 0.85, 0.85]
        shade = np.abs(f.source.astype(float) - f.source_no_robot).mean(axis=-1)
        shade[dilate(f.source_robot, 1)] = 0
        comp_rows.append(
            [
                ("source", f.source),
                ("twin", f.twin),
                ("robot: both grey, source only red, twin only blue", xor),
                ("source with - without robot, off the robot (x10)", np.clip(shade / 25.5, 0, 1)),
            ]
        )
    _grid(out / "compositing.png", comp_rows)
    _locator(out / "locator.png", locator)


def _sharpness(path: Path, rows: dict, cameras: list[str]) -> None:
    fig, axes = plt.subplots(1, len(cameras), figsize=(5 * len(cameras), 3.2), squeeze=False)
    for ax, camera in zip(axes[0], cameras, strict=True):
        width = 0.8 / len(rows)
        for i, (look, row) in enumerate(rows.items()):
            values = [row[f"power_{band}/{camera}/{STUDY[0]}"] for band in BANDS]
            ax.bar(np.arange(len(BANDS)) + i * width, values, width, label=look)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(np.arange(len(BANDS)) + 0.4 - width / 2, list(BANDS))
        ax.set_title(f"{camera} 160x90: twin power / source power", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _locator(path: Path, locator: dict) -> None:
    worlds = list(locator)
    bundles = list(locator[worlds[0]])
    obj, container = (n.replace("_", " ") for n in task_objects(locator))
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.6))
    width = 0.8 / len(worlds)
    for ax, key, label in (
        (axes[0], task_objects(locator)[0], f"{obj}: median xy error [cm]"),
        (axes[1], "grasp", f"located: {obj} within 2 cm and {container} within 3 cm [fraction]"),
    ):
        for i, world in enumerate(worlds):
            values = [locator[world][b][key] for b in bundles]
            ax.bar(np.arange(len(bundles)) + i * width, values, width, label=world)
        ax.set_xticks(np.arange(len(bundles)) + 0.4 - width / 2, bundles, rotation=45, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
