"""The results store: runs, episodes and the job queue in one SQLite file (see STORE.md)."""

from evaluate.store.records import (
    EXCLUDED_KINDS,
    FAILURE_KINDS,
    JOB_STATES,
    EpisodeKey,
    EpisodeOutcome,
    EpisodeRecord,
    FailureKind,
    JobRecord,
    JobState,
    RunRecord,
)
from evaluate.store.results_store import ResultsStore
from evaluate.store.schema import SCHEMA_VERSION

__all__ = [
    "EXCLUDED_KINDS",
    "FAILURE_KINDS",
    "JOB_STATES",
    "SCHEMA_VERSION",
    "EpisodeKey",
    "EpisodeOutcome",
    "EpisodeRecord",
    "FailureKind",
    "JobRecord",
    "JobState",
    "ResultsStore",
    "RunRecord",
]
