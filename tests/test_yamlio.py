"""twinbench.yamlio refuses what our YAML formats never need, naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbench.errors import TwinbenchError
from twinbench.yamlio import load_yaml


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nname: b\n", "line 2, column 1: key 'name' appears twice (first on line 1)"),
        ("x:\n  - {k: 1, k: 2}\n", "key 'k' appears twice"),
        ("name: !!binary aGVsbG8=\n", "YAML tags (tag:yaml.org,2002:binary) are not allowed"),
        ("when: !!timestamp 2026-01-01\n", "YAML tags"),
        ("n: !!str 5\n", "YAML tags"),
        ("a: &x 1\nb: *x\n", "anchors"),
    ],
)
def test_refused_with_file_and_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "env.yaml"
    path.write_text(text)
    with pytest.raises(TwinbenchError, match="not valid YAML") as refused:
        load_yaml(path)
    assert message in str(refused.value) and str(path) in str(refused.value)


def test_plain_json_types_load(tmp_path: Path):
    path = tmp_path / "env.yaml"
    path.write_text("a: 'q'\nb: [1, 2.5, true, null]\nc: {d: x, e: 1}\n'1': one\n1: int\n")
    assert load_yaml(path) == {"a": "q", "b": [1, 2.5, True, None], "c": {"d": "x", "e": 1}, "1": "one", 1: "int"}  # fmt: skip
