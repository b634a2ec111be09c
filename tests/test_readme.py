"""The README's Python examples run as written (issue 18: a user copies them first)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_python_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_a_readme_example_runs_as_written(code: str) -> None:
    namespace: dict[str, object] = {}
    exec(compile(code, f"{README.name} example", "exec"), namespace)
    env = namespace.get("env")
    if env is not None:
        env.close()
