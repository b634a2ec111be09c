"""The root of every user-facing error; each package derives its own type from it.

The CLI prints a ``TwinbenchError`` as one line and exits with status 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


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


def _one_line(text: str) -> str:
    """``text`` on one line: a message quoting user input (a YAML key, a parser's own error)
    may hold line breaks, and an error is printed as one line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())
