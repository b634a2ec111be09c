"""Importing nerfstudio's splats: a scene exported in a dataparser frame comes back into the
world frame, by the cameras of transforms.json or by the sfm model's known conversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reconstruct import nerfstudio
from reconstruct.errors import ReconstructError
from reconstruct.geometry import Similarity
from reconstruct.train.metrics import psnr
from sim_env.cameras import look_at, quat_to_mat
from sim_env.splats import GaussianSet, rasterize, read_ply, write_ply
from sim_env.splats.rotations import quat_to_matrix


def rotation(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


@pytest.fixture
def world_scene() -> GaussianSet:
    """Coloured, anisotropic Gaussians with view-dependent (degree 1) colour, world frame."""
    rng = np.random.default_rng(3)
    n = 300
    quats = rng.normal(size=(n, 4))
    sh = rng.normal(0, 0.3, (n, 4, 3)).astype(np.float32)
    return GaussianSet.from_activated(
        rng.uniform([-0.2, -0.2, 0.0], [0.2, 0.2, 0.1], (n, 3)),
        quats,
        np.exp(rng.uniform(np.log(0.005), np.log(0.03), (n, 3))),
        rng.uniform(0.3, 0.95, n),
        sh,
    )


# The align stage's similarity (world <- sfm model) and nerfstudio's dataparser transform.
WORLD_FROM_MODEL = Similarity(0.17, rotation([1, 2, 0.5], 70), np.array([0.3, -0.1, 0.05]))
DATAPARSER = {"transform": np.c_[rotation([0.2, -1, 0.4], 35), [0.5, 0.2, -0.3]], "scale": 1.7}


def export_like_nerfstudio(world: GaussianSet, folder: Path) -> dict[str, Path]:
    """What ns-process-data + ns-train + ns-export would leave for a scan whose COLMAP model
    is our sfm model: the PLY in the dataparser frame, dataparser_transforms.json, and a
    transforms.json whose cameras are in the data frame (COLMAP axes converted)."""
    model_from_world = WORLD_FROM_MODEL.inverse()
    data_from_model = Similarity(1.0, nerfstudio.COLMAP_TO_NERFSTUDIO, np.zeros(3))
    dataparser = Similarity(
        DATAPARSER["scale"],
        DATAPARSER["transform"][:, :3],
        DATAPARSER["scale"] * DATAPARSER["transform"][:, 3],
    )
    data_from_world = nerfstudio.compose(data_from_model, model_from_world)
    exported = nerfstudio.transform_gaussians(
        world, nerfstudio.compose(dataparser, data_from_world)
    )
    write_ply(folder / "splat.ply", exported)
    (folder / "dataparser_transforms.json").write_text(
        json.dumps({"transform": DATAPARSER["transform"].tolist(), "scale": DATAPARSER["scale"]})
    )
    centres = {
        f"frame_{i:05d}.jpg": np.array([0.6 * np.cos(a), 0.6 * np.sin(a), 0.4])
        for i, a in enumerate(np.linspace(0, 5, 6))
    }
    frames = []
    for name, centre in centres.items():
        matrix = np.eye(4)
        matrix[:3, 3] = data_from_world.apply(centre)  # orientation does not matter here
        frames.append({"file_path": f"images/{name}", "transform_matrix": matrix.tolist()})
    (folder / "transforms.json").write_text(json.dumps({"frames": frames}))
    return {
        "ply": folder / "splat.ply",
        "dataparser": folder / "dataparser_transforms.json",
        "transforms": folder / "transforms.json",
        "centres": centres,
    }


def render(gs: GaussianSet, eye) -> np.ndarray:
    rot = quat_to_mat(look_at(np.asarray(eye, float), np.zeros(3))).T
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = rot, -rot @ np.asarray(eye, float)
    k = np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]])
    return rasterize(gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view, k, 128, 96)[0]


def check_same(imported: GaussianSet, world: GaussianSet) -> None:
    assert np.allclose(imported.means, world.means, atol=2e-5)
    assert np.allclose(imported.scales, world.scales, rtol=2e-4)
    same_axes = np.abs(
        np.einsum("nij,nij->nj", quat_to_matrix(imported.quats), quat_to_matrix(world.quats))
    )
    assert same_axes.min() > 1 - 1e-4
    for eye in ((0.5, -0.4, 0.4), (-0.3, 0.5, 0.3)):  # view-dependent colour turned back too
        assert psnr(render(imported, eye), render(world, eye)) > 45


def test_import_by_the_cameras_of_transforms_json(tmp_path: Path, world_scene: GaussianSet) -> None:
    files = export_like_nerfstudio(world_scene, tmp_path)
    to_data = nerfstudio.dataparser_to_data(files["dataparser"])
    to_world = nerfstudio.data_to_world_from_cameras(
        nerfstudio.data_centres(files["transforms"]), files["centres"], files["transforms"]
    )
    imported = nerfstudio.transform_gaussians(
        read_ply(files["ply"]), nerfstudio.compose(to_world, to_data)
    )
    check_same(imported, world_scene)


def test_import_by_the_sfm_model_and_the_align_similarity(
    tmp_path: Path, world_scene: GaussianSet
) -> None:
    files = export_like_nerfstudio(world_scene, tmp_path)
    to_data = nerfstudio.dataparser_to_data(files["dataparser"])
    to_world = nerfstudio.data_to_world_from_model(WORLD_FROM_MODEL)
    imported = nerfstudio.transform_gaussians(
        read_ply(files["ply"]), nerfstudio.compose(to_world, to_data)
    )
    check_same(imported, world_scene)


def test_bad_transform_files_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "dataparser_transforms.json"
    bad.write_text(json.dumps({"scale": 2.0}))
    with pytest.raises(ReconstructError, match="transform"):
        nerfstudio.dataparser_to_data(bad)
    few = tmp_path / "transforms.json"
    few.write_text(
        json.dumps({"frames": [{"file_path": "a.jpg", "transform_matrix": np.eye(4).tolist()}]})
    )
    with pytest.raises(ReconstructError, match="registered frames"):
        nerfstudio.data_to_world_from_cameras(
            nerfstudio.data_centres(few), {"a.jpg": np.zeros(3)}, few
        )
