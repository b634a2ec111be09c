"""Import splats trained elsewhere with nerfstudio (``ns-train splatfacto`` + ``ns-export
gaussian-splat``) into the aligned world frame.

nerfstudio exports its Gaussians in its *dataparser* frame: ``p_dp = scale * (T @ [p; 1])``
with ``T`` (3x4) and ``scale`` from ``dataparser_transforms.json``, ``p`` in the frame of the
data it was trained on (``transforms.json``'s, which ``ns-process-data`` derives from COLMAP's
by its ``applied_transform``: (x, y, z) -> (x, z, -y)). From the data frame to our world:

- with ``transforms.json``: the similarity that maps its camera centres onto the aligned
  cameras of the same image names (any data frame works, at least 3 shared frames);
- without it: the data frame is taken to be our sfm model after nerfstudio's COLMAP
  conversion, and the align stage's similarity finishes the job.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reconstruct.errors import ReconstructError
from reconstruct.geometry import Similarity, umeyama
from sim_env.splats import GaussianSet, transform

# nerfstudio's colmap_to_json: applied_transform = eye(4)[:3][[0, 2, 1]], row 2 negated.
COLMAP_TO_NERFSTUDIO = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReconstructError(f"cannot read this JSON file: {exc}", file=path) from None


def dataparser_to_data(path: Path) -> Similarity:
    """The similarity from nerfstudio's dataparser frame back to its data frame."""
    data = _read_json(path)
    try:
        matrix = np.asarray(data["transform"], float).reshape(3, 4)
        scale = float(data["scale"])
    except (KeyError, TypeError, ValueError):
        raise ReconstructError(
            "expected 'transform' (3x4) and 'scale' as ns-train writes them",
            file=path,
            field="transform",
        ) from None
    if not scale > 0 or not np.allclose(matrix[:, :3] @ matrix[:, :3].T, np.eye(3), atol=1e-4):
        raise ReconstructError(
            "'transform' must be a rotation and translation, 'scale' positive", file=path
        )
    forward = Similarity(scale, matrix[:, :3], scale * matrix[:, 3])
    return forward.inverse()


def data_centres(path: Path) -> dict[str, np.ndarray]:
    """Camera centres (data frame) of ``transforms.json``'s frames, by image file name."""
    data = _read_json(path)
    centres = {}
    for i, frame in enumerate(data.get("frames", [])):
        try:
            matrix = np.asarray(frame["transform_matrix"], float).reshape(4, 4)
            name = Path(frame["file_path"]).name
        except (KeyError, TypeError, ValueError):
            raise ReconstructError(
                "each frame needs 'file_path' and a 4x4 'transform_matrix'",
                file=path,
                field=f"frames[{i}]",
            ) from None
        centres[name] = matrix[:3, 3]
    return centres


def data_to_world_from_cameras(
    data: dict[str, np.ndarray], world: dict[str, np.ndarray], file: Path
) -> Similarity:
    """The similarity mapping the data-frame camera centres onto the world ones by name."""
    shared = sorted(set(data) & set(world))
    if len(shared) < 3:
        raise ReconstructError(
            f"only {len(shared)} of its frames are registered frames of this scan (need 3); "
            "train nerfstudio on this scan's frames (work/frames/images)",
            file=file,
        )
    return umeyama(np.array([data[n] for n in shared]), np.array([world[n] for n in shared]))


def data_to_world_from_model(world_from_model: Similarity) -> Similarity:
    """Data frame = our sfm model after nerfstudio's COLMAP conversion -> world."""
    to_model = Similarity(1.0, COLMAP_TO_NERFSTUDIO.T, np.zeros(3))
    return compose(world_from_model, to_model)


def compose(outer: Similarity, inner: Similarity) -> Similarity:
    """``outer`` after ``inner``."""
    return Similarity(
        outer.scale * inner.scale,
        outer.rotation @ inner.rotation,
        outer.scale * outer.rotation @ inner.translation + outer.translation,
    )


def transform_gaussians(gs: GaussianSet, sim: Similarity) -> GaussianSet:
    """``gs`` moved by a similarity: means and scales scaled, orientations and SH rotated."""
    scaled = GaussianSet(gs.means * sim.scale, gs.quats, gs.scales * sim.scale, gs.opacities, gs.sh)
    return transform(scaled, sim.rotation, sim.translation)
