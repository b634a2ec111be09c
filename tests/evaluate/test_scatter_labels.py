"""The correlation report's scatter names each policy by its bundle's folder, not its whole
spec, where those names stay distinct (a ladder's ``bundle:benchmarks/fidelity/ladder/src-s400``
labels overlapped into one unreadable bar)."""

from __future__ import annotations

from matplotlib.figure import Figure

from evaluate.correlation import BootstrapConfig
from evaluate.correlation.analysis import Agreement, PolicyPoint
from evaluate.report import draw_scatter, short_name


def _agreement(policies: list[str]) -> Agreement:
    points = tuple(
        PolicyPoint(p, 0.1 * i, 0.1 * i, None, None, float(i), float(i), 0.0)
        for i, p in enumerate(policies)
    )
    values = {"pearson": 1.0, "mmrv": 0.0, "spearman": 1.0, "kendall": 1.0}
    return Agreement("pooled", values, None, points, BootstrapConfig())


def _labels(policies: list[str]) -> list[str]:
    ax = Figure().add_subplot()
    draw_scatter(ax, _agreement(policies), "success")
    return [text.get_text() for text in ax.texts]


def test_a_bundle_is_named_by_its_folder_and_other_specs_are_kept():
    assert short_name("bundle:benchmarks/fidelity/ladder/src-s400") == "src-s400"
    assert short_name("bundle:/abs/ladder/cot-s60/") == "cot-s60"
    assert short_name("scripted:noisy-0.3") == "scripted:noisy-0.3"


def test_points_are_labelled_with_short_names():
    policies = ["bundle:a/ladder/src-s400", "bundle:a/ladder/cot-s400", "scripted:oracle"]
    assert _labels(policies) == ["src-s400", "cot-s400", "scripted:oracle"]


def test_two_bundles_of_one_folder_name_keep_their_whole_specs():
    policies = ["bundle:old/src-s400", "bundle:new/src-s400"]
    assert _labels(policies) == policies
