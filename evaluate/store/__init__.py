"""The results store: runs, episodes and the job queue in one SQLite file or PostgreSQL
database (see STORE.md)."""

from evaluate.store.location import (
    PostgresURL,
    StoreLocation,
    files_dir,
    store_exists,
    store_location,
)
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
    "PostgresURL",
    "ResultsStore",
    "RunRecord",
    "StoreLocation",
    "files_dir",
    "store_exists",
    "store_location",
]
