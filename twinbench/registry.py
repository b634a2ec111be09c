"""Named registries for extension points, with errors that list choices and suggest near matches."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from twinbench.errors import TwinbenchError

T = TypeVar("T")


def unknown_name_message(kind: str, name: str, choices: list[str]) -> str:
    """'unknown criterion 'lfit'; did you mean 'lift'? (valid: ...)'."""
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (valid: {', '.join(sorted(choices)) or 'none'})"


class Registry(Generic[T]):
    """A name -> entry mapping for one extension point (criteria, policy schemes, environments)."""

    def __init__(self, kind: str, error: type[TwinbenchError] = TwinbenchError):
        self.kind = kind
        self._error = error
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str) -> Callable[[T], T]:
        return lambda entry: self.register(name, entry)

    def get(self, name: str, *, file: str | None = None, field: str | None = None) -> T:
        try:
            return self._entries[name]
        except KeyError:
            message = unknown_name_message(self.kind, name, list(self._entries))
            raise self._error(message, file=file, field=field) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
