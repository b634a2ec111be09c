"""The one line every benchmark prints per figure: ``{"bench", "case", "metric", "value",
"unit"}`` as JSON, flushed at once so a long run's figures survive it being stopped."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping


def figure(
    bench: str, case: str, metric: str, value: object, unit: str, digits: int | None = 4
) -> dict:
    """The figure as a dict; a number rounded to ``digits`` (None: as given)."""
    if digits is not None:
        value = round(float(value), digits)  # type: ignore[arg-type]
    return {"bench": bench, "case": case, "metric": metric, "value": value, "unit": unit}


def emit(
    bench: str,
    case: str,
    metric: str,
    value: object,
    unit: str,
    digits: int | None = 4,
    **extra: object,
) -> None:
    """Print the figure (and any ``extra`` fields) as one JSON line."""
    print(json.dumps(figure(bench, case, metric, value, unit, digits) | extra), flush=True)


def emit_rows(
    bench: str,
    prefix: str,
    rows: Mapping[str, Mapping[str, object]],
    unit: str | Callable[[str], str],
) -> None:
    """One figure per cell of a table (row name -> metric -> value), case ``prefix/row``;
    ``unit`` is one unit, or the unit of each metric."""
    for row, values in rows.items():
        for metric, value in values.items():
            emit(
                bench,
                f"{prefix}/{row}",
                metric,
                value,
                unit if isinstance(unit, str) else unit(metric),
            )
