"""Shared test set-up: offline robot models, headless rendering."""

from __future__ import annotations

import os
from pathlib import Path

_SHARED_MENAGERIE = Path(__file__).resolve().parents[2] / "shared" / "assets" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _SHARED_MENAGERIE.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_SHARED_MENAGERIE)
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

# Every environment package a test builds must satisfy sim_env's invariants (it loads, settles
# without interpenetration, renders every camera, scores 0 at reset): saves are recorded here
# and checked when the test that made them ends. Import before any test module, so every
# builder (primitives, reconstruct, fidelity variants) binds the recording save_package.
import pytest  # noqa: E402

pytest_plugins = ("tests.store_backends",)  # store_location, postgres_url: both back ends

import sim_env.package  # noqa: E402
import sim_env.package.loader  # noqa: E402

_BUILT: list[Path] = []
_save_package = sim_env.package.loader.save_package


def _recording_save_package(spec, root):
    package = _save_package(spec, root)
    _BUILT.append(package.root)
    return package


sim_env.package.save_package = sim_env.package.loader.save_package = _recording_save_package


@pytest.fixture(autouse=True)
def _built_packages_hold_invariants(request):
    """Check the packages this test (or a fixture it started) built, as they are at its end.

    A package the test broke or removed on purpose no longer validates and is left out; a test
    that builds an unstable world on purpose is marked ``unstable_world``.
    """
    start = len(_BUILT)
    yield
    roots = dict.fromkeys(_BUILT[start:])
    if not roots or request.node.get_closest_marker("unstable_world"):
        return
    from sim_env.invariants import invariant_violations
    from sim_env.scene import build_scene, check_initial_conditions
    from twinbench.errors import TwinbenchError

    for root in roots:
        try:  # a package that no longer validates was broken on purpose (validation's tests)
            package = sim_env.package.load_package(root)
            check_initial_conditions(build_scene(package), package)
        except (TwinbenchError, OSError):
            continue
        problems = invariant_violations(package)
        if problems:
            pytest.fail(f"package {root} breaks sim_env's invariants: " + "; ".join(problems))
