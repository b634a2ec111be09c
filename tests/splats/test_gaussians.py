"""GaussianSet: activation maps, exact inverses, concat and subset."""

import numpy as np
import pytest

from sim_env.splats import (
    GaussianSet,
    activate_opacities,
    activate_scales,
    concat,
    log_scales,
    logit_opacities,
    normalize_quats,
    rgb_to_sh0,
    sh0_to_rgb,
)


def _set(n, degree, seed=0):
    rng = np.random.default_rng(seed)
    return GaussianSet.from_raw(
        rng.normal(size=(n, 3)), rng.normal(size=(n, 4)), rng.normal(-4, 2, (n, 3)),
        rng.normal(0, 3, n), rng.normal(size=(n, (degree + 1) ** 2, 3)),
    )  # fmt: skip


def test_activations_and_exact_inverses():
    raw = np.random.default_rng(0).normal(0, 6, 100_000).astype(np.float32)
    scales, opacities = activate_scales(raw), activate_opacities(raw)
    np.testing.assert_allclose(scales, np.exp(raw.astype(float)), rtol=1e-6)
    np.testing.assert_array_equal(activate_scales(log_scales(scales)), scales)
    np.testing.assert_array_equal(activate_opacities(logit_opacities(opacities)), opacities)
    assert np.isfinite(logit_opacities(np.float32([0.0, 1.0]))).all()


def test_quaternion_normalisation_is_idempotent():
    q = normalize_quats(np.random.default_rng(1).normal(size=(1000, 4)))
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(normalize_quats(q), q)
    with pytest.raises(ValueError, match="zero-length"):
        normalize_quats(np.zeros((1, 4)))


def test_colors_and_sh0_conversions():
    rgb = np.float32([[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(sh0_to_rgb(rgb_to_sh0(rgb)), rgb, atol=1e-7)
    gs = GaussianSet.from_colors(
        np.zeros((1, 3)), [[2, 0, 0, 0]], np.ones((1, 3)), [0.5], [[-0.2, 0.3, 1.0]]
    )
    np.testing.assert_allclose(
        gs.colors, [[0.0, 0.3, 1.0]], atol=1e-6
    )  # clamped at 0 like the renderer
    np.testing.assert_array_equal(gs.quats, [[1, 0, 0, 0]])


def test_raw_round_trip():
    gs = _set(50, 2)
    raw = gs.to_raw()
    again = GaussianSet.from_raw(*raw)
    for name in ("means", "quats", "scales", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(again, name), getattr(gs, name))


def test_concat_pads_sh_and_subset_selects():
    a, b = _set(3, 0, seed=1), _set(4, 2, seed=2)
    both = concat([a, b])
    assert len(both) == 7 and both.sh_degree == 2
    np.testing.assert_array_equal(both.sh[:3, 0], a.sh[:, 0])
    assert not both.sh[:3, 1:].any()
    np.testing.assert_array_equal(both.subset(np.arange(3, 7)).sh, b.sh)
    np.testing.assert_array_equal(
        both.subset(both.opacities > 0.5).opacities, both.opacities[both.opacities > 0.5]
    )
    assert both.with_sh_degree(1).sh.shape == (7, 4, 3)
    with pytest.raises(ValueError):
        concat([])


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("quats", np.zeros((2, 3)), "quats has shape"),
        ("opacities", np.zeros(3), "opacities has shape"),
        ("sh", np.zeros((2, 5, 3)), "5 SH coefficients"),
    ],
)
def test_shape_validation(field, value, match):
    fields = dict(
        means=np.zeros((2, 3)),
        quats=np.zeros((2, 4)),
        scales=np.zeros((2, 3)),
        opacities=np.zeros(2),
        sh=np.zeros((2, 1, 3)),
    )
    fields[field] = value
    with pytest.raises(ValueError, match=match):
        GaussianSet(**fields)
