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
    """A package directory from an id (``tabletop_twin``, ``twinbench/tabletop_twin``) or a
    path (anything with a ``/``, or starting with ``.`` or ``~``).

    A bare name is an id. A folder of the same name in the current directory is used only when
    no environment has that id; when both exist and the folder is a package, the name is
    ambiguous and refused (write ``./NAME`` for the folder, ``twinbench/NAME`` for the id), so
    a folder named like a bundled environment (e.g. an ``--out`` directory) never replaces it.

    Raises:
        SimEnvError: an unknown id (with the valid ones and a near match), an ambiguous
            name, or a path that is not a package directory.
    """
    text = str(name_or_path)
    if text.startswith(f"{GYM_NAMESPACE}/"):
        return _by_id(text.removeprefix(f"{GYM_NAMESPACE}/"))
    path = Path(text).expanduser()
    if os.sep in text or "/" in text or text.startswith((".", "~")) or path.is_absolute():
        return _package_dir(path)
    entries = {e.id: e.path for e in list_envs()}
    if text in entries:
        if (path / ENV_FILE).is_file() and path.resolve() != entries[text]:
            raise SimEnvError(
                f"{text!r} is both an environment id ({entries[text]}) and a package folder "
                f"here ({path.resolve()}): write ./{text} for the folder or "
                f"{GYM_NAMESPACE}/{text} for the id"
            )
        return entries[text]
    if path.is_dir():
        return _package_dir(path)
    raise SimEnvError(unknown_name_message("environment", text, list(entries)))


def _by_id(name: str) -> Path:
    entries = {e.id: e.path for e in list_envs()}
    if name not in entries:
        raise SimEnvError(unknown_name_message("environment", name, list(entries)))
    return entries[name]


def _package_dir(path: Path) -> Path:
    if not path.exists():
        raise SimEnvError("no such environment package directory", file=path)
    if not (path / ENV_FILE).is_file():
        raise SimEnvError(f"not an environment package (no {ENV_FILE} in it)", file=path)
    return path


def register_gym_envs() -> None:
    import gymnasium

    for entry in _packages_in(BUNDLED_DIR, bundled=True):
        env_id = f"{GYM_NAMESPACE}/{entry.id}"
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id, entry_point="sim_env.env:TwinEnv", kwargs={"package": str(entry.path)}
            )
