"""The results store: runs, episodes and the job queue in one SQLite file (see STORE.md)."""

from evaluate.store.records import (
    JOB_STATES,
    EpisodeKey,
    EpisodeRecord,
    JobRecord,
    JobState,
    RunRecord,
)
from evaluate.store.results_store import ResultsStore
from evaluate.store.schema import SCHEMA_VERSION

__all__ = [
    "JOB_STATES",
    "SCHEMA_VERSION",
    "EpisodeKey",
    "EpisodeRecord",
    "JobRecord",
    "JobState",
    "ResultsStore",
    "RunRecord",
]
