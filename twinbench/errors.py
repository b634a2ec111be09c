"""The root of every user-facing error; each package derives its own type from it.

The CLI prints a ``TwinbenchError`` as one line and exits with status 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterator
from pathlib import Path

# A write that failed for want of space: no space left, over a quota, over a file-size limit.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class TwinbenchError(Exception):
    """Bad input or an unmet precondition, described for the person who caused it.

    Args:
        message: what is wrong and, where it helps, what was expected.
        file: the file (or directory) the problem is in.
        field: the dotted field inside that file, e.g. ``objects[1].mass``.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.message = _one_line(message)
        self.file = None if file is None else str(file)
        self.field = None if field is None else _one_line(field)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.field) if part)
        return f"{where}: {self.message}" if where else self.message


class DiskFullError(TwinbenchError):
    """A write failed because its filesystem is full: which file, what is left, what to do."""

    def __init__(self, file: str | Path, reason: OSError):
        file = reason.filename or file  # the file the write was for, where the OS says
        left = _free(Path(file))
        super().__init__(
            f"disk full ({reason.strerror}; {left} left on its filesystem): free space there "
            "(old runs, their videos/) and run the same command again; what finished is kept",
            file=file,
        )


@contextlib.contextmanager
def disk_full_is_an_error(file: str | Path) -> Iterator[None]:
    """Turn an out-of-space ``OSError`` inside the block into a :class:`DiskFullError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise DiskFullError(file, exc) from exc
        raise


def _free(path: Path) -> str:
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            return f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB"
    return "unknown space"


def _one_line(text: str) -> str:
    """``text`` on one line: a message quoting user input (a YAML key, a parser's own error)
    may hold line breaks, and an error is printed as one line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
