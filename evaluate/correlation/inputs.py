"""Read one side of a comparison: a run directory, a results store, or a CSV of outcomes.

A CSV has ``policy`` and ``env`` columns and one of three shapes, told apart by its columns:
``success_rate`` (one row per cell), ``successes,trials`` (one row per cell) or ``success``
(one row per episode, 0/1 or true/false). An optional ``progress`` column is a per-episode
progress in the last shape and a cell's mean progress in the others. A per-episode CSV may
have a ``failure_kind`` column (empty or one of the store's failure kinds): its diverged and
errored episodes are left out of the rates and counted, as a store's are. A CSV with both
``success_rate`` and ``successes,trials`` uses the counts, and each line's rate must agree
with them. Every line holds exactly the header's cells. Every problem is reported with the
file, the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from evaluate.correlation.tables import Cell, Quantity, RateTable, tables_from_episodes
from evaluate.errors import EvaluateError
from evaluate.store import FAILURE_KINDS, PostgresURL, ResultsStore
from evaluate.store.records import KEY_COLUMNS

STORE_FILENAME = "results.sqlite"
CSV_SHAPES = (
    "policy,env,success_rate | policy,env,successes,trials | "
    "policy,env,success[,progress][,failure_kind]"
)
RATE_TOLERANCE = 0.005
"""How far a success_rate may be from successes/trials on the same line."""
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


def load_tables(
    path: Path | PostgresURL, *, run_ids: Sequence[str] = ()
) -> dict[Quantity, RateTable]:
    """Load a run directory (holding ``results.sqlite``), a ``.sqlite`` store, a PostgreSQL
    store or a CSV.

    Args:
        path: where the outcomes are.
        run_ids: with a store, use only these runs' episodes (default: all of them).
    """
    if isinstance(path, PostgresURL):
        return _from_store(path, run_ids)
    if path.is_dir():
        store = path / STORE_FILENAME
        if not store.exists():
            raise EvaluateError(
                f"a run directory must hold {STORE_FILENAME}; none found", file=path
            )
        return _from_store(store, run_ids)
    if not path.is_file():
        raise EvaluateError("no such file or directory", file=path)
    if path.suffix.lower() in (".sqlite", ".sqlite3", ".db"):
        return _from_store(path, run_ids)
    if path.suffix.lower() == ".csv":
        if run_ids:
            raise EvaluateError("--run applies to a results store, not to a CSV", file=path)
        return read_outcomes_csv(path)
    raise EvaluateError(
        "expected a run directory, a .sqlite results store or a .csv file", file=path
    )


def read_store_episodes(path: Path | PostgresURL, run_ids: Sequence[str] = ()) -> pd.DataFrame:
    """A store's episodes (these runs', or all), opened read-only; none is an error naming it."""
    with ResultsStore.open(path, read_only=True) as store:
        for run_id in run_ids:
            store.run(run_id)  # raises, naming the run, if it is not there
        frames = [store.episodes(run_id=run_id) for run_id in dict.fromkeys(run_ids)]
        frame = pd.concat(frames, ignore_index=True) if frames else store.episodes()
    if frame.empty:
        runs = ", ".join(repr(r) for r in run_ids)
        raise EvaluateError(
            "the results store holds no episodes" + (f" for run {runs}" if runs else ""),
            file=path,
        )
    return frame


def _from_store(path: Path | PostgresURL, run_ids: Sequence[str]) -> dict[Quantity, RateTable]:
    frame = read_store_episodes(path, run_ids)
    # Key order, not the order parallel workers recorded episodes in: the bootstrap then
    # resamples the same episodes, and prints the same intervals, for the same results.
    frame = frame.sort_values(["run_id", *KEY_COLUMNS], kind="stable")
    frame = frame.rename(columns={"policy_id": "policy", "env_id": "env"})
    frame["success"] = frame["success"].astype(float)
    columns = ["policy", "env", "success", "progress", "failure_kind"]
    return tables_from_episodes(frame[columns], str(path))


def read_outcomes_csv(path: Path) -> dict[Quantity, RateTable]:
    """Parse and validate an outcomes CSV in any of the three shapes (see module docstring)."""
    rows = CsvRows.read(path)
    columns = set(rows.header)
    missing = {"policy", "env"} - columns
    if missing or not columns & {"success_rate", "successes", "success"}:
        need = (
            ", ".join(sorted(missing)) if missing else "success_rate, successes,trials or success"
        )
        raise EvaluateError(
            f"missing column(s) {need}; found {', '.join(rows.header)}; expected one of: {CSV_SHAPES}",
            file=path,
            field="header",
        )
    if "successes" in columns and "trials" not in columns:
        raise EvaluateError(
            f"column successes needs a trials column; expected {CSV_SHAPES}",
            file=path,
            field="header",
        )
    if not rows.lines:
        raise EvaluateError("the CSV has a header but no rows", file=path)
    if "successes" in columns:  # with a success_rate column too, the two must agree
        return _aggregate(rows, rows.counts)
    if "success_rate" in columns:
        return _aggregate(rows, lambda line: Cell(rows.fraction(line, "success_rate")))
    frame = pd.DataFrame(
        {
            "policy": [rows.name(line, "policy") for line in rows.lines],
            "env": [rows.name(line, "env") for line in rows.lines],
            "success": [rows.flag(line, "success") for line in rows.lines],
        }
    )
    if "progress" in columns:
        frame["progress"] = [rows.fraction(line, "progress") for line in rows.lines]
    if "failure_kind" in columns:
        frame["failure_kind"] = [rows.failure_kind(line) for line in rows.lines]
    return tables_from_episodes(frame, str(path))


def _aggregate(rows: CsvRows, success_cell: Callable[[int], Cell]) -> dict[Quantity, RateTable]:
    """One row per (policy, env): success from ``success_cell``, progress from its column."""
    success: dict[tuple[str, str], Cell] = {}
    progress: dict[tuple[str, str], Cell] = {}
    first_line: dict[tuple[str, str], int] = {}
    for line in rows.lines:
        key = (rows.name(line, "policy"), rows.name(line, "env"))
        if key in first_line:
            raise EvaluateError(
                f"duplicate row for policy {key[0]!r} in env {key[1]!r} (first on line {first_line[key]})",
                file=rows.path,
                field=f"line {line}",
            )
        first_line[key] = line
        success[key] = success_cell(line)
        if "progress" in rows.header:
            progress[key] = Cell(rows.fraction(line, "progress"))
    tables: dict[Quantity, RateTable] = {"success": RateTable(str(rows.path), success)}
    if progress:
        tables["progress"] = RateTable(str(rows.path), progress)
    return tables


MAX_COUNT_DIGITS = 15  # counts, trials, initial conditions and seeds


class CsvRows:
    """Typed access to a CSV's cells by file line number, raising with file, line and column."""

    def __init__(self, path: Path, header: list[str], cells: dict[int, dict[str, str]]):
        self.path = path
        self.header = header
        self.cells = cells  # file line number -> column -> text
        self.lines = list(cells)

    @classmethod
    def read(cls, path: Path) -> CsvRows:
        """Every non-blank line after the header, each with exactly the header's cells.

        Raises:
            EvaluateError: not UTF-8 text, not CSV, a repeated column, or a line with too
                few or too many cells (naming the line).
        """
        cells: dict[int, dict[str, str]] = {}
        try:
            with path.open(newline="", encoding="utf-8-sig") as file:
                reader = csv.reader(file, skipinitialspace=True)
                header = [column.strip() for column in next(reader, [])]
                if not header:
                    raise EvaluateError("not a readable CSV (no header line)", file=path)
                repeated = sorted({column for column in header if header.count(column) > 1})
                if repeated:
                    raise EvaluateError(
                        f"column(s) {', '.join(repeated)} appear more than once",
                        file=path,
                        field="header",
                    )
                for row in reader:
                    if not any(cell.strip() for cell in row):
                        continue  # a blank line
                    if len(row) != len(header):
                        raise EvaluateError(
                            f"expected {len(header)} cells, one per header column "
                            f"({', '.join(header)}), got {len(row)}",
                            file=path,
                            field=f"line {reader.line_num}",
                        )
                    cells[reader.line_num] = dict(zip(header, row, strict=True))
        except UnicodeDecodeError as exc:
            raise EvaluateError(f"not a readable CSV (not UTF-8 text: {exc})", file=path) from exc
        except csv.Error as exc:
            raise EvaluateError(
                f"not a readable CSV ({exc})", file=path, field=f"line {reader.line_num}"
            ) from exc
        return cls(path, header, cells)

    def _text(self, line: int, column: str) -> str:
        return self.cells[line][column].strip()

    def _error(self, line: int, column: str, expected: str) -> EvaluateError:
        got = self._text(line, column)
        return EvaluateError(
            f"expected {expected}, got {got!r}",
            file=self.path,
            field=f"line {line}, column {column}",
        )

    def name(self, line: int, column: str) -> str:
        text = self._text(line, column)
        if not text:
            raise self._error(line, column, "a non-empty name")
        return text

    def fraction(self, line: int, column: str) -> float:
        try:
            value = float(self._text(line, column))
        except ValueError:
            raise self._error(line, column, "a number in [0, 1]") from None
        if not 0.0 <= value <= 1.0:
            raise self._error(line, column, "a number in [0, 1]")
        return value

    def flag(self, line: int, column: str) -> float:
        text = self._text(line, column).lower()
        if text in _TRUE or text in _FALSE:
            return float(text in _TRUE)
        raise self._error(line, column, "0/1 or true/false")

    def failure_kind(self, line: int) -> str | None:
        text = self._text(line, "failure_kind")
        if text and text not in FAILURE_KINDS:
            raise self._error(line, "failure_kind", f"empty or one of {', '.join(FAILURE_KINDS)}")
        return text or None

    def count(self, line: int, column: str) -> int:
        text = self._text(line, column)
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses; and a number
        # thousands of digits long is past what int() converts
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_COUNT_DIGITS:
            raise self._error(line, column, "a whole number >= 0")
        return int(text)

    def counts(self, line: int) -> Cell:
        """successes and trials; with a success_rate column as well, the rate must be theirs
        (to within :data:`RATE_TOLERANCE`, a rate written to two decimals)."""
        successes, trials = self.count(line, "successes"), self.count(line, "trials")
        if trials == 0:
            raise self._error(line, "trials", "at least 1 trial")
        if successes > trials:
            raise self._error(line, "successes", f"at most trials ({trials})")
        if "success_rate" in self.cells[line]:
            rate = self.fraction(line, "success_rate")
            if abs(rate - successes / trials) > RATE_TOLERANCE:
                raise EvaluateError(
                    f"success_rate {rate:g} disagrees with successes/trials = {successes}/"
                    f"{trials} = {successes / trials:.3g}; give one of the two, or make them agree",
                    file=self.path,
                    field=f"line {line}",
                )
        return Cell.from_counts(successes, trials)
