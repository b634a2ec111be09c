"""The Environments page's data: which packages to show, and a preview image per camera.

Packages come from ``sim_env.list_envs()`` plus any the store's episodes name that resolve
on this machine. Previews are the package's own ``previews/*.png`` when it ships them, else a
render of initial condition 0, cached per package content hash (a render costs seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from dashboard import data
from dashboard.errors import DashboardError
from dashboard.settings import DashboardSettings
from evaluate.errors import EvaluateError
from evaluate.store import ResultsStore
from sim_env import ImageSize, list_envs, resolve_env
from sim_env.package import EnvPackage, load_spec_checked
from twinbench.errors import TwinbenchError

PREVIEW_DIR = "previews"
PREVIEW_SIZE = ImageSize(320, 180)


@dataclass(frozen=True)
class GalleryEntry:
    """One environment id: where it was found, its package or why it could not be loaded."""

    env_id: str
    origin: str  # "bundled", "user" or "store" (only named by the store's episodes)
    path: Path | None
    package: EnvPackage | None
    error: str | None
    store_hashes: tuple[str, ...]  # env_hash of the store's episodes on this id

    @property
    def stale_hashes(self) -> tuple[str, ...]:
        """Hashes the store ran on that differ from the package found here."""
        if self.package is None:
            return ()
        return tuple(h for h in self.store_hashes if h != self.package.content_hash)


def store_envs(settings: DashboardSettings) -> dict[str, tuple[str, ...]]:
    """The store's env ids and their package hashes, if there is a readable store (the gallery
    does not need one: it says why it shows registered packages only)."""
    if not settings.has_store:
        return {}
    try:
        with ResultsStore.open(settings.store_path, read_only=True) as store:
            return data.env_ids_in_store(store)
    except EvaluateError as exc:
        st.warning(f"Cannot read the results store, showing registered packages only: {exc}")
        return {}


def gallery_entries(store_envs: Mapping[str, tuple[str, ...]]) -> list[GalleryEntry]:
    """Registered packages first, then the store's other env ids (resolved, or with the error)."""
    entries = []
    listed = list_envs()
    for entry in listed:
        origin = "bundled" if entry.bundled else "user"
        entries.append(_entry(entry.id, origin, entry.path, store_envs.get(entry.id, ())))
    known = {entry.id for entry in listed}
    for env_id, hashes in sorted(store_envs.items()):
        if env_id in known:
            continue
        try:
            path = resolve_env(env_id)
        except TwinbenchError as exc:
            entries.append(GalleryEntry(env_id, "store", None, None, str(exc), hashes))
            continue
        entries.append(_entry(env_id, "store", path, hashes))
    return entries


def _entry(env_id: str, origin: str, path: Path, hashes: tuple[str, ...]) -> GalleryEntry:
    try:
        package = load_spec_checked(path)
    except TwinbenchError as exc:
        return GalleryEntry(env_id, origin, path, None, str(exc), hashes)
    return GalleryEntry(env_id, origin, path, package, None, hashes)


def preview_files(root: Path) -> list[Path]:
    """The PNGs a package ships in ``previews/``, by name."""
    return sorted((root / PREVIEW_DIR).glob("*.png"))


def read_picture(path: Path) -> np.ndarray:
    """[H, W, 3] uint8 of a picture a package ships: previews are not validated with the
    package, so one that does not decode is an error naming it (not a page's traceback)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DashboardError(f"not a readable image: {exc}", file=path) from None


@st.cache_data(show_spinner="Rendering camera previews…", max_entries=64)
def rendered_previews(content_hash: str, _root: str) -> dict[str, np.ndarray]:
    """Camera name -> ``[H, W, 3]`` uint8 render of initial condition 0.

    Cached by ``content_hash`` alone: the same content renders the same wherever it lives.
    """
    from sim_env.env import EnvConfig, TwinEnv

    env = TwinEnv(Path(_root), EnvConfig(image_size=PREVIEW_SIZE))
    try:
        env.reset(options={"initial_condition": 0})
        return env.images()
    finally:
        env.close()
