"""Turn what the Submit page receives into a policy spec a worker can run.

An openpi address is checked by the openpi client's own spec parser; an uploaded bundle is
unpacked safely into the submissions folder next to the store, and its ``policy.yaml`` is
checked with the bundle loader's parser, without importing its code or reading its weights.
Its code is someone else's: the spec names it ``sandboxed:``, so a worker runs it only in the
sandbox (no network, memory and time limits, evaluate/BUNDLE.md), never in its own process.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from dashboard.errors import DashboardError
from dashboard.safezip import DEFAULT_LIMITS, ZipLimits, extract_zip
from evaluate.bundle import CONFIG_FILE, PICKLE_SUFFIXES, read_config
from evaluate.errors import EvaluateError
from evaluate.policies import untrusted_spec
from evaluate.policies.openpi import OpenpiConfig


def openpi_spec(address: str) -> str:
    """``openpi://HOST:PORT[?...]`` from what was typed (``HOST:PORT`` gets the scheme added).

    Raises:
        DashboardError: not an openpi address (the parser's message says what was expected).
    """
    text = address.strip()
    spec = text if text.startswith("openpi://") else f"openpi://{text}"
    try:
        OpenpiConfig.from_spec(spec)
    except EvaluateError as exc:
        raise DashboardError(exc.message, field="policy address") from exc
    return spec


def bundle_spec(
    name: str, data: BinaryIO, submissions_dir: Path, limits: ZipLimits = DEFAULT_LIMITS
) -> str:
    """Unpack an uploaded bundle zip and return ``sandboxed:ABSOLUTE_PATH`` to its directory.

    The bundle is the archive's top level, or its single top-level folder. Nothing is kept
    if it is refused.

    Raises:
        DashboardError: an unsafe or oversize zip, no policy.yaml, an invalid policy.yaml, or
            pickle-based weight files.
    """
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_") or "bundle"
    target = submissions_dir / f"{stem}-{uuid.uuid4().hex[:8]}"
    try:
        extract_zip(data, target, limits)
    except DashboardError as exc:
        raise DashboardError(exc.message, file=name, field=exc.field) from exc
    try:
        root = _bundle_root(target, name)
        _check_bundle(root, name)
    except DashboardError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return untrusted_spec(f"bundle:{root.resolve()}")


def _bundle_root(target: Path, name: str) -> Path:
    if (target / CONFIG_FILE).is_file():
        return target
    children = list(target.iterdir())
    if len(children) == 1 and (children[0] / CONFIG_FILE).is_file():
        return children[0]
    raise DashboardError(
        f"no {CONFIG_FILE} at the top of the archive or of its single folder", file=name
    )


def _check_bundle(root: Path, name: str) -> None:
    try:
        read_config(root)
    except EvaluateError as exc:
        raise DashboardError(exc.message, file=f"{name}: {CONFIG_FILE}", field=exc.field) from exc
    pickles = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise DashboardError(
            f"refusing pickle-based file(s) {pickles}; bundles carry weights as *.safetensors",
            file=name,
        )
