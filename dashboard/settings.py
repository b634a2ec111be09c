"""Where the dashboard's data lives, read once at the boundary (the ``twinbench dashboard``
command hands it to the Streamlit process in an environment variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evaluate.store import StoreLocation, files_dir, store_exists, store_location

STORE_ENV_VAR = "TWINBENCH_DASHBOARD_STORE"
DEFAULT_STORE = Path("twinbench-results") / "results.sqlite"
SUBMISSIONS_DIR = "submissions"


@dataclass(frozen=True)
class DashboardSettings:
    """The results store every page reads (a file, or a PostgreSQL URL whose str() has no
    password); uploads go next to it."""

    store_path: StoreLocation

    @property
    def store_dir(self) -> Path:
        """Relative video paths and submissions are resolved against this directory: the
        store file's, or ``./twinbench-results`` for a PostgreSQL store."""
        return files_dir(self.store_path)

    @property
    def has_store(self) -> bool:
        """Whether there may be a store to read (a file is there, or a server is named)."""
        return store_exists(self.store_path)

    @property
    def submissions_dir(self) -> Path:
        return self.store_dir / SUBMISSIONS_DIR

    @classmethod
    def from_env(cls) -> DashboardSettings:
        """The store named by ``TWINBENCH_DASHBOARD_STORE`` (a path or a ``postgresql://``
        URL), else ``./twinbench-results/results.sqlite``."""
        location = store_location(os.environ.get(STORE_ENV_VAR) or str(DEFAULT_STORE))
        return cls(location.absolute() if isinstance(location, Path) else location)
