"""Episode workers as Ray actors: the same :class:`EpisodeWorker`, placed by Ray's scheduler.

``address="local"`` starts a private Ray instance for this run (and stops it after);
any other address (``auto``, ``ray://head:10001``) joins an existing cluster, whose nodes
must have twinbench installed. Each actor asks Ray for one CPU.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from evaluate.errors import EvaluateError
from evaluate.run.plan import EpisodeTask
from evaluate.run.scheduler import WorkerLost
from evaluate.run.worker import EpisodeWorker, TaskOutcome, WorkerConfig
from twinbench.errors import TwinbenchError

logger = logging.getLogger(__name__)

LOCAL = "local"
_REACH_TIMEOUT_S = 5.0  # Ray itself retries an unanswered address for about 30 s
_PROJECT_ROOT = Path(__file__).resolve().parents[2]  # holds evaluate/, sim_env/, twinbench/
_LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2  # results are tiny; leave memory to the workers


def check_reachable(address: str, timeout_s: float = _REACH_TIMEOUT_S) -> None:
    """Fail in seconds where nothing listens at ``HOST:PORT`` or ``ray://HOST:PORT``, before
    Ray's own retries; ``local``, ``auto`` and forms without a port are left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or address == LOCAL:
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            pass
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise EvaluateError(
            f"cannot reach Ray at {address!r}: nothing answers at {host}:{port} ({reason}); "
            "start the cluster (`ray start --head`) or use --ray-address local"
        ) from exc


def init_ray(address: str, num_cpus: int) -> bool:
    """Connect to (or, for ``local``, start) Ray; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address == LOCAL:
            path = os.pathsep.join(
                p for p in (str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p
            )
            ray.init(
                num_cpus=num_cpus,
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
            )
        else:
            check_reachable(address)
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EvaluateError(f"cannot start or reach Ray at {address!r}: {exc}") from exc
    return True


class RayPool:
    """``size`` :class:`EpisodeWorker` actors."""

    def __init__(self, config: WorkerConfig, size: int, address: str):
        import ray

        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size = size
        self._started = init_ray(address, num_cpus=max(size, os.cpu_count() or 1))
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(EpisodeWorker)
        self._config = config
        self._actors = [self._actor_class.remote(config) for _ in range(size)]
        self._running: dict[object, int] = {}  # object ref -> slot

    def submit(self, slot: int, task: EpisodeTask) -> None:
        self._running[self._actors[slot].run.remote(task)] = slot

    def poll(self, timeout_s: float) -> list[tuple[int, TaskOutcome | WorkerLost]]:
        import ray

        if not self._running:
            return []
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout_s)
        events: list[tuple[int, TaskOutcome | WorkerLost]] = []
        for ref in ready:
            slot = self._running.pop(ref)
            try:
                events.append((slot, ray.get(ref)))
            except ray.exceptions.RayTaskError as exc:
                # As LocalPool: an error no episode gets past (the disk is full, the store is
                # damaged) stops the run with its one line instead of a retry on a new actor.
                if isinstance(exc.cause, TwinbenchError):
                    raise EvaluateError(str(exc.cause)) from None
                events.append((slot, WorkerLost(f"Ray actor failed: {exc}")))
            except ray.exceptions.RayError as exc:  # the actor died, or its worker crashed
                events.append((slot, WorkerLost(f"Ray actor failed: {exc}")))
        return events

    def replace(self, slot: int) -> None:
        import ray

        ray.kill(self._actors[slot], no_restart=True)
        self._actors[slot] = self._actor_class.remote(self._config)

    def close(self) -> None:
        import ray

        try:
            ray.get([actor.close.remote() for actor in self._actors], timeout=30)
        except ray.exceptions.RayError as exc:
            logger.warning("closing Ray workers: %s", exc)
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        if self._started:
            ray.shutdown()
