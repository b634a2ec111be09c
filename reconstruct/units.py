"""The world's length unit: metres when the scale is known, else the scene's own size.

With a marker or a measured distance the align stage puts the world in metres; with
``--scale 1`` it keeps SfM units, whose size is arbitrary (a table may span 0.003 or 8000
units). The mesh and objects stages' settings are lengths in metres tuned for a tabletop; in
SfM units they are applied to a scene taken to span ``NOMINAL_TABLE_EXTENT`` metres of table,
so every stage works the same at any scale (and a scene scaled by 1000 gives the same
reconstruction scaled by 1000). The align stage measures that table and records the units
per metre with the robot base it placed (``robot_base.units_per_metre``); every later stage
takes them from there (``Units.from_align``), so the robot, the mesh, the objects and the
package's sizes all agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

NOMINAL_TABLE_EXTENT = 1.0  # metres: the table region an unscaled scan is taken to span

Config = TypeVar("Config")


@dataclass(frozen=True)
class Units:
    """World units per metre (1 when the world is metric) and whether that is measured."""

    per_metre: float = 1.0
    metric: bool = True

    def __post_init__(self) -> None:
        if not self.per_metre > 0:
            raise ValueError(f"per_metre must be positive, got {self.per_metre}")

    @classmethod
    def from_table(cls, extent: float) -> Units:
        """Units of a scene without metric scale whose table region spans ``extent`` (world)."""
        return cls(extent / NOMINAL_TABLE_EXTENT, metric=False)

    @classmethod
    def from_summary(cls, record: Any) -> Units:
        """The ``units`` record a stage wrote to its summary; metres when there is none."""
        if not isinstance(record, dict):
            return cls()
        return cls(float(record.get("per_metre", 1.0)), bool(record.get("metric", True)))

    @classmethod
    def from_align(cls, summary: dict[str, Any] | None) -> Units | None:
        """The units the align stage chose (its ``units`` record, else ``robot_base``'s
        ``units_per_metre``, which it also placed the robot with); None when its summary
        gives neither (an older run)."""
        summary = summary or {}
        if isinstance(summary.get("units"), dict):
            return cls.from_summary(summary["units"])
        base = summary.get("robot_base")
        if isinstance(base, dict) and "units_per_metre" in base:
            return cls(float(base["units_per_metre"]), metric_world(summary))
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"per_metre": self.per_metre, "metric": self.metric}


def in_units(config: Config, lengths: tuple[str, ...], per_metre: float) -> Config:
    """A copy of the frozen dataclass ``config`` with its ``lengths`` fields (metres) in world
    units."""
    if per_metre == 1.0:
        return config
    changes = {name: getattr(config, name) * per_metre for name in lengths}
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


def metric_world(align_summary: dict[str, Any] | None) -> bool:
    """Whether the align stage's world is in metres: a marker, a measured distance or a given
    scale other than 1 (``--scale 1`` keeps SfM units)."""
    if not align_summary:
        return True
    if isinstance(align_summary.get("metric"), bool):
        return align_summary["metric"]
    return not (align_summary.get("scale_source") == "given" and align_summary.get("scale") == 1.0)
