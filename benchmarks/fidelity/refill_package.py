"""A built package's table under its scanned objects filled again with today's hole fill.

    python -m benchmarks.fidelity.refill_package --twin kitchen_twin --out runs/kitchen_refilled

The objects stage covers each footprint (where an object stood while the phone filmed) with a
copy of the table beside it, and falls back to smooth discs (Telea inpainting) where no copy
fits; the kitchen twin as first built had its four footprints filled mostly with such discs, a
blurred smear at the exterior camera (bundled re-filled since session 15). Here the discs
(``holefill``'s: 0.75 x 0.75 x 0.02 of the fill spacing, opacity 0.97, unrotated) are taken out
of the package's scene splats and the footprints filled again by
``reconstruct.holefill.fill_table``, with each object's own visual mesh where initial condition
0 puts it as its footprint. Only the twin's own data is used; ``--out`` may be the twin itself,
and its provenance notes say it was re-filled. A colour map (``render.colour``) was fitted on
the splats as they were: fit it again (``twinbench env edit --colour-from``). Compare the copy
with ``locator_proxy``. Prints the counts as JSON lines.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import open3d as o3d
import trimesh
import yaml

from benchmarks.fidelity.gap import Report
from reconstruct.holefill import FillConfig, fill_table
from reconstruct.segment import surface_samples
from reconstruct.solid import Solid, build_solid
from sim_env.cameras import quat_to_mat
from sim_env.package import EnvPackage, load_spec_checked
from sim_env.package.edit import put_in_place
from sim_env.package.loader import save_package
from sim_env.registry import resolve_env
from sim_env.splats import GaussianSet, concat
from sim_env.splats.ply import read_ply, write_ply

SAMPLE_SPACING = 0.002  # m: surface samples of an object's mesh for its solid


def smooth_discs(scene: GaussianSet, config: FillConfig) -> np.ndarray:
    """[N] mask of the smooth fill's discs among ``scene``'s Gaussians."""
    s = config.spacing
    return (
        (np.abs(scene.scales[:, 0] - 0.75 * s) < 1e-5)
        & (np.abs(scene.scales[:, 1] - 0.75 * s) < 1e-5)
        & (np.abs(scene.scales[:, 2] - 0.02 * s) < 1e-6)
        & (np.abs(scene.opacities - config.opacity) < 1e-3)
        & (np.abs(scene.quats[:, 0]) > 1 - 1e-6)
    )


def scanned_solids(twin: EnvPackage) -> list[Solid]:
    """Each object's solid where initial condition 0 (the scan) puts it."""
    first = twin.spec.initial_conditions[0]
    solids = []
    for obj in twin.spec.objects:
        pose = first.objects[obj.name]
        mesh = trimesh.load(twin.path(obj.visual.mesh), force="mesh")
        placed = np.eye(4)
        placed[:3, :3], placed[:3, 3] = quat_to_mat(np.asarray(pose.quat)), pose.pos
        mesh.apply_transform(placed)
        o3d_mesh = o3d.geometry.TriangleMesh(
            o3d.utility.Vector3dVector(np.asarray(mesh.vertices, float)),
            o3d.utility.Vector3iVector(np.asarray(mesh.faces)),
        )
        points, _, _ = surface_samples(o3d_mesh, SAMPLE_SPACING)
        solids.append(build_solid(points[points[:, 2] > 2 * SAMPLE_SPACING]))
    return solids


def refill(twin_id: str, out: Path, config: FillConfig, report: Report) -> EnvPackage:
    twin = load_spec_checked(resolve_env(twin_id))
    if twin.spec.scene.table_texture is not None:
        raise SystemExit(
            f"{twin.root}: its table is a picture (scene.table_texture), not splats: there is "
            "no smooth fill to replace"
        )
    scene = read_ply(twin.path(twin.spec.scene.splats))
    discs = smooth_discs(scene, config)
    static = scene.subset(np.nonzero(~discs)[0])
    fill, hidden = fill_table(static, scanned_solids(twin), config)
    report.add("refill", "smooth_discs_removed", int(discs.sum()), "count")
    report.add("refill", "static_replaced", int(hidden.sum()), "count")
    report.add("refill", "fill_gaussians", len(fill), "count")
    report.add("refill", "smooth_discs_after", int(smooth_discs(fill, config).sum()), "count")
    staging = out.with_name(out.name + ".refilling")  # ``out`` may be the twin itself
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(twin.root, staging)
    write_ply(
        staging / twin.spec.scene.splats, concat([static.subset(np.nonzero(~hidden)[0]), fill])
    )
    data = yaml.safe_load((staging / "env.yaml").read_text())
    data["provenance"]["notes"] = (
        data["provenance"].get("notes", "").rstrip()
        + f"\nrefilled: {int(discs.sum())} smooth-fill "
        "discs under the scanned objects replaced by copied table "
        "(python -m benchmarks.fidelity.refill_package)"
    ).strip()
    save_package(data, staging)
    put_in_place(staging, out)
    return load_spec_checked(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twin", default="kitchen_twin")
    parser.add_argument("--out", type=Path, required=True, help="the re-filled copy's folder")
    args = parser.parse_args(argv)
    refill(args.twin, args.out, FillConfig(), Report())


if __name__ == "__main__":
    main()
