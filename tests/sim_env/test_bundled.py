"""Every bundled environment says how it is rebuilt (``sim_env.bundled.BUILDERS``)."""

from __future__ import annotations

from sim_env.bundled import BUILDERS
from sim_env.registry import list_envs


def test_every_bundled_environment_has_its_build_command() -> None:
    assert sorted(BUILDERS) == sorted(e.id for e in list_envs() if e.bundled)
    assert all(command.startswith("python -m ") for command in BUILDERS.values())
