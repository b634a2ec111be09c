from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package


@pytest.fixture(scope="session")
def primitive_package(tmp_path_factory):
    """A cube-in-bowl package with 10 initial conditions, built once per test session."""
    return write_primitive_package(
        tmp_path_factory.mktemp("pkg") / "primitive", PrimitiveSceneConfig()
    )


@pytest.fixture
def package_copy(primitive_package, tmp_path) -> Path:
    """A private copy of the package that a test may break."""
    target = tmp_path / "copy"
    shutil.copytree(primitive_package.root, target)
    return target
