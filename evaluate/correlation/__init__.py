"""Sim–real correlation: load both sides, compare per env and pooled, bootstrap intervals."""

from evaluate.correlation.analysis import (
    POOLED,
    Agreement,
    CorrelationReport,
    PolicyPoint,
    correlate,
)
from evaluate.correlation.bootstrap import BootstrapConfig
from evaluate.correlation.inputs import load_tables, read_outcomes_csv
from evaluate.correlation.tables import QUANTITIES, Cell, Quantity, RateTable

__all__ = [
    "POOLED",
    "QUANTITIES",
    "Agreement",
    "BootstrapConfig",
    "Cell",
    "CorrelationReport",
    "PolicyPoint",
    "Quantity",
    "RateTable",
    "correlate",
    "load_tables",
    "read_outcomes_csv",
]
