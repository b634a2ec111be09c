"""Versioned JSON documents: the correlation report (``report.json``) here, and the base that
``studies`` builds the fidelity summary on.

A document is a frozen pydantic model with a ``schema_version``; it is written and read
through its model, so readers get objects, not dictionaries to pick apart. Reading a
document of another version, or one that does not match its model, is one
:class:`EvaluateError` naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluate.correlation import POOLED, Agreement, BootstrapConfig, Quantity, RateTable
from evaluate.errors import EvaluateError

Interval = tuple[float, float]  # (low, high)


class Model(BaseModel):
    """A part of a document: frozen, no fields beyond the declared ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(Model):
    """A whole document. Subclasses pin ``schema_version`` to ``Literal[VERSION]`` and name
    themselves in ``KIND`` (for error messages)."""

    VERSION: ClassVar[int]
    KIND: ClassVar[str]
    schema_version: int

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read and validate ``path``.

        Raises:
            EvaluateError: unreadable JSON, another ``schema_version``, or a field that does
                not match the model (the first such field is named).
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EvaluateError(f"not readable JSON ({exc})", file=path) from exc
        if not isinstance(data, Mapping):
            raise EvaluateError(f"not a {cls.KIND}: expected a JSON object", file=path)
        version = data.get("schema_version")
        if version != cls.VERSION:
            raise EvaluateError(_version_problem(cls, version), file=path, field="schema_version")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            field, message = _first_problem(exc)
            raise EvaluateError(f"{message} (in a {cls.KIND})", file=path, field=field) from None

    def write(self, path: Path) -> Path:
        """Write the document as indented JSON; return ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path


def _version_problem(cls: type[Document], version: object) -> str:
    reads = f"this twinbench reads {cls.KIND} version {cls.VERSION}"
    if version is None:
        return f"missing: this {cls.KIND} predates versioned documents; {reads}"
    newer = isinstance(version, int) and version > cls.VERSION
    hint = "upgrade twinbench to read it" if newer else "rewrite it with this twinbench"
    return f"unsupported version {version!r}; {reads} ({hint})"


def _first_problem(exc: ValidationError) -> tuple[str, str]:
    """(dotted field, message) of the first validation error, counting the others."""
    errors = exc.errors()
    first = errors[0]
    field = ""
    for part in first["loc"]:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return field or "(document)", f"{first['msg']}{more}"


# Parts shared with the fidelity summary


class Intervals(Model):
    """Bootstrap percentile intervals of the four agreement metrics."""

    level: float
    n_resamples: int
    pearson: Interval
    mmrv: Interval
    spearman: Interval
    kendall: Interval


class Metrics(Model):
    """The agreement of one scope: the four metrics, the policy count, their intervals (None
    when neither side had episodes to resample)."""

    pearson: float
    mmrv: float
    spearman: float
    kendall: float
    n_policies: int
    ci: Intervals | None

    @classmethod
    def of(cls, agreement: Agreement) -> Metrics:
        return cls.model_validate(agreement.summary())


class Bootstrap(Model):
    n_resamples: int
    level: float
    seed: int

    @classmethod
    def of(cls, config: BootstrapConfig) -> Bootstrap:
        return cls(n_resamples=config.n_resamples, level=config.level, seed=config.seed)


# The correlation report


class ReportSide(Model):
    """One side of a comparison.

    Attributes:
        source: where its outcomes came from (a file, or a store and run).
        label: what to call the side (``source world``; a world's description).
        excluded: failure kind -> episodes left out of its rates (diverged, error).
    """

    source: str
    label: str
    excluded: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(
        cls,
        source: str,
        tables: Mapping[Quantity, RateTable] | None = None,
        label: str | None = None,
    ) -> ReportSide:
        """A side read from ``source`` into ``tables`` (for the counts of episodes left out);
        ``label`` defaults to the file's name in words."""
        success = (tables or {}).get("success")
        excluded = success.excluded_counts() if success is not None else {}
        return cls(source=source, label=label or file_label(source), excluded=excluded)


def file_label(source: str) -> str:
    """A file's name in words: ``runs/source_world.csv`` -> ``source world``."""
    stem = Path(source).stem if source else ""
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or "real"


class PolicyResult(Model):
    """One policy in one scope: both rates with intervals, both ranks, its MMRV term."""

    policy: str
    sim: float
    real: float
    sim_ci: Interval | None
    real_ci: Interval | None
    sim_rank: float
    real_rank: float
    max_rank_violation: float
    flagged: bool  # its sim and real ranks differ


class ScopeResult(Metrics):
    """One environment's (or the pool's) agreement, its plot and its policies."""

    plot: str  # the scatter PNG, next to report.json
    flagged: list[str]
    policies: list[PolicyResult]


class QuantityResult(Model):
    per_env: dict[str, ScopeResult]
    pooled: ScopeResult | None
    notes: list[str]

    def scopes(self) -> list[tuple[str, ScopeResult]]:
        """(scope, result), pooled first."""
        pooled = [(POOLED, self.pooled)] if self.pooled is not None else []
        return [*pooled, *self.per_env.items()]


class ReportSides(Model):
    sim: ReportSide
    real: ReportSide


class CorrelationReportDocument(Document):
    """``report.json``: what ``twinbench correlate`` (and the demo, and fidelity) compared,
    and the agreement per quantity, environment and policy."""

    VERSION: ClassVar[int] = 1
    KIND: ClassVar[str] = "correlation report"
    schema_version: Literal[1] = 1
    twinbench_version: str
    inputs: ReportSides
    primary: Quantity
    bootstrap: Bootstrap
    results: dict[Quantity, QuantityResult]
