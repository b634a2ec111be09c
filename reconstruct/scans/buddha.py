"""Build the bundled real-scan environment ``buddha_tabletop`` from the shared Buddha photos.

    python -m reconstruct.scans.buddha                          # into sim_env/envs/buddha_tabletop
    python -m reconstruct.scans.buddha -o /tmp/envs/buddha_tabletop --work /tmp/buddha_work

1. run ``twinbench reconstruct``'s stages on the 13 photos (1368x770), one stage at a time so
   each one's wall time and peak memory are measured (the process's resident high-water mark,
   reset before the stage; SfM's own child reports its peak too);
2. name the statue ``buddha_head``; a plaster head about 16 cm wide is far wider than the
   Robotiq 2F-85's 85 mm stroke, so the package stage gives it a touch task (reach within 2 cm
   of it), as it does any scan's one object too big to grasp;
3. publish the package with its attribution (the photos are CC BY 4.0) and ``build.json``:
   stage times and peak memory, registered photos, held-out PSNR / SSIM on photos left out of
   training, gravity and camera-centre agreement with the dataset's own cameras
   (``reconstruct.scans.buddha_truth``) and how the scale was set.

The dataset's scale is arbitrary, so the metric scale is an assumption: the statue is taken to
stand ``OBJECT_HEIGHT`` tall (``--object-height``), see ``SCALE_NOTE``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reconstruct.align import AlignConfig, AlignOutputs
from reconstruct.colmap_model import load_model, registered_poses
from reconstruct.errors import ReconstructError
from reconstruct.frames import FramesConfig
from reconstruct.isolated import own_peak_bytes
from reconstruct.mesh import MeshConfig
from reconstruct.object_edits import ObjectEdit, ObjectEdits, TaskEdit
from reconstruct.objects import ObjectsConfig
from reconstruct.package import PackageConfig, publish_package
from reconstruct.scans.buddha_truth import BUDDHA_DIR, compare_with_dataset
from reconstruct.sfm import SfmConfig
from reconstruct.splats import SplatsConfig
from reconstruct.stages import WORK_DIRNAME, StageResult, run_pipeline, stage_names
from sim_env.package import ENV_FILE, save_package
from sim_env.registry import BUNDLED_DIR
from twinbench.yamlio import load_yaml

NAME = "buddha_tabletop"
OBJECT = "buddha_head"
OBJECT_HEIGHT = 0.21  # m, assumed (see SCALE_NOTE)
SCALE_NOTE = (
    "assumed: the dataset gives no size (its projection matrices have an arbitrary scale); the "
    "statue is taken to stand {height:.2f} m tall above the sheet (a typical size for a "
    "decorative plaster head; not measured); every length in this package scales with it"
)
ATTRIBUTION = """\
# Attribution

