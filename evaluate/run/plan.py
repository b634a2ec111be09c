"""What an evaluation run is: its config, its identity in the store, and its episode list.

Episode ``k`` of a (policy, env) cell uses the package's initial condition ``k mod n`` and
seed ``seed + k``, so a run is fully determined by its config. The run id is derived from
the config (and the environments' content hashes), which is what makes re-running the same
command resume: the keys already in the store are skipped. A new run also takes the episodes
that another run of the store recorded with the same settings (another policy list or episode
count), so that adding a policy to a study runs only that policy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.policies import policy_fingerprint, public_spec
from evaluate.rollout import RolloutConfig
from evaluate.store import EpisodeKey, ResultsStore
from sim_env.errors import SimEnvError
from sim_env.images import ImageSize
from sim_env.scene import PhysicsConfig


@dataclass(frozen=True)
class EvalConfig:
    """Everything that decides an evaluation's results (not how it is executed).

    Attributes:
        envs: environment ids or package paths.
        policies: policy specs (``scripted:good``, ``openpi://host:8000``); a spec without
            its secrets (``public_spec``) is the policy's id in the store.
        episodes: episodes per (policy, env).
        seed: episode ``k`` uses seed ``seed + k``.
        image_size: what every camera is rendered at (a (width, height) pair or "WxH" is
            converted); None: each camera's own.
        rollout: open-loop horizon, deadlines, step limit.
        physics: the simulator's settings.
        label: a note stored with the run (e.g. which side of a comparison it is).
    """

    envs: tuple[str, ...]
    policies: tuple[str, ...]
    episodes: int
    seed: int = 0
    image_size: ImageSize | None = None
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "envs", tuple(dict.fromkeys(self.envs)))
        object.__setattr__(self, "policies", tuple(dict.fromkeys(self.policies)))
        if not self.envs:
            raise EvaluateError("name at least one environment", field="envs")
        if not self.policies or not all(self.policies):
            raise EvaluateError("name at least one non-empty policy spec", field="policies")
        if self.episodes < 1:
            raise EvaluateError(f"must be >= 1, got {self.episodes}", field="episodes")
        if self.seed < 0:
            raise EvaluateError(f"must be >= 0, got {self.seed}", field="seed")
        if self.image_size is not None:
            try:
                object.__setattr__(self, "image_size", ImageSize.coerce(self.image_size))
            except SimEnvError as exc:
                raise EvaluateError(exc.message, field="image_size") from None


@dataclass(frozen=True)
class EnvInfo:
    """What planning needs to know of an environment package (read without building it)."""

    env_id: str
    content_hash: str
    initial_conditions: int
    root: Path  # the package directory the id resolved to


@dataclass(frozen=True)
class EpisodeTask:
    """One episode to run (its key's ``policy_id`` is the spec without secrets); ``attempt`` counts
    how often a worker died running it."""

    key: EpisodeKey
    attempt: int = 1


def describe_envs(env_ids: Sequence[str]) -> dict[str, EnvInfo]:
    """Resolve and read each package's spec (cheap: no MuJoCo model is built)."""
    from sim_env.package import load_spec_checked
    from sim_env.registry import resolve_env

    infos = {}
    for env_id in env_ids:
        package = load_spec_checked(resolve_env(env_id))
        infos[env_id] = EnvInfo(
            env_id, package.content_hash, len(package.spec.initial_conditions), package.root
        )
    return infos


def plan_tasks(config: EvalConfig, envs: Mapping[str, EnvInfo]) -> list[EpisodeTask]:
    """Every episode of the run, policy by policy, env by env, in initial-condition order."""
    return [
        EpisodeTask(
            EpisodeKey(
                public_spec(policy),
                env_id,
                envs[env_id].content_hash,
                k % envs[env_id].initial_conditions,
                config.seed + k,
            )
        )
        for policy in config.policies
        for env_id in config.envs
        for k in range(config.episodes)
    ]


def run_config(config: EvalConfig, envs: Mapping[str, EnvInfo]) -> dict[str, object]:
    """The JSON config stored with the run; ``identity`` names the run for resuming."""
    document: dict[str, object] = {
        **asdict(config),
        "policies": [public_spec(spec) for spec in config.policies],
        "env_hashes": {env_id: envs[env_id].content_hash for env_id in config.envs},
    }
    hashes = policy_hashes(config.policies)
    if hashes:  # a run of servers and built-in policies keeps the identity it always had
        document["policy_hashes"] = hashes
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    return {**document, "identity": f"eval-{digest[:12]}"}


def policy_hashes(specs: Sequence[str]) -> dict[str, str]:
    """Policy id -> the digest of its files, for the policies whose files twinbench sees
    (bundles): a bundle retrained in place is another policy under the same id.

    Raises:
        EvaluateError: a spec names a bundle that is not there.
    """
    found = {public_spec(spec): policy_fingerprint(spec) for spec in specs}
    return {policy: digest for policy, digest in found.items() if digest is not None}


def open_run(store: ResultsStore, document: Mapping[str, object], *, resume: bool) -> str:
    """The run to write into: the latest run of the same identity when resuming, else a
    new one. Two processes opening the same new run at once end up sharing it."""
    identity = str(document["identity"])
    if resume:
        same = [run.run_id for run in store.runs() if run.config.get("identity") == identity]
        if same:
            return same[-1]
        try:
            return store.add_run(document, run_id=identity).run_id
        except EvaluateError:
            store.run(identity)  # created meanwhile by a concurrent evaluation: share it
            return identity
    taken = {run.run_id for run in store.runs()}
    number = 2
    while f"{identity}-{number}" in taken:
        number += 1
    try:
        return store.add_run(document, run_id=f"{identity}-{number}").run_id
    except EvaluateError as exc:
        raise EvaluateError(
            f"another evaluation started run {identity}-{number} at the same moment; retry",
            file=store.path,
        ) from exc


def pending_tasks(
    store: ResultsStore, run_id: str, tasks: Sequence[EpisodeTask]
) -> list[EpisodeTask]:
    """The tasks whose keys ``run_id`` has not recorded yet."""
    done = store.completed_keys(run_id)
    return [task for task in tasks if task.key not in done]


# beyond its key (policy, env and its content hash, initial condition, seed), what decides an
# episode's outcome: two runs that agree on these recorded the same episode for the same key
EPISODE_SETTINGS = ("image_size", "rollout", "physics")


def adopt_recorded(
    store: ResultsStore, run_id: str, document: Mapping[str, object], tasks: Sequence[EpisodeTask]
) -> int:
    """Copy into ``run_id`` the episodes of ``tasks`` it lacks that other runs of ``store``
    recorded under the same :data:`EPISODE_SETTINGS` (newest run first; errored episodes are
    not taken). A package is known by its content hash, not its path: an episode recorded
    under another path to the same content (a run directory moved or copied) is taken, under
    this run's env id. A bundle is known by the digest of its files: an episode of a bundle
    since retrained in place is not taken. A run recorded before runs stored the digests is
    trusted for a bundle only while no run of the store recorded another digest for it (one
    that did shows the bundle was retrained, maybe after the undated run too). Returns how
    many were copied."""
    wanted = {_same_episode(task.key): task.key for task in pending_tasks(store, run_id, tasks)}
    settings = _settings(document)
    ours = _policy_hashes(document)
    runs = store.runs()
    retrained = {
        policy
        for run in runs
        for policy, digest in _policy_hashes(run.config).items()
        if policy in ours and digest != ours[policy]
    }
    adopted = 0
    for run in reversed(runs):
        if not wanted:
            break
        if run.run_id == run_id or _settings(run.config) != settings:
            continue
        theirs = _policy_hashes(run.config) if "policy_hashes" in run.config else None
        for record in store.records(run_id=run.run_id):
            key = wanted.get(_same_episode(record.key))
            policy = record.key.policy_id
            if theirs is None:
                same_policy = policy not in retrained
            else:
                same_policy = theirs.get(policy) == ours.get(policy)
            if key is not None and same_policy and record.outcome.failure_kind != "error":
                store.record_episode(replace(record, run_id=run_id, key=key))
                del wanted[_same_episode(key)]
                adopted += 1
    return adopted


def _same_episode(key: EpisodeKey) -> tuple[str, str, int, int]:
    """What makes two keys the same episode: all but the env id (a path may differ)."""
    return key.policy_id, key.env_hash, key.initial_condition, key.seed


def _policy_hashes(document: Mapping[str, object]) -> dict[str, str]:
    hashes = document.get("policy_hashes")
    return dict(hashes) if isinstance(hashes, Mapping) else {}


def _settings(document: Mapping[str, object]) -> str:
    """A run config's :data:`EPISODE_SETTINGS` as stored (JSON: tuples become lists)."""
    return json.dumps({name: document.get(name) for name in EPISODE_SETTINGS}, sort_keys=True)
