"""evaluate: policies, rollouts, the results store and sim-real correlation."""

from evaluate.correlation import BootstrapConfig, CorrelationReport, correlate, load_tables
from evaluate.errors import EvaluateError
from evaluate.metrics import CORRELATION_METRICS, kendall, mmrv, pearson, spearman, wilson_interval
from evaluate.policies import make_policy, policy_schemes, register_policy_scheme
from evaluate.policy import (
    ActionChunk,
    ActionSpace,
    ChunkBroker,
    Observation,
    Policy,
    PolicyError,
    PolicyMetadata,
)
from evaluate.sandbox import SandboxConfig, SandboxedPolicy  # registers sandboxed:PATH
from evaluate.store import (
    SCHEMA_VERSION,
    EpisodeKey,
    EpisodeOutcome,
    EpisodeRecord,
    JobRecord,
    JobState,
    ResultsStore,
    RunRecord,
)

__all__ = [
    "CORRELATION_METRICS",
    "SCHEMA_VERSION",
    "ActionChunk",
    "ActionSpace",
    "BootstrapConfig",
    "ChunkBroker",
    "CorrelationReport",
    "EpisodeKey",
    "EpisodeOutcome",
    "EpisodeRecord",
    "EvaluateError",
    "JobRecord",
    "JobState",
    "Observation",
    "Policy",
    "PolicyError",
    "PolicyMetadata",
    "ResultsStore",
    "RunRecord",
    "SandboxConfig",
    "SandboxedPolicy",
    "correlate",
    "kendall",
    "load_tables",
    "make_policy",
    "mmrv",
    "pearson",
    "policy_schemes",
    "register_policy_scheme",
    "spearman",
    "wilson_interval",
]
