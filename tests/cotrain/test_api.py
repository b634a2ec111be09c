"""Every exported name resolves, and importing the CLI stays light."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cotrain.lerobot

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves():
    # Loaded from its file: under the pytest script the editable install may expose ``cotrain``
    # as a namespace package, skipping its __init__.
    spec = importlib.util.spec_from_file_location("_cotrain_api", ROOT / "cotrain/__init__.py")
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    for module in (package, cotrain.lerobot):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_importing_the_cli_loads_no_heavy_module():
    code = (
        "import json, sys, cotrain.cli; "
        "print(json.dumps([m for m in ('mujoco', 'torch', 'pyarrow', 'av') if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
