"""Reading the YAML files users hand us (env.yaml, policy.yaml, objects YAML), bounded.

``yaml.safe_load`` runs no code but still expands aliases: a few kilobytes of nested aliases
(a "billion laughs" file) grow to gigabytes. Our formats never need anchors or aliases, so
they are refused, as are files too large to be a config and bytes that are not UTF-8; every
error names the file and, for syntax, the line and column. A key given twice (YAML keeps the
last one silently) and explicit tags (``!!binary`` turns text into bytes that a str field
then accepts) are refused too: our formats are JSON's types written as YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from twinbench.errors import TwinbenchError

MAX_CONFIG_BYTES = 16 * 2**20  # a config file larger than this is not one
MAX_DEPTH = 64  # nesting of lists and mappings; ours need under 10, Python's stack ~1000


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load's loader with anchors and aliases refused where they are parsed, and nesting
    bounded (the composer recurses per level: ``[[[[...]]]]`` would exhaust Python's stack)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in this file", event.start_mark
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors (&name) are not allowed in this file", event.start_mark
            )
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!":  # only explicit tags: plain nodes carry none
            raise yaml.composer.ComposerError(
                None, None, f"YAML tags ({tag}) are not allowed in this file", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key_node.value!r} appears twice (first on line {seen[key]})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, error: type[TwinbenchError] = TwinbenchError) -> Any:
    """The parsed content of ``path``.

    Raises:
        error: the file is missing, larger than MAX_CONFIG_BYTES, not UTF-8, not YAML, or
            uses anchors, aliases, explicit tags or a key twice (``error`` is the caller's
            package error type).
    """
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise error(
                f"{size} bytes: too large for a config file (at most {MAX_CONFIG_BYTES})", file=path
            )
        raw = path.read_bytes()
    except IsADirectoryError:
        raise error("is a directory, expected a YAML file", file=path) from None
    except OSError as exc:
        raise error(f"cannot be read: {exc.strerror or exc}", file=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})", file=path
        ) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=path) from None
