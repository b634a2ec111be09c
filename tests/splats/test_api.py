"""The public surface: every exported name resolves, inputs are checked at the boundary."""

import numpy as np
import pytest

import sim_env.splats as splats
from sim_env.errors import SimEnvError
from sim_env.splats import rasterize


def test_every_exported_name_resolves():
    for name in splats.__all__:
        assert getattr(splats, name) is not None


def _args(n=4, colors=None):
    rng = np.random.default_rng(0)
    return dict(
        means=rng.normal(0, 0.1, (n, 3)) + [0, 0, 2],
        quats=np.tile([1.0, 0, 0, 0], (n, 1)),
        scales=np.full((n, 3), 0.05),
        opacities=np.full(n, 0.5),
        colors=rng.uniform(size=(n, 3)) if colors is None else colors,
        viewmat=np.eye(4),
        K=np.array([[20.0, 0, 8], [0, 20, 8], [0, 0, 1]]),
        width=16,
        height=16,
    )


def test_accepts_float64_and_unnormalised_quaternions():
    args = _args()
    a = rasterize(**args)
    args["quats"] = args["quats"] * 3
    b = rasterize(
        **{k: (np.float32(v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    )
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(quats=np.ones((3, 4))), "quats has shape"),
        (dict(colors=np.ones((4, 5, 3))), "5 SH coefficients"),
        (dict(viewmat=np.eye(3)), "viewmat has shape"),
        (dict(width=0), "image size"),
        (dict(backend="vulkan"), "unknown backend"),
        (dict(sh_degree=1), "sh_degree is set"),
        (dict(colors=np.ones((4, 4, 3)), sh_degree=2), "needs 9 coefficients"),
        (dict(near_plane=0.0), "near_plane"),
    ],
)
def test_rejects_bad_inputs(change, match):
    with pytest.raises(ValueError, match=match):
        rasterize(**{**_args(), **change})


def test_gsplat_backend_without_cuda_says_so():
    if splats.gsplat_cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(SimEnvError, match="CUDA"):
        rasterize(**_args(), backend="gsplat")
