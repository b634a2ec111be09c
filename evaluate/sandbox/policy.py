"""``sandboxed:PATH``: a bundle from someone else, run in a confined child process.

The evaluator keeps the simulator and the store; the bundle's code runs in a child started
through :mod:`evaluate.sandbox.confine` (no network, memory/CPU/file-size limits, writes only
to a private temporary directory, reads only the bundle and the Python installation) and
answers over a socket pair with :mod:`evaluate.sandbox.frames`. Each call has a wall-clock
limit; a child that overruns it is killed, and one that dies (its CPU limit, the OOM killer, a
crash) fails the call with a one-line reason. The next episode's ``reset`` starts a fresh
child. A machine that cannot confine the child refuses to run the bundle at all.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluate.bundle import CONFIG_FILE, bundle_directory
from evaluate.errors import EvaluateError
from evaluate.policies.droid import metadata_from_frame
from evaluate.policy import ActionChunk, Observation, Policy, PolicyError, PolicyMetadata
from evaluate.sandbox import confine
from evaluate.sandbox.frames import FrameClosed, FrameTimeout, recv_frame, send_frame

logger = logging.getLogger(__name__)

# What the child may read besides the bundle and the Python installation: shared libraries,
# the loader's cache, CPU, memory and time-zone facts, and its own /proc entry (opened by the
# child, so /proc/self is its own). Not /etc as a whole, /usr's programs and data, any home
# directory, nor another process's /proc entry (its command line may hold a key).
SYSTEM_READ_ROOTS = (
    "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/lib", "/lib64", "/lib32",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
    "/sys/devices/system/cpu", "/dev/urandom", "/dev/zero",
)  # fmt: skip
CHILD_ROOTS = ("/proc/self",)  # resolved by the child, not here
# twinbench's packages a bundle's code may import (BUNDLE.md): the child reads no other sources
CHILD_PACKAGES = ("twinbench", "sim_env", "evaluate")


@dataclass(frozen=True)
class SandboxConfig:
    """The limits an untrusted bundle runs under.

    Attributes:
        memory_bytes: address-space limit of the child (RLIMIT_AS) [bytes].
        cpu_s: CPU time the child may use over its life (RLIMIT_CPU) [s].
        call_timeout_s: wall-clock limit of one reset/infer [s]; keep it under the rollout's
            ``infer_timeout_s`` so the sandbox, not the rollout, stops a hung child.
        start_timeout_s: wall-clock limit for the child to load the bundle [s].
        file_bytes: the largest file the child may write in its work directory [bytes].
    """

    memory_bytes: int = 4 * 2**30
    cpu_s: int = 600
    call_timeout_s: float = 30.0
    start_timeout_s: float = 120.0
    file_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "cpu_s", "call_timeout_s", "start_timeout_s", "file_bytes"):
            if not getattr(self, name) > 0:
                raise EvaluateError(f"must be > 0, got {getattr(self, name)!r}", field=name)


class _Child:
    """One confined child process, its socket and its private work directory."""

    def __init__(self, bundle: Path, config: SandboxConfig):
        self.work_dir = Path(tempfile.mkdtemp(prefix="twinbench-sandbox-"))
        self.log = self.work_dir / "child.log"
        ours, theirs = socket.socketpair()
        spec = {
            "bundle": str(bundle),
            "work_dir": str(self.work_dir),
            "read_roots": read_roots(bundle),
            "memory_bytes": config.memory_bytes,
            "cpu_s": config.cpu_s,
            "file_bytes": config.file_bytes,
            "parent_pid": os.getpid(),
        }
        with theirs, open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, confine.__file__, json.dumps(spec), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.work_dir,
                env=_child_environment(self.work_dir),
                start_new_session=True,
            )
        self.sock = ours
        self._finalizer = weakref.finalize(self, _stop, self.process, ours, self.work_dir)

    def stop(self) -> None:
        self._finalizer()

    def death(self, config: SandboxConfig) -> str:
        """Why the child is gone (waiting briefly for it), with its last line of output."""
        try:
            code = self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code == confine.REFUSED_EXIT:
            what = "could not be confined"
        elif code == -signal.SIGXCPU:
            what = f"used up its CPU-time limit of {config.cpu_s} s"
        elif code == -signal.SIGKILL:
            what = f"was killed (SIGKILL: past its {config.cpu_s} s of CPU, or out of memory)"
        elif code < 0:
            what = f"died of {signal.Signals(-code).name}"
        else:
            what = f"exited with code {code}"
        last = self.last_output()
        return f"{what}; its last output: {last}" if last else what

    def last_output(self) -> str:
        try:
            lines = self.log.read_bytes()[-4096:].decode(errors="replace").splitlines()
        except OSError:
            return ""
        return next((line.strip()[:300] for line in reversed(lines) if line.strip()), "")


def _stop(process: subprocess.Popen, sock: socket.socket, work_dir: Path) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
    sock.close()
    shutil.rmtree(work_dir, ignore_errors=True)


def _child_environment(work_dir: Path) -> dict[str, str]:
    """A clean environment: no secrets of the evaluator's, home and temp in the work dir."""
    env = {"HOME": str(work_dir), "TMPDIR": str(work_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def read_roots(bundle: Path) -> list[str]:
    """The directories the child may read: the bundle, this Python (its prefixes and
    site-packages), the twinbench packages a bundle may import and the system's libraries."""
    roots = {str(bundle), sys.prefix, sys.base_prefix, sys.exec_prefix, *SYSTEM_READ_ROOTS}
    for name in CHILD_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots.update(spec.submodule_search_locations)
    return sorted(root if root in CHILD_ROOTS else os.path.realpath(root) for root in roots)


class SandboxedPolicy(Policy):
    """A bundle's policy in a confined child; the same answers as ``bundle:PATH`` in-process."""

    def __init__(self, bundle: str | Path, config: SandboxConfig | None = None):
        """Start the child and load the bundle in it.

        Raises:
            EvaluateError: not a bundle, the machine cannot confine the child (it never runs
                unconfined), or the bundle failed to load (the reason, in one line).
        """
        self.bundle = bundle_directory(bundle).resolve()
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._metadata = self._start()

    @property
    def metadata(self) -> PolicyMetadata:
        return self._metadata

    def reset(self) -> None:
        if self._child is None:  # the last one was stopped: a fresh child for a new episode
            self._start()
        self._call({"op": "reset"})

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        images = {key: obs.images[key] for key in self._metadata.image_keys if key in obs.images}
        reply = self._call(
            {
                "op": "infer",
                "joint_position": obs.joint_position,
                "gripper_position": obs.gripper_position,
                "images": images,
                "instruction": instruction,
            }
        )
        if "actions" not in reply or "action_space" not in reply:
            raise PolicyError(f"sandboxed {self._name} sent a reply without actions")
        return ActionChunk(reply["actions"], reply["action_space"])

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            send_frame(child.sock, {"op": "close"})
            recv_frame(child.sock, timeout_s=min(5.0, self.config.call_timeout_s))
        except (OSError, EOFError, ValueError):
            pass  # stopped below either way
        child.stop()

    @property
    def _name(self) -> str:
        return f"bundle {self.bundle.name!r}"

    def _start(self) -> PolicyMetadata:
        child = _Child(self.bundle, self.config)
        try:
            hello = recv_frame(child.sock, self.config.start_timeout_s)
        except FrameTimeout:
            child.stop()
            raise EvaluateError(
                f"sandboxed {self._name} did not load within {self.config.start_timeout_s:g} s",
                file=self.bundle,
            ) from None
        except (FrameClosed, OSError, ValueError):
            reason = child.death(self.config)
            child.stop()
            if child.process.returncode == confine.REFUSED_EXIT:
                raise EvaluateError(
                    f"refusing to run {self._name} unsandboxed: {reason}", file=self.bundle
                ) from None
            raise EvaluateError(f"sandboxed {self._name} {reason}", file=self.bundle) from None
        if not isinstance(hello, Mapping) or "metadata" not in hello:
            child.stop()
            error = hello if isinstance(hello, Mapping) else {"error": repr(hello)[:300]}
            raise EvaluateError(
                str(error.get("error")),
                file=error.get("file") or self.bundle / CONFIG_FILE,
                field=error.get("field"),
            )
        try:
            frame = {**hello["metadata"], "sandbox": hello.get("sandbox")}
            metadata = metadata_from_frame(frame, PolicyMetadata(self.bundle.name), {})
        except PolicyError as exc:
            child.stop()
            raise EvaluateError(str(exc), file=self.bundle / CONFIG_FILE) from None
        logger.info("%s runs sandboxed: %s", self._name, ", ".join(hello.get("sandbox") or []))
        self._child = child
        return metadata

    def _call(self, request: dict[str, Any]) -> Mapping[str, Any]:
        """Send one request and wait (bounded) for its reply; any failure is a PolicyError."""
        op, limit = request["op"], self.config.call_timeout_s
        if not self._lock.acquire(timeout=limit):
            raise PolicyError(f"sandboxed {self._name} is still busy with an earlier call")
        try:
            child = self._child
            if child is None:
                raise PolicyError(f"sandboxed {self._name} was stopped; reset starts it again")
            try:
                send_frame(child.sock, request)
                reply = recv_frame(child.sock, limit)
            except FrameTimeout:
                self._discard(child)
                raise PolicyError(
                    f"sandboxed {self._name} did not answer {op} within {limit:g} s "
                    "(its wall-clock limit): stopped"
                ) from None
            except (FrameClosed, OSError, ValueError) as exc:
                reason = (
                    child.death(self.config) if isinstance(exc, FrameClosed | OSError) else str(exc)
                )
                self._discard(child)
                raise PolicyError(f"sandboxed {self._name} {reason} during {op}") from None
        finally:
            self._lock.release()
        if not isinstance(reply, Mapping):
            raise PolicyError(f"sandboxed {self._name} sent a {type(reply).__name__}, not a map")
        if "error" in reply:
            raise PolicyError(f"sandboxed {self._name}: {reply['error']}")
        return reply

    def _discard(self, child: _Child) -> None:
        child.stop()
        if self._child is child:
            self._child = None
