"""CPU rasterizer vs gsplat's CUDA rasterizer on the same scene and camera (needs CUDA)."""

import numpy as np
import pytest

from sim_env.splats import gsplat_cuda_available, rasterize

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not gsplat_cuda_available(), reason="needs CUDA and gsplat's CUDA extension"
    ),
]


@pytest.mark.parametrize("antialiased", [False, True])
@pytest.mark.parametrize("sh_degree", [None, 0, 3])
def test_cpu_matches_gsplat(sh_degree, antialiased, camera_factory, scene_factory, psnr_fn):
    scene = scene_factory(0, 2000, camera_factory(width=160, height=120), sh_degree)
    background = np.array([0.3, 0.2, 0.1])
    cpu = rasterize(**scene, background=background, backend="cpu", antialiased=antialiased)
    gpu = rasterize(**scene, background=background, backend="gsplat", antialiased=antialiased)
    assert psnr_fn(cpu[0], gpu[0]) >= 40
    assert psnr_fn(cpu[2], gpu[2]) >= 40
    covered = gpu[2] > 0.5
    np.testing.assert_allclose(cpu[1][covered], gpu[1][covered], rtol=1e-2)
