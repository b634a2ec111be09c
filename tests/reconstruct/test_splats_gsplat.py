"""The gsplat (CUDA) trainer on the same tiny scene as the CPU trainer; skipped without CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from reconstruct.errors import ReconstructError
from reconstruct.train.config import DensifyConfig, TrainConfig
from reconstruct.train.gsplat_trainer import train_gsplat
from reconstruct.train.init import InitConfig, gaussians_from_points
from reconstruct.train.metrics import psnr
from reconstruct.views import View
from sim_env.cameras import look_at, quat_to_mat
from sim_env.splats import MeshSampling, gaussians_from_mesh, gsplat_cuda_available, rasterize

K = np.array([[80.0, 0.0, 48.0], [0.0, 80.0, 36.0], [0.0, 0.0, 1.0]])
SIZE = (96, 72)


def test_without_cuda_the_gsplat_trainer_says_what_to_use() -> None:
    if gsplat_cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ReconstructError, match="--trainer cpu"):
        train_gsplat(None, [], TrainConfig(), 1.0, lambda f, note: None)


@pytest.mark.cuda
@pytest.mark.skipif(not gsplat_cuda_available(), reason="needs CUDA and gsplat's extension")
def test_gsplat_training_learns() -> None:
    import trimesh

    table = trimesh.creation.box((0.6, 0.6, 0.01))
    truth = gaussians_from_mesh(table, MeshSampling(count=3000, seed=0))
    colors = np.clip(0.5 + 0.4 * np.sign(np.sin(truth.means[:, :2] * 40)).prod(1)[:, None], 0, 1)
    truth = type(truth).from_colors(
        truth.means, truth.quats, truth.scales, truth.opacities, np.repeat(colors, 3, 1)
    )
    views = []
    for i, angle in enumerate(np.linspace(0, 2 * np.pi, 16, endpoint=False)):
        eye = np.array([0.6 * np.cos(angle), 0.6 * np.sin(angle), 0.45])
        rot = quat_to_mat(look_at(eye, np.zeros(3))).T
        view = np.eye(4)
        view[:3, :3], view[:3, 3] = rot, -rot @ eye
        image = rasterize(
            truth.means,
            truth.quats,
            truth.scales,
            truth.opacities,
            truth.sh,
            view,
            K,
            *SIZE,
            backend="cpu",
        )[0]
        views.append(View(str(i), np.clip(image, 0, 1), K, view))
    rng = np.random.default_rng(0)
    points = truth.means[rng.choice(len(truth), 500, replace=False)]
    init = gaussians_from_points(points, np.full((500, 3), 0.5), InitConfig())
    config = TrainConfig(
        iterations=300, sh_degree_step=150, densify=DensifyConfig(start=50, stop=250, every=50)
    )
    result = train_gsplat(init, views[1:], config, 1.0, lambda f, note: None)

    def score(gs) -> float:
        v = views[0]
        return psnr(
            np.clip(
                rasterize(
                    gs.means,
                    gs.quats,
                    gs.scales,
                    gs.opacities,
                    gs.sh,
                    v.viewmat,
                    K,
                    *SIZE,
                    backend="cpu",
                )[0],
                0,
                1,
            ),
            v.image,
        )

    assert score(result.gaussians) > score(init) + 4
