"""Environment ids: bundled packages (shipped in sim_env/envs) and the user's own.

User packages are found in the directories of ``TWINBENCH_ENV_PATH`` (separated by ``:``) and
in ``./envs``; a package's id is its directory name. Bundled ids are also registered with
gymnasium as ``twinbench/<id>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim_env.errors import SimEnvError
from sim_env.package import ENV_FILE
from twinbench.registry import unknown_name_message

BUNDLED_DIR = Path(__file__).parent / "envs"
GYM_NAMESPACE = "twinbench"


@dataclass(frozen=True)
class EnvEntry:
    id: str
    path: Path
    bundled: bool


def _packages_in(directory: Path, bundled: bool) -> list[EnvEntry]:
    if not directory.is_dir():
        return []
    return [
        EnvEntry(child.name, child.resolve(), bundled)
        for child in sorted(directory.iterdir())
        if (child / ENV_FILE).is_file()
    ]


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("TWINBENCH_ENV_PATH", "").split(":") if p]
    return [*extra, Path("envs")]


def list_envs() -> list[EnvEntry]:
    """Bundled environments first, then the user's; a user id never shadows a bundled one."""
    entries = _packages_in(BUNDLED_DIR, bundled=True)
    seen = {e.id for e in entries}
    for directory in search_dirs():
        for entry in _packages_in(directory, bundled=False):
            if entry.id not in seen:
                entries.append(entry)
                seen.add(entry.id)
    return entries


def resolve_env(name_or_path: str | os.PathLike[str]) -> Path:
    """A package directory from a path or an id (with or without the ``twinbench/`` prefix)."""
    path = Path(name_or_path)
    if (path / ENV_FILE).is_file() or path.is_dir() or os.sep in str(name_or_path):
        return path
    name = str(name_or_path).removeprefix(f"{GYM_NAMESPACE}/")
    for entry in list_envs():
        if entry.id == name:
            return entry.path
    raise SimEnvError(unknown_name_message("environment", name, [e.id for e in list_envs()]))


def register_gym_envs() -> None:
    import gymnasium

    for entry in _packages_in(BUNDLED_DIR, bundled=True):
        env_id = f"{GYM_NAMESPACE}/{entry.id}"
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id, entry_point="sim_env.env:TwinEnv", kwargs={"package": str(entry.path)}
            )
