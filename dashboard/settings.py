"""Where the dashboard's data lives, read once at the boundary (the ``twinbench dashboard``
command hands it to the Streamlit process in an environment variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STORE_ENV_VAR = "TWINBENCH_DASHBOARD_STORE"
DEFAULT_STORE = Path("twinbench-results") / "results.sqlite"
SUBMISSIONS_DIR = "submissions"


@dataclass(frozen=True)
class DashboardSettings:
    """The results store every page reads; uploads go next to it."""

    store_path: Path

    @property
    def store_dir(self) -> Path:
        """Relative video paths and submissions are resolved against this directory."""
        return self.store_path.parent

    @property
    def submissions_dir(self) -> Path:
        return self.store_dir / SUBMISSIONS_DIR

    @classmethod
    def from_env(cls) -> DashboardSettings:
        """The store named by ``TWINBENCH_DASHBOARD_STORE``, else ``./twinbench-results/results.sqlite``."""
        return cls(Path(os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE).absolute())
