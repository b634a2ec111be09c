"""Extract an uploaded zip without trusting it: no path may leave the target directory, no
links or device files, and bounded file count and size (checked again while writing, since a
zip's declared sizes can lie). Nothing in the archive is executed or unpickled."""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from dashboard.errors import DashboardError

_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """The most an upload may unpack to."""

    max_total_bytes: int = 2 << 30  # uncompressed [bytes]
    max_files: int = 2000


DEFAULT_LIMITS = ZipLimits()


def member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The member's path relative to the target, or an error if it could escape it.

    Raises:
        DashboardError: an absolute path, a drive letter, ``..``, a NUL byte, or a link or
            special file.
    """
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or "\x00" in name:
        raise DashboardError(f"member name {name!r} is empty or holds a NUL byte")
    if path.is_absolute() or _DRIVE.match(name):
        raise DashboardError(f"member {name!r} has an absolute path")
    if ".." in path.parts:
        raise DashboardError(f"member {name!r} climbs out of the archive with '..'")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded no type
    if kind == stat.S_IFLNK:
        raise DashboardError(f"member {name!r} is a symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise DashboardError(f"member {name!r} is not a regular file or directory")
    return path


def extract_zip(source: Path | BinaryIO, target: Path, limits: ZipLimits = DEFAULT_LIMITS) -> Path:
    """Unpack ``source`` into the new directory ``target``; on any refusal nothing is left.

    Raises:
        DashboardError: not a zip, an unsafe member (see :func:`member_path`), a duplicate
            name, too many files or too many bytes.
    """
    if target.exists():
        raise DashboardError("extraction target already exists", file=target)
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            _check_members(members, limits)
            target.mkdir(parents=True)
            written = 0
            for info in members:
                written = _extract_member(archive, info, target, written, limits)
    except DashboardError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise DashboardError(f"not a readable zip archive ({exc})") from exc
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise DashboardError(f"cannot unpack the archive ({exc})", file=target) from exc
    return target


def _check_members(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse before writing anything: unsafe names, duplicates, declared counts and sizes."""
    if len(members) > limits.max_files:
        raise DashboardError(f"{len(members)} members; at most {limits.max_files} are accepted")
    seen: set[PurePosixPath] = set()
    for info in members:
        path = member_path(info)
        if path in seen:
            raise DashboardError(f"member {info.filename!r} appears twice")
        seen.add(path)
    declared = sum(info.file_size for info in members)
    if declared > limits.max_total_bytes:
        raise DashboardError(
            f"unpacks to {declared} bytes; at most {limits.max_total_bytes} are accepted"
        )


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int, limits: ZipLimits
) -> int:
    """Write one member, counting real bytes against the limits; returns the new total."""
    destination = target.joinpath(*member_path(info).parts)
    if not destination.resolve().is_relative_to(target.resolve()):
        raise DashboardError(f"member {info.filename!r} resolves outside the target")
    if info.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        return written
    destination.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as src, open(destination, "xb") as dst:
        while block := src.read(_CHUNK):
            written += len(block)
            if written > limits.max_total_bytes:
                raise DashboardError(
                    f"unpacks to more than {limits.max_total_bytes} bytes (the sizes it declares are false)"
                )
            dst.write(block)
    return written
