"""Shared test set-up: offline robot models, headless rendering."""

from __future__ import annotations

import os
from pathlib import Path

_SHARED_MENAGERIE = Path(__file__).resolve().parents[2] / "shared" / "assets" / "menagerie"
if "MENAGERIE_ROOT" not in os.environ and _SHARED_MENAGERIE.is_dir():
    os.environ["MENAGERIE_ROOT"] = str(_SHARED_MENAGERIE)
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