The splats, meshes and previews of this environment are reconstructed from 13 photographs of
the AliceVision "Buddha Dataset": Gasparini, S., Castan, F., Lanthony, Y. (2017), Buddha
Dataset, Zenodo, doi:10.5281/zenodo.1203283, released under the Creative Commons Attribution
4.0 International licence (https://creativecommons.org/licenses/by/4.0/). The photographs were
downscaled by 2 (to 1368x770); the reconstruction (structure from motion, Gaussian splats, TSDF
mesh, convex hulls) and the task are this project's, made by `python -m
reconstruct.scans.buddha` (see build.json). The same licence applies to this derived package.
"""
SPLAT_FIGURES = (
    "psnr", "ssim", "psnr_init", "ssim_init", "heldout_views", "train_views", "gaussians",
    "image_size", "train_seconds",
)  # fmt: skip
MEASURED = "build_measurements.json"  # per stage: its run key and figures


@dataclass(frozen=True)
class BuddhaBuildConfig:
    """Every setting of the build, so a build is reproducible from this alone."""

    photos: Path = BUDDHA_DIR / "images"
    object_height: float = OBJECT_HEIGHT
    frames: FramesConfig = field(default_factory=FramesConfig)
    sfm: SfmConfig = field(default_factory=SfmConfig)
    # the stage's defaults, what a user's 'twinbench reconstruct photos/' trains: 456 px,
    # 1,500 steps grown to 80k Gaussians (~52k kept, ~4.8 MB at SH degree 1)
    splats: SplatsConfig = field(default_factory=SplatsConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    objects: ObjectsConfig = field(
        default_factory=lambda: ObjectsConfig(
            edits=ObjectEdits((ObjectEdit(OBJECT, at=((0.02, 0.0),)),), keep_unlisted=False)
        )
    )
    instruction: str = "touch the buddha head"
    name: str = NAME


def stage_configs(config: BuddhaBuildConfig) -> dict[str, object]:
    return {
        "frames": config.frames,
        "sfm": config.sfm,
        "align": AlignConfig(object_height=config.object_height),
        "splats": config.splats,
        "mesh": config.mesh,
        "objects": config.objects,
        "package": PackageConfig(name=config.name, task=TaskEdit(OBJECT, "", config.instruction)),
    }


def reset_peak_memory() -> None:
    """Restart this process's resident high-water mark (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def run_stages(config: BuddhaBuildConfig, env_dir: Path) -> tuple[list[StageResult], list[dict]]:
    """Every stage in turn, with its wall time and peak memory (MB). A stage skipped (its
    cached result is current) keeps the figures measured when it ran, which
    ``env_dir/MEASURED`` holds by the stage's run key, so a rebuild after a later stage's
    change still records every stage."""
    results: list[StageResult] = []
    measured: list[dict[str, Any]] = []
    path = env_dir / MEASURED
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    for name in stage_names():
        reset_peak_memory()
        result = run_pipeline(config.photos, env_dir, until=name, configs=stage_configs(config))[-1]
        key = result.summary["run"]["key"]
        record = {
            "stage": name,
            "seconds": result.seconds,
            "peak_memory_mb": round(own_peak_bytes() / 2**20, 1),
        }
        child = result.summary.get("memory", {}).get("peak_mb")
        if child is not None:
            record["child_peak_memory_mb"] = child
        if result.status == "skipped":
            kept = earlier.get(name, {})
            record = (
                kept["record"]
                if kept.get("key") == key and kept["record"].get("ran")
                else {"stage": name, "seconds": result.summary["run"]["seconds"], "ran": False}
            )  # run before this build began: its time from its summary, memory unknown
        else:
            record["ran"] = True
        earlier[name] = {"key": key, "record": record}
        path.write_text(json.dumps(earlier, indent=1))
        results.append(result)
        measured.append(record)
    return results, measured


def add_notes(root: Path, instruction: str, notes: str) -> None:
    """Set the package's ``instruction`` and add ``notes`` to its provenance."""
    spec = load_yaml(root / ENV_FILE, ReconstructError)
    spec["instruction"] = instruction
    spec["provenance"]["notes"] = f"{spec['provenance'].get('notes') or ''}; {notes}".lstrip("; ")
    save_package(spec, root)


def dataset_agreement(work_dir: Path) -> dict[str, Any]:
    """The aligned cameras against the dataset's (one similarity fit); the sheet's marker
    spacing in metres at the assumed scale."""
    poses = registered_poses(load_model(AlignOutputs.at(work_dir / "align").model))
    comparison = compare_with_dataset(poses.names, poses.cam_from_world, np.array([0.0, 0.0, 1.0]))
    return comparison.as_dict() | {"sheet_marker_spacing_m": round(comparison.marker_spacing(), 4)}


def sfm_record(results: list[StageResult]) -> dict[str, Any]:
    sfm = next(r for r in results if r.name == "sfm").summary
    return {k: sfm[k] for k in ("registered", "total", "points", "mean_reprojection_error")} | {
        "unregistered": sfm.get("unregistered", [])
    }


def build(config: BuddhaBuildConfig, out: Path, work: Path) -> dict[str, Any]:
    """Write the package to ``out`` (intermediate stages in ``work``); returns the build
    record, also written as ``out/build.json``."""
    started = time.monotonic()
    env_dir = work / "env"
    results, stages = run_stages(config, env_dir)
    summaries = {r.name: r.summary for r in results}
    align, splats = summaries["align"], summaries["splats"]
    statue = next(o for o in summaries["objects"]["objects"] if o["name"] == OBJECT)
    package = publish_package(results[-1].out_dir, out)
    scale = {
        "source": align["scale_source"],
        "object_height_m": config.object_height,
        "metres_per_sfm_unit": align["scale"],
        "note": SCALE_NOTE.format(height=config.object_height),
    }
    add_notes(
        package.root,
        config.instruction,
        "the statue is wider than the 2F-85's 85 mm stroke, so the task is to touch it; "
        f"scale {scale['note']}; photos: AliceVision Buddha Dataset (Gasparini, Castan, "
        "Lanthony 2017, doi:10.5281/zenodo.1203283), CC BY 4.0, see ATTRIBUTION.md",
    )
    (package.root / "ATTRIBUTION.md").write_text(ATTRIBUTION)
    record = {
        "name": config.name,
        "photos": {"folder": config.photos.name, "count": summaries["frames"]["count"]},
        "sfm": sfm_record(results),
        "dataset_agreement": dataset_agreement(env_dir / WORK_DIRNAME),
        "scale": scale,
        "object": {k: statue[k] for k in ("name", "extents_m", "mass_kg", "volume_m3")},
        "splats": {k: splats[k] for k in SPLAT_FIGURES},
        "stages": stages,
        "total_seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "config": asdict(config),
    }
    (package.root / "build.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    return record


def machine() -> dict[str, Any]:
    """Where the build ran: the cores and the load it shared them with (1, 5, 15 min)."""
    return {
        "cores": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=BUNDLED_DIR / NAME, help="package folder")
    parser.add_argument("--work", type=Path, default=None, help="keep the stages here")
    parser.add_argument("--photos", type=Path, default=BuddhaBuildConfig.photos)
    parser.add_argument(
        "--object-height", type=float, default=OBJECT_HEIGHT, help="the statue's height, m"
    )
    args = parser.parse_args()
    config = BuddhaBuildConfig(photos=args.photos, object_height=args.object_height)
    with tempfile.TemporaryDirectory() as tmp:
        record = build(config, args.out, args.work or Path(tmp))
    shown = {k: record[k] for k in ("sfm", "dataset_agreement", "splats", "stages")}
    print(json.dumps(shown, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
