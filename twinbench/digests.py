"""SHA-256 digests of files, folders and strings: how twinbench knows content, not paths.

A stage's cache key, a photo set and a policy bundle are all recognised by what they hold, so a
folder moved or copied is the same, and one edited in place is not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path, *, exclude: frozenset[str] = frozenset()) -> str:
    """SHA-256 over every file under ``root`` (relative path and content), in sorted order;
    ``exclude`` names relative paths left out."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in exclude:
            continue
        digest.update(rel.encode())
        digest.update(file_digest(path).encode())
    return digest.hexdigest()


def text_digest(*parts: str) -> str:
    """SHA-256 of several strings, each length-prefixed so boundaries cannot shift."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()
